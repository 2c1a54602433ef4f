/**
 * Delivery-time rules the API itself does not apply: the app's own customer ids (issue 15) and usage
 * sent as charges. Both live in one transport wrapper, so the outbox's queueing, retry and dead-letter
 * logic stays the only place that decides what happens to a record; this module only turns a record
 * into the request the API needs, in the background, never on the request path.
 *
 * - A record with `externalCustomerId` (the app's own id, e.g. `"alice"`) is sent with the Drip
 *   customer id it maps to. Unknown ids are created on first sight (`getOrCreateCustomer`: one create
 *   per id, single-flight, cached in a bounded LRU) unless `customers.provision` is `false`; then they
 *   must exist, and a missing one comes back as a 404 `CUSTOMER_NOT_FOUND` answer, which the outbox
 *   keeps as a dead letter with the reason.
 * - Usage whose meter is listed in `charge` goes to `POST /usage` (record and charge) instead of
 *   `POST /usage/internal` (record only). Same body and idempotency key, so retries never charge twice.
 */

import { isRecord } from '../errors';
import { idProblem } from '../validation';
import { toDeliveryResponse } from './client-transport';
import type { ClientLike, DeliveryResponse, DeliveryTransport } from './types';

/**
 * How records that carry the app's own customer id are matched to Drip customers.
 *
 * @example
 * ```ts
 * createOutbox({ client, customers: { provision: false } }); // unknown ids become dead letters
 * ```
 */
export interface CustomerProvisioningOptions {
  /**
   * Create a Drip customer the first time an unknown `externalCustomerId` is delivered (default `true`).
   * With `false`, customers must already exist; records for unknown ones are kept as dead letters
   * (`CUSTOMER_NOT_FOUND`) instead of being sent.
   */
  provision?: boolean | undefined;
  /** Most external ids whose Drip id is remembered (default 10 000; least recently used forgotten first). */
  cacheSize?: number | undefined;
}

/**
 * Which meters' usage is charged (`POST /usage`, the balance moves) instead of recorded
 * (`POST /usage/internal`, the default): a list of meter names or a predicate.
 *
 * @example
 * ```ts
 * const charge: ChargeOption = ['llm_tokens'];
 * ```
 */
export type ChargeOption = readonly string[] | ((meter: string) => boolean);

/**
 * Outcome of resolving one external id: a Drip id, or the API's answer that stands in for it (a 404
 * `CUSTOMER_NOT_FOUND` under `provision: false`, or the failure of the lookup).
 *
 * @example
 * ```ts
 * const r: CustomerResolution = { id: 'cus_1' };
 * ```
 */
export type CustomerResolution = { id: string } | { refused: DeliveryResponse };
type Resolution = CustomerResolution;

/**
 * A delivery transport with the customer and charge rules, and the one way to resolve an external id
 * (the gate asks it too, so gate and delivery share one cache and one lookup per id).
 *
 * @example
 * ```ts
 * const r = await transport.resolveCustomer('alice', 2_000); // { id: 'cus_…' }
 * ```
 */
export interface RulesTransport extends DeliveryTransport {
  /** The Drip id of the app's own id, created first unless `customers.provision` is `false`. */
  resolveCustomer(externalId: string, timeoutMs: number): Promise<CustomerResolution>;
}

/** How long a "does not exist" answer is remembered under `provision: false` (a storm costs one lookup). */
const MISSING_TTL_MS = 30_000;

