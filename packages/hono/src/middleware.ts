import {
  createRequestMeter,
  type BeginResult,
  type DripRequestContext,
  type RequestHandle,
  type RequestMeter,
  type RequestMeterOptions,
  type NodeResponseLike,
  type RequestView,
  isPromiseLike,
  meterResponse,
  nodeHeaderReader,
  onNodeResponseEnd,
  webHeaderReader,
} from '@drip/core';
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { VERSION } from './version';

declare module 'hono' {
  interface ContextVariableMap {
    /**
     * The Drip request context, set by `drip()` when it metered this request (absent when the request
     * was skipped, e.g. no customer under the `skip` policy).
     */
    drip: DripRequestContext | undefined;
  }
}

/**
 * Options of {@link drip}: the request-metering pipeline's options (customer resolver and unidentified
 * policy, meter and quantity, per-route table, outcome rules, runs, gate, metadata redaction, idempotency
 * header, `onError`) plus the client or its configuration (`client`, or `apiKey`/`baseUrl`; by default
 * `DRIP_API_KEY`, read from `process.env` where it exists). User functions receive the Hono `Context`.
 *
 * @example
 * ```ts
 * const options: DripHonoOptions = {
 *   customer: (c) => c.req.header('x-customer-id'),
 *   routes: { 'POST /api/agent': { meter: 'agent_calls' } },
 * };
 * app.use('/api/*', drip(options));
 * ```
 */
export type DripHonoOptions = Omit<RequestMeterOptions<Context>, 'sdk'>;

/**
 * The Hono middleware returned by {@link drip}, with the request meter behind it (for `flush()` at
 * shutdown, `stats()` in health checks).
 *
 * @example
 * ```ts
 * const metering = drip();
 * app.use('/api/*', metering);
 * app.get('/health', (c) => c.json(metering.meter.stats()));
 * ```
 */
export type DripHonoMiddleware = MiddlewareHandler & {
  /** The request meter (outbox, client, stats) this middleware feeds. */
  readonly meter: RequestMeter<Context>;
};

type WaitUntil = (promise: Promise<unknown>) => void;

/**
 * Meters every request per customer in Drip and wraps each handler in a run, on any runtime Hono runs
 * on (Node, Bun, Deno, Cloudflare Workers). Register it after your authentication middleware so the
 * default customer chain finds `c.get('user')`; handlers reach the run through `c.get('drip')`.
 * On Workers, delivery is handed to `c.executionCtx.waitUntil`; elsewhere the outbox delivers in the
 * background of the process.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { drip } from '@drip/hono';
 *
 * const app = new Hono();
 * app.use('/api/*', auth); // c.set('user', { customerId })
 * app.use('/api/*', drip());
 * app.get('/api/items/:id', (c) => {
 *   c.get('drip')?.usage('lookups', 1);
 *   return c.json({ id: c.req.param('id') });
 * });
 * ```
 */
export function drip(options: DripHonoOptions = {}): DripHonoMiddleware {
  const meter = createRequestMeter<Context>({
    ...options,
    sdk: { name: '@drip/hono', version: VERSION },
  } as RequestMeterOptions<Context>);

  // No `async` functions on the request path: each would add a promise and its ticks per request. The
  // request goes on through one `.then` (two when the pipeline's `begin` is asynchronous, e.g. a gate).
  const middleware = createMiddleware((c, next) => {
    // Registered twice on overlapping paths: the first one meters the request.
    if (c.get('drip') !== undefined) return next();
    let begun: BeginResult | PromiseLike<BeginResult>;
    try {
      begun = meter.begin(requestView(c));
    } catch {
      // The pipeline never throws by contract; if it ever does, the request goes on unmetered.
      return next();
    }
    if (!isPromiseLike(begun)) return proceed(c, next, begun);
    return Promise.resolve(begun).then(
      (result) => proceed(c, next, result),
      () => next(),
    );
  });
  return Object.assign(middleware, { meter });
}

function requestView(c: Context): RequestView<Context> {
  const incoming = nodeIncoming(c.env);
  return {
    method: c.req.method,
    path: c.req.path,
    route: undefined,
    // On @hono/node-server, Node's own header object: `c.req.header()` would build a `Headers` per request.
    header: incoming !== undefined ? nodeHeaderReader(incoming.headers) : webHeaderReader(c.req.raw.headers),
    user: (c.get as (key: string) => unknown)('user'),
    raw: c,
  };
}

