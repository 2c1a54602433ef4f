/**
 * A `fetch` for the client over Node's own `http`/`https` modules with keep-alive agents, the default on
 * Node (as Stripe's and Sentry's Node SDKs do). Node's global `fetch` (undici, web streams) costs several
 * times more CPU per call; in an app that delivers a batch of usage every second that cost lands on the
 * request path's CPU. It implements what the client's transport uses: method, headers, a string body,
 * an `AbortSignal`, and a response with `status`, `ok`, `headers` and `text()` (the body is read in full
 * before the promise resolves). Redirects are not followed (the Drip API never redirects) and no
 * compression is asked for.
 *
 * This file imports no `node:` module: the modules are passed in, found through
 * `process.getBuiltinModule` by the default entry or imported statically by `@drip/core/node`.
 */

import type { FetchLike } from './transport';

/** The parts of `node:http` / `node:https` used here. */
export interface NodeHttpModule {
  request(
    url: URL,
    options: { method: string; headers: Record<string, string>; agent: unknown },
    callback: (res: NodeIncoming) => void,
  ): NodeClientRequest;
  Agent: new (options: { keepAlive: boolean; maxSockets: number }) => unknown;
}

interface NodeIncoming {
  statusCode?: number;
  statusMessage?: string;
  rawHeaders: string[];
  setEncoding(encoding: string): void;
  on(event: 'data', listener: (chunk: string) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

interface NodeClientRequest {
  on(event: 'error', listener: (err: Error) => void): unknown;
  destroy(err?: Error): unknown;
  end(body?: string): unknown;
}

/**
 * Options of {@link createNodeFetch}.
 *
 * @example
 * ```ts
 * const options: NodeFetchOptions = { maxSockets: 4 };
 * ```
 */
export interface NodeFetchOptions {
  /** Connections kept per origin (default 8). */
  maxSockets?: number | undefined;
}

/**
 * Builds the Node transport from the given `http` and `https` modules. Bodies other than strings (the
 * client only sends JSON strings) are handed to the global `fetch`.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import https from 'node:https';
 * const client = new Drip({ fetch: nodeFetchFrom(http, https) });
 * ```
 */
export function nodeFetchFrom(
  http: NodeHttpModule,
  https: NodeHttpModule,
  options: NodeFetchOptions = {},
): FetchLike {
  const maxSockets = options.maxSockets ?? 8;
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets }),
    https: new https.Agent({ keepAlive: true, maxSockets }),
  };
  return (input, init) => {
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string') return globalThis.fetch(input, init);
    let url: URL;
    try {
      url = new URL(input);
    } catch (err) {
      return Promise.reject(err);
    }
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return globalThis.fetch(input, init);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const headers = plainHeaders(init.headers);
    if (typeof body === 'string') headers['content-length'] = String(byteLength(body));
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      };
      const onAbort = () => {
        const err = abortError(signal as AbortSignal);
        req.destroy(err);
        fail(err);
      };
      const req = (secure ? https : http).request(
        url,
        { method: init.method ?? 'GET', headers, agent: secure ? agents.https : agents.http },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            text += chunk;
          });
          // `close` without `end`: the connection went away mid-response.
          res.on('close', () => fail(new Error('the connection closed before the response ended')));
          res.on('error', fail);
          res.on('end', () => {
            if (settled) return;
            settled = true;
            signal?.removeEventListener('abort', onAbort);
            resolve(nodeResponse(res, text, input));
          });
        },
      );
      req.on('error', fail);
      signal?.addEventListener('abort', onAbort, { once: true });
      req.end(typeof body === 'string' ? body : undefined);
    });
  };
}

/** Lower-cased header names; plain objects (what the client's transport passes) without building `Headers`. */
function plainHeaders(init: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (init === undefined || init === null) return out;
  // `Headers` (of any realm) and arrays of pairs; both have `forEach`, plain objects do not.
  if (typeof (init as Headers).forEach === 'function') {
    new Headers(init).forEach((value, name) => {
      out[name] = value;
    });
  } else {
    for (const [name, value] of Object.entries(init))
      if (value !== undefined) out[name.toLowerCase()] = value;
  }
  return out;
}