function isTransientStatus(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** What a delivery wrapper reports to (see `report.ts`). */
export interface DeliveryObserver {
  /** Every answer of a delivery request, with the number of records it carried. */
  observe(res: DeliveryResponse, records: number): void;
}

/**
 * Maps external ids to Drip customer ids: single-flight per id, cached in a bounded LRU.
 */
class CustomerDirectory {
  readonly #client: ClientLike | undefined;
  readonly #transport: DeliveryTransport;
  readonly #provision: boolean;
  readonly #max: number;
  readonly #now: () => number;
  readonly #ids = new Map<string, string>();
  readonly #missing = new Map<string, number>();
  readonly #pending = new Map<string, Promise<Resolution>>();

  constructor(
    client: ClientLike | undefined,
    transport: DeliveryTransport,
    options: CustomerProvisioningOptions,
    now: () => number,
  ) {
    this.#client = client;
    this.#transport = transport;
    this.#provision = options.provision !== false;
    this.#max = Math.max(1, options.cacheSize ?? 10_000);
    this.#now = now;
  }

  resolve(externalId: string, timeoutMs: number): Promise<Resolution> {
    const hit = this.#ids.get(externalId);
    if (hit !== undefined) {
      // LRU: a hit moves to the newest end.
      this.#ids.delete(externalId);
      this.#ids.set(externalId, hit);
      return Promise.resolve({ id: hit });
    }
    const missingAt = this.#missing.get(externalId);
    if (missingAt !== undefined && this.#now() - missingAt < MISSING_TTL_MS) {
      return Promise.resolve({ refused: notFound(externalId) });
    }
    let p = this.#pending.get(externalId);
    if (!p) {
      p = this.#lookup(externalId, timeoutMs).then((r) => {
        this.#pending.delete(externalId);
        if ('id' in r) {
          this.#missing.delete(externalId);
          this.#ids.set(externalId, r.id);
          if (this.#ids.size > this.#max) {
            const oldest = this.#ids.keys().next().value;
            if (oldest !== undefined) this.#ids.delete(oldest);
          }
        } else if (r.refused.code === 'CUSTOMER_NOT_FOUND') {
          if (this.#missing.size >= this.#max) this.#missing.clear();
          this.#missing.set(externalId, this.#now());
        }
        return r;
      });
      this.#pending.set(externalId, p);
    }
    return p;
  }

  async #lookup(externalId: string, timeoutMs: number): Promise<Resolution> {
    const client = this.#client;
    const call = { timeoutMs, deadlineMs: timeoutMs + 1_000, maxAttempts: 1 };
    try {
      if (!this.#provision) {
        if (!client) {
          return {
            refused: {
              status: 404,
              code: 'CUSTOMER_NOT_FOUND',
              body: { error: 'customers.provision is false and no client is available to look it up' },
              message: `customer "${externalId}" could not be looked up (no client)`,
            },
          };
        }
        const q = `/customers?externalCustomerId=${encodeURIComponent(externalId)}&limit=1`;
        const r = await client.request<unknown>('GET', q, call);
        const data = isRecord(r.data) && Array.isArray(r.data.data) ? r.data.data : [];
        const hit = data.find((c: unknown) => isRecord(c) && c.externalCustomerId === externalId);
        if (isRecord(hit) && typeof hit.id === 'string') return { id: hit.id };
        return { refused: notFound(externalId) };
      }
      const getOrCreate = (client as { getOrCreateCustomer?: unknown } | undefined)?.getOrCreateCustomer;
      if (typeof getOrCreate === 'function') {
        const c: unknown = await getOrCreate.call(client, externalId, undefined, call);
        if (isRecord(c) && typeof c.id === 'string') return { id: c.id };
        return { refused: { status: 502, code: 'PARSE_ERROR', body: c, message: 'customer without id' } };
      }
      // A bare transport: create, and take the existing id from a 409 (spec §2.7 `existingCustomerId`).
      const r = await this.#transport.post('/customers', { externalCustomerId: externalId }, { timeoutMs });
      const body = isRecord(r.body) ? r.body : {};
      if (r.status >= 200 && r.status < 300 && typeof body.id === 'string') return { id: body.id };
      if (r.status === 409 && typeof body.existingCustomerId === 'string')
        return { id: body.existingCustomerId };
      return { refused: r };
    } catch (err) {
      return { refused: toDeliveryResponse(err) };
    }
  }
}

