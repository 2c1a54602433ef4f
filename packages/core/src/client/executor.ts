/**
 * The client's executor: builds and sends every request of the {@link Drip} client. One normalisation of
 * the path ({@link normalizeApiPath}) feeds both the `pk_` guard and the URL, so the guard judges what is
 * sent; table-driven methods ({@link Endpoint}) are checked, sent and shape-checked by one generic
 * {@link RequestExecutor.callEndpoint}.
 */

import { DripPermissionError, type DripErrorDetail, isDripError } from '../errors';
import { type KeyType, isAllowed, normalizeApiPath } from '../scopes';
import {
  type RequestOptions,
  type RequestResult,
  type RetryPolicy,
  type Transport,
  pick,
} from '../transport';
import type { CallOptions, ListResult, ResponseMeta } from '../types';
import { assertValid, check } from '../validation';
import { type Fields, PAGE_OF, attachMeta, getResponseMeta, metaOf, shaped } from './response';
import { type Endpoint, ID } from './rules';

/** Per-call option fields that were never event data (dropped from run events, as before `headers`). */
export const RETRY_OPTION_KEYS = ['signal', 'timeoutMs', 'deadlineMs', 'maxAttempts'] as const;
/** Every per-call option field of a params object: never sent as a body field. */
export const CALL_OPTION_KEYS = [...RETRY_OPTION_KEYS, 'headers'] as const;

/** A path parameter, URL-encoded as one segment. */
const encodeSegment = (value: unknown) => encodeURIComponent(value as string);

/** The per-call options (`signal`, `timeoutMs`, `deadlineMs`, `maxAttempts`, `headers`) of a params object. */
export function callOptions(o: CallOptions | undefined): RequestOptions {
  return pick(o, CALL_OPTION_KEYS) as RequestOptions;
}

/**
 * Copies every field except the per-call options `dropped` (so schema-flexible extra fields pass
 * through) and the field `drop`.
 */
export function wireFields(
  o: object,
  drop?: string,
  dropped: readonly string[] = CALL_OPTION_KEYS,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && k !== drop && !dropped.includes(k)) out[k] = v;
  }
  return out;
}

/** Sends the client's requests through its single transport. Internal to the client. */
export class RequestExecutor {
  readonly #transport: Transport;
  /** The retry/time options the client was constructed with (not the defaults). */
  readonly #configuredPolicy: Partial<RetryPolicy>;
  readonly #keyType: KeyType;
  readonly #baseUrl: string;

  constructor(
    transport: Transport,
    configuredPolicy: Partial<RetryPolicy>,
    keyType: KeyType,
    baseUrl: string,
  ) {
    this.#transport = transport;
    this.#configuredPolicy = configuredPolicy;
    this.#keyType = keyType;
    this.#baseUrl = baseUrl;
  }

  get transport(): Transport {
    return this.#transport;
  }

  /**
   * Refuses a secret-only route with a public key before anything is sent (spec §6). `path` must be
   * normalised already ({@link normalizeApiPath}), so the verdict is about the path that is sent.
   */
  guard(path: string): void {
    if (!isAllowed(this.#keyType, path)) {
      const bare = path.split('?')[0] as string;
      throw new DripPermissionError(
        `${bare} needs a secret (sk_) key, not a public (pk_) one`,
        'PUBLIC_KEY_NOT_ALLOWED',
      );
    }
  }

  /** Normalises the path once, guards it, and sends exactly that path. */
  async send<T>(method: string, path: string, options: RequestOptions): Promise<RequestResult<T>> {
    const sent = normalizeApiPath(path, this.#baseUrl);
    this.guard(sent);
    return this.#transport.request<T>(method, sent, options);
  }

  /** Sends, then checks the response against `fields` (see {@link shaped}). */
  async sendChecked<T>(method: string, path: string, options: RequestOptions, fields: Fields): Promise<T> {
    const res = await this.send<unknown>(method, path, options);
    return shaped<T>(metaOf(res), res.data, fields, `${method} ${path}`);
  }

  /**
   * The generic executor of the table-driven methods: checks the id arguments and the params (after any
   * `problems` the method found itself), sends the route with the params' call options, then checks the
   * response (each item of a list page).
   */
  async callEndpoint<T>(
    endpoint: Endpoint,
    ids: readonly unknown[],
    params?: object,
    problems: DripErrorDetail[] = [],
  ): Promise<T> {
    const [method, template] = endpoint.route.split(' ') as [string, string];
    let next = 0;
    const path = template.replace(/:(\w+)/g, (_, name: string) => {
      const value = ids[next++];
      const message = ID(value);
      if (message) problems.push({ path: name, message });
      return encodeSegment(value);
    });
    if (endpoint.rules) check(problems, params, endpoint.rules);
    assertValid(problems);
    const fields =
      endpoint.send || endpoint.rules
        ? pick(params, endpoint.send ?? Object.keys(endpoint.rules ?? {}))
        : undefined;
    const options: RequestOptions = { ...callOptions(params), retrySafe: endpoint.safe };
    if (method === 'GET') options.query = fields;
    else options.body = fields;
    if (!endpoint.shape) {
      return attachMeta({ success: true }, metaOf(await this.send(method, path, options))) as T;
    }
    if (!endpoint.list) return this.sendChecked<T>(method, path, options, endpoint.shape);
    const page = await this.sendChecked<Record<string, unknown>>(method, path, options, PAGE_OF);
    const meta = getResponseMeta(page) as ResponseMeta;
    const data = (page.data as unknown[]).map((item, n) =>
      shaped(meta, item, endpoint.shape as Fields, `${method} ${path}: data.${n}`),
    );
    const out: ListResult<unknown> = {
      data,
      count: typeof page.count === 'number' ? page.count : data.length,
    };
    if (typeof page.hasMore === 'boolean') out.hasMore = page.hasMore;
    return attachMeta(out as T, meta);
  }

  /** A `DELETE`: a 404 on a retry attempt means an earlier attempt already deleted it. */
  async deleteIdempotently(
    route: string,
    ids: readonly string[],
    options?: CallOptions,
  ): Promise<{ success: true }> {
    try {
      return await this.callEndpoint({ route }, ids, options);
    } catch (err) {
      if (isDripError(err) && err.statusCode === 404 && err.attempts > 1) return { success: true };
      throw err;
    }
  }

  /** POST /usage waits for settlement on hosted Drip: longer defaults unless the caller or client set them. */
  usagePolicy(o: RequestOptions): RequestOptions {
    return {
      ...o,
      timeoutMs: o.timeoutMs ?? this.#configuredPolicy.timeoutMs ?? 30_000,
      deadlineMs: o.deadlineMs ?? this.#configuredPolicy.deadlineMs ?? 90_000,
    };
  }
}