/** UTF-8 length: Node's native `Buffer.byteLength` (this transport only runs on Node), else encoded here. */
function byteLength(s: string): number {
  const NodeBuffer = (globalThis as { Buffer?: { byteLength(s: string, encoding: 'utf8'): number } }).Buffer;
  return NodeBuffer ? NodeBuffer.byteLength(s, 'utf8') : new TextEncoder().encode(s).length;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('This operation was aborted');
  err.name = 'AbortError';
  return err;
}

function nodeResponse(res: NodeIncoming, text: string, url: string): Response {
  const status = res.statusCode ?? 0;
  const raw = res.rawHeaders;
  let headers: Headers | undefined;
  const response = {
    status,
    statusText: res.statusMessage ?? '',
    ok: status >= 200 && status < 300,
    url,
    redirected: false,
    type: 'basic',
    bodyUsed: false,
    // Built on first use: the client reads one or two headers per response.
    get headers(): Headers {
      if (headers === undefined) {
        headers = new Headers();
        for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
      }
      return headers;
    },
    text: () => Promise.resolve(text),
    json: () => Promise.resolve().then(() => JSON.parse(text) as unknown),
  };
  return response as unknown as Response;
}

interface MaybeNodeProcess {
  process?: {
    versions?: { node?: string; bun?: string; deno?: string };
    getBuiltinModule?: (id: string) => unknown;
  };
  navigator?: { userAgent?: string };
}

let resolved: FetchLike | null | undefined;

/**
 * The client's default `fetch`: Node's `http`/`https` on Node (found through `process.getBuiltinModule`,
 * Node 20.16 and later, or registered by `@drip/core/node`), the global `fetch` everywhere else (edge
 * runtimes, Workers, Bun, Deno, browsers). Resolved once.
 *
 * @example
 * ```ts
 * const fetchImpl = defaultFetch();
 * ```
 */
export function defaultFetch(): FetchLike {
  if (resolved === undefined) resolved = findNodeFetch();
  return resolved ?? (globalThis.fetch as FetchLike);
}

const REGISTERED = /* @__PURE__ */ Symbol.for('drip.nodeFetch');

/**
 * Registers the Node transport for clients created without `fetch` (called by `@drip/core/node`, which
 * imports the modules statically, so Node versions without `process.getBuiltinModule` get it too).
 *
 * @example
 * ```ts
 * registerNodeFetch(nodeFetchFrom(http, https));
 * ```
 */
export function registerNodeFetch(fetchImpl: FetchLike): void {
  const g = globalThis as unknown as Record<symbol, FetchLike | undefined>;
  if (g[REGISTERED] === undefined) {
    Object.defineProperty(globalThis, REGISTERED, { value: fetchImpl, configurable: true, writable: true });
  }
  if (!resolved) resolved = g[REGISTERED] ?? fetchImpl;
}

function findNodeFetch(): FetchLike | null {
  const g = globalThis as unknown as MaybeNodeProcess & Record<symbol, FetchLike | undefined>;
  const registered = g[REGISTERED];
  if (registered) return registered;
  const versions = g.process?.versions;
  // Node proper only: Bun, Deno and Workers (with nodejs_compat) answer to `versions.node` too.
  if (!versions?.node || versions.bun || versions.deno) return null;
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return null;
  try {
    const get = g.process?.getBuiltinModule;
    if (typeof get !== 'function') return null;
    const http = get('node:http') as NodeHttpModule | undefined;
    const https = get('node:https') as NodeHttpModule | undefined;
    if (!http?.request || !https?.request) return null;
    const made = nodeFetchFrom(http, https);
    registerNodeFetch(made);
    return (g[REGISTERED] as FetchLike | undefined) ?? made;
  } catch {
    return null;
  }
}