function notFound(externalId: string): DeliveryResponse {
  const message = `Customer "${externalId}" does not exist and customers.provision is false`;
  return {
    status: 404,
    code: 'CUSTOMER_NOT_FOUND',
    body: { error: message, code: 'CUSTOMER_NOT_FOUND', externalCustomerId: externalId },
    message,
  };
}

type Body = Record<string, unknown>;

/**
 * The app's own customer id of a value shaped `{ externalCustomerId }` (a resolver's answer, or a wire
 * body), when it has a valid one (1-255 characters).
 *
 * @example
 * ```ts
 * externalIdOf({ externalCustomerId: 'alice' }); // 'alice'
 * externalIdOf('cus_1'); // undefined
 * ```
 */
export function externalIdOf(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  const id = value.externalCustomerId;
  return typeof id === 'string' && id.length >= 1 && id.length <= 255 ? id : undefined;
}

/** The body with the Drip id in place of the external one (the wire takes exactly one of them). */
function withCustomerId(body: Body, id: string): Body {
  const { externalCustomerId: _external, ...rest } = body;
  return { ...rest, customerId: id };
}

/**
 * Options of {@link withDeliveryRules}.
 *
 * @example
 * ```ts
 * const rules: DeliveryRules = { customers: { provision: true }, charge: ['llm_tokens'] };
 * ```
 */
export interface DeliveryRules {
  customers?: CustomerProvisioningOptions | undefined;
  charge?: ChargeOption | undefined;
  observer?: DeliveryObserver | undefined;
  now?: (() => number) | undefined;
}

/**
 * Wraps a delivery transport with the customer and charge rules (see the module comment). A record
 * without `externalCustomerId`, on a meter that is not charged, passes through untouched.
 *
 * @example
 * ```ts
 * const transport = withDeliveryRules(createClientTransport(client), client, { charge: ['llm_tokens'] });
 * ```
 */