function proceed(c: Context, next: () => Promise<void>, result: BeginResult): ReturnType<MiddlewareHandler> {
  if (result.kind === 'skip') return next();
  if (result.kind === 'respond') {
    // Gate refusal or the `reject` policy: the pipeline decided the answer, the adapter only writes it.
    return Promise.resolve(
      c.json(result.body as object, result.status as ContentfulStatusCode, result.headers),
    );
  }
  c.set('drip', result.context);
  const own = c.req.routeIndex;
  const outgoing = nodeResponse(c.env);
  if (outgoing !== undefined) return meterNodeHandler(c, next, result.handle, own, outgoing);
  return meterWebHandler(c, next, result.handle, own);
}

async function meterWebHandler(
  c: Context,
  next: () => Promise<void>,
  handle: RequestHandle,
  own: number,
): Promise<void> {
  try {
    await handle.run(next);
  } catch (error) {
    // Only reached when no error handler is composed (Hono's app always has one); pass it on untouched.
    handle.finish({ status: 500, route: routeOf(c, own), error }, { waitUntil: waitUntilOf(c) });
    throw error;
  }
  const route = routeOf(c, own);
  const waitUntil = waitUntilOf(c);
  const error = c.error;
  // Workers, Bun, Deno, `app.request()`: the kit's one rule for web responses (the request ends when the
  // body does: read to the end, failed, or cancelled by the client), the same as Next's.
  const res = c.res;
  const metered = meterResponse(c.req.method, res, (c.req.raw as { signal?: AbortSignal }).signal, (end) => {
    handle.finish({ ...end, route, error: end.error ?? error }, { waitUntil });
  });
  if (metered !== res) c.res = metered;
}

/**
 * On @hono/node-server the request ends when Node's response does (the kit's Node rule, as in the
 * Express adapter). The Response object is never read, so the server keeps its fast path (reading
 * `res.headers` there would build a `Headers` object per request, and wrapping the body a stream).
 */
function meterNodeHandler(
  c: Context,
  next: () => Promise<void>,
  handle: RequestHandle,
  own: number,
  outgoing: NodeResponseLike,
): Promise<void> {
  let routed = false;
  let route: string | undefined;
  let thrown: unknown;
  onNodeResponseEnd(outgoing, (end) => {
    handle.finish({ ...end, route: routed ? route : routeOf(c, own), error: thrown ?? c.error });
  });
  // `next` is Hono's dispatch of the next handler: it returns a promise and never throws.
  return handle.run(next).then(
    () => {
      route = routeOf(c, own);
      routed = true;
    },
    (error: unknown) => {
      // Only reached when no error handler is composed (Hono's app always has one); pass it on untouched.
      thrown = error;
      route = routeOf(c, own);
      routed = true;
      throw error;
    },
  );
}

/** @hono/node-server passes `{ incoming, outgoing }` as the env (Node's request and response). */
function nodeIncoming(env: unknown): { headers: Record<string, string | string[] | undefined> } | undefined {
  if (typeof env !== 'object' || env === null || !('incoming' in env) || !('outgoing' in env))
    return undefined;
  const incoming = (env as { incoming: unknown }).incoming;
  return typeof incoming === 'object' && incoming !== null && 'headers' in incoming
    ? (incoming as { headers: Record<string, string | string[] | undefined> })
    : undefined;
}

function nodeResponse(env: unknown): NodeResponseLike | undefined {
  if (typeof env !== 'object' || env === null || !('incoming' in env) || !('outgoing' in env))
    return undefined;
  const outgoing = (env as { outgoing: unknown }).outgoing;
  return typeof outgoing === 'object' &&
    outgoing !== null &&
    typeof (outgoing as { on?: unknown }).on === 'function'
    ? (outgoing as NodeResponseLike)
    : undefined;
}

/**
 * The template of the route that answered. After `next()` the request's route index points at the last
 * handler that ran; if that is still this middleware, no route matched (not found), and the pipeline
 * normalises the path instead.
 */
function routeOf(c: Context, own: number): string | undefined {
  if (c.req.routeIndex === own) return undefined;
  return c.req.routePath;
}

/**
 * The platform's `waitUntil` (Workers, Vercel Edge). Hono's getter throws where there is none; that
 * would happen on every request on Node and Bun, so the Node server's env is recognised up front, and
 * elsewhere the stack trace, the costly part of a throw, is switched off around the getter.
 */
function waitUntilOf(c: Context): WaitUntil | undefined {
  // @hono/node-server never gives an execution context.
  if (nodeResponse(c.env) !== undefined) return undefined;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return undefined;
  } finally {
    Error.stackTraceLimit = limit;
  }
}