export function withDeliveryRules(
  inner: DeliveryTransport,
  client: ClientLike | undefined,
  rules: DeliveryRules,
): RulesTransport {
  const directory = new CustomerDirectory(client, inner, rules.customers ?? {}, rules.now ?? Date.now);
  const charge = rules.charge;
  const charged: (meter: unknown) => boolean =
    charge === undefined
      ? () => false
      : typeof charge === 'function'
        ? (m) => typeof m === 'string' && charge(m)
        : (m) => typeof m === 'string' && charge.includes(m);
  const observe = (res: DeliveryResponse, n: number): DeliveryResponse => {
    try {
      rules.observer?.observe(res, n);
    } catch {
      // reporting never breaks delivery
    }
    return res;
  };

  /** The wire body and route of one record, or the answer that stands in for sending it. */
  const prepare = async (
    route: string,
    body: unknown,
    timeoutMs: number,
  ): Promise<{ route: string; body: unknown } | { refused: DeliveryResponse }> => {
    let wire = body;
    const external = externalIdOf(body);
    if (external !== undefined) {
      const r = await directory.resolve(external, timeoutMs);
      if ('refused' in r) return r;
      wire = withCustomerId(body as Body, r.id);
    }
    if (route === '/usage/internal' && isRecord(wire) && charged(wire.usageType))
      return { route: '/usage', body: wire };
    return { route, body: wire };
  };

  const single = async (route: string, body: unknown, timeoutMs: number): Promise<DeliveryResponse> => {
    const p = await prepare(route, body, timeoutMs);
    if ('refused' in p) return observe(p.refused, 1);
    return observe(await inner.post(p.route, p.body, { timeoutMs }), 1);
  };

  const bulk = async (route: string, items: unknown[], timeoutMs: number): Promise<DeliveryResponse> => {
    const key = route === '/usage/internal' ? 'events' : 'runs';
    const prepared = await Promise.all(items.map((item) => prepare(route, item, timeoutMs)));
    const results: unknown[] = new Array(items.length);
    const rest: unknown[] = [];
    const restIndex: number[] = [];
    const one: Array<[number, string, unknown]> = [];
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i] as (typeof prepared)[number];
      if ('refused' in p) {
        // No answer yet (the API could not be asked): the whole request is tried again later.
        if (isTransientStatus(p.refused.status)) return observe(p.refused, items.length);
        results[i] = { index: i, status: p.refused.status, error: refusalBody(p.refused) };
      } else if (p.route !== route) {
        one.push([i, p.route, p.body]);
      } else {
        rest.push(p.body);
        restIndex.push(i);
      }
    }
    // Charges have no bulk route: each is its own request, a few at a time.
    for (let s = 0; s < one.length; s += 4) {
      await Promise.all(
        one.slice(s, s + 4).map(async ([i, path, b]) => {
          const res = await inner.post(path, b, { timeoutMs });
          observe(res, 1);
          const ok = res.status >= 200 && res.status < 300;
          results[i] = ok
            ? { index: i, status: res.status, ...(isRecord(res.body) ? res.body : {}) }
            : { index: i, status: res.status, error: refusalBody(res) };
        }),
      );
    }
    if (rest.length > 0) {
      const res = await inner.post(`${route}/bulk`, { [key]: rest }, { timeoutMs });
      observe(res, rest.length);
      // Envelope-level answers (retry, halve, per-item fallback) are the outbox's to handle.
      if (res.status < 200 || res.status >= 300) return res;
      if (rest.length === items.length) return res;
      const got = isRecord(res.body) && Array.isArray(res.body.results) ? res.body.results : [];
      restIndex.forEach((orig, j) => {
        const item: unknown = got[j];
        results[orig] = isRecord(item) ? { ...item, index: orig } : undefined;
      });
    }
    return { status: 200, body: { results } };
  };

  return {
    post(path, body, options) {
      if (path === '/usage/internal' || path === '/runs/record') return single(path, body, options.timeoutMs);
      if ((path === '/usage/internal/bulk' || path === '/runs/record/bulk') && isRecord(body)) {
        const route = path.slice(0, -'/bulk'.length);
        const items = route === '/usage/internal' ? body.events : body.runs;
        if (Array.isArray(items)) {
          const plain = items.every(
            (it) =>
              externalIdOf(it) === undefined &&
              !(route === '/usage/internal' && isRecord(it) && charged(it.usageType)),
          );
          if (!plain) return bulk(route, items, options.timeoutMs);
          return inner.post(path, body, options).then((r) => observe(r, items.length));
        }
      }
      return inner.post(path, body, options);
    },
    health: (options) => inner.health(options),
    resolveCustomer: (externalId, timeoutMs) => directory.resolve(externalId, timeoutMs),
  };
}

/** The error object of a refused item, in the server's envelope shape. */
function refusalBody(res: DeliveryResponse): Body {
  const b = isRecord(res.body) ? res.body : {};
  return {
    ...b,
    code: res.code ?? (typeof b.code === 'string' ? b.code : 'REJECTED'),
    error: typeof b.error === 'string' ? b.error : (res.message ?? `HTTP ${res.status}`),
  };
}

/**
 * Why an outbox input does not name its customer exactly once (a Drip `customerId` or the app's own
 * `externalCustomerId`, each an id by `validation.ts`'s rule), as `field problem`; `undefined` when it
 * does. Runs for every record: no allocation when there is no problem.
 *
 * @example
 * ```ts
 * customerProblem({ externalCustomerId: 'alice' }); // undefined
 * customerProblem({ customerId: 'cus_1', externalCustomerId: 'alice' }); // 'customerId must not be given ...'
 * ```
 */
export function customerProblem(input: {
  customerId?: unknown;
  externalCustomerId?: unknown;
}): string | undefined {
  if (input.externalCustomerId === undefined) {
    const problem = idProblem(input.customerId);
    return problem === undefined ? undefined : `customerId ${problem}`;
  }
  if (input.customerId) return 'customerId must not be given together with externalCustomerId';
  const problem = idProblem(input.externalCustomerId);
  return problem === undefined ? undefined : `externalCustomerId ${problem}`;
}
