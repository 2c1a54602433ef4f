import {
  createRequestMeter,
  type BeginResult,
  type DripRequestContext,
  type RequestHandle,
  type RequestMeter,
  type RequestMeterOptions,
  type RequestView,
  isPromiseLike,
  nodeHeaderReader,
  normalizePath,
  onNodeResponseEnd,
} from '@drip/core';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { VERSION } from './version';

declare global {
  // Declaration merging is how Express itself types `req` extensions; a namespace is the only way in.
  namespace Express {
    interface Request {
      /**
       * The Drip request context, present when `dripMiddleware()` metered this request (absent when the
       * request was skipped, e.g. no customer under the `skip` policy).
       */
      drip?: DripRequestContext;
    }
  }
}

/**
 * Options of {@link dripMiddleware}: the request-metering pipeline's options (customer resolver and
 * unidentified policy, meter and quantity, per-route table, outcome rules, runs, gate, metadata
 * redaction, idempotency header, `onError`) plus the client or its configuration (`client`, or
 * `apiKey`/`baseUrl`; by default `DRIP_API_KEY`). User functions receive the Express `req`.
 *
 * @example
 * ```ts
 * const options: DripExpressOptions = {
 *   customer: (req) => req.header('x-customer-id'),
 *   meter: 'api_calls',
 *   routes: { 'POST /api/agent': { meter: 'agent_calls' } },
 * };
 * app.use(dripMiddleware(options));
 * ```
 */
export type DripExpressOptions = Omit<RequestMeterOptions<Request>, 'sdk'>;

/**
 * The Express middleware returned by {@link dripMiddleware}, with the request meter behind it (for
 * `flush()` at shutdown, `stats()` in health checks).
 *
 * @example
 * ```ts
 * const metering = dripMiddleware();
 * app.use(metering);
 * process.on('SIGTERM', () => void metering.meter.close(5_000));
 * ```
 */
export type DripExpressMiddleware = RequestHandler & {
  /** The request meter (outbox, client, stats) this middleware feeds. */
  readonly meter: RequestMeter<Request>;
};

/** Per-request adapter state, kept on `req` under a registry symbol so duplicate package copies agree. */
interface ExpressRequestState {
  handle: RequestHandle;
  /** The full request path (no query), e.g. `/api/items/42`. */
  path: string;
  error: unknown;
  hasError: boolean;
}

const STATE = Symbol.for('@drip/express.state');

type StatefulRequest = Request & { [STATE]?: ExpressRequestState };

/**
 * Meters every request per customer in Drip and wraps each handler in a run. Mount it after your
 * authentication middleware so the default customer chain finds `req.user` (or `req.auth`); the handler
 * then reaches the run through `req.drip` or {@link getDripContext}. Works on Express 4 and 5, app-level
 * or router-level.
 *
 * With no options it uses `DRIP_API_KEY`, the pipeline's default customer chain, meter `api_calls`,
 * quantity 1 and one run per request named after the route.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { dripMiddleware, dripErrorHandler } from '@drip/express';
 *
 * const app = express();
 * app.use(auth); // sets req.user = { customerId }
 * app.use(dripMiddleware());
 * app.get('/items/:id', (req, res) => {
 *   req.drip?.run.event({ eventType: 'db.lookup' });
 *   res.json({ id: req.params.id });
 * });
 * app.use(dripErrorHandler());
 * ```
 */
export function dripMiddleware(options: DripExpressOptions = {}): DripExpressMiddleware {
  const meter = createRequestMeter<Request>({
    ...options,
    sdk: { name: '@drip/express', version: VERSION },
  } as RequestMeterOptions<Request>);

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    const stateful = req as StatefulRequest;
    // Mounted twice (app and router): the first one meters the request.
    if (stateful[STATE] !== undefined) {
      next();
      return;
    }
    let view: RequestView<Request>;
    let begun: BeginResult | PromiseLike<BeginResult>;
    try {
      view = requestView(req);
      begun = meter.begin(view);
    } catch {
      // The pipeline never throws by contract; if it ever does, the request goes on unmetered.
      next();
      return;
    }
    if (isPromiseLike(begun)) {
      begun.then(
        (result) => proceed(result, view.path, stateful, res, next),
        () => next(),
      );
    } else {
      proceed(begun, view.path, stateful, res, next);
    }
  };
  return Object.assign(middleware, { meter });
}

function requestView(req: Request): RequestView<Request> {
  const withUser = req as Request & { user?: unknown; auth?: unknown };
  const url = req.originalUrl ?? req.url;
  const q = url.indexOf('?');
  return {
    method: req.method,
    path: q === -1 ? url : url.slice(0, q),
    route: undefined,
    header: nodeHeaderReader(req.headers),
    user: withUser.user ?? withUser.auth,
    raw: req,
  };
}

function proceed(
  result: BeginResult,
  path: string,
  req: StatefulRequest,
  res: Response,
  next: NextFunction,
): void {
  if (result.kind === 'skip') {
    next();
    return;
  }
  if (result.kind === 'respond') {
    // Gate refusal or the `reject` policy: the pipeline decided the answer, the adapter only writes it.
    if (res.headersSent) return;
    res.status(result.status);
    for (const [name, value] of Object.entries(result.headers)) res.setHeader(name, value);
    res.json(result.body);
    return;
  }
  const { handle } = result;
  const state: ExpressRequestState = { handle, path, error: undefined, hasError: false };
  req[STATE] = state;
  req.drip = result.context;
  // The kit's one rule for Node responses: complete, or aborted when the client left first.
  onNodeResponseEnd(res, (end) => {
    handle.finish({
      ...end,
      route: routeTemplate(req, path),
      error: state.hasError ? state.error : undefined,
    });
  });
  handle.run(next);
}

/**
 * The template of the route that answered: the mount path of its router (`req.baseUrl`) joined to the
 * route's own path. Express matches routes after middleware, so this is read when the response ends.
 *
 * When an error leaves a router, Express restores `req.baseUrl` to the parent's; the mount path is then
 * the leading segments of the request path that the route's template did not match. Mount paths with
 * parameters (`/users/42`) are normalised like unknown paths (`/users/:id`), never kept verbatim.
 * Regular-expression and array routes have no single template: `undefined`, and the pipeline normalises
 * the request path instead.
 */
function routeTemplate(req: Request, path: string): string | undefined {
  const routePath = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof routePath !== 'string') return undefined;
  const own = segmentCount(routePath);
  const total = segmentCount(path);
  const base = req.baseUrl ?? '';
  let mount = base;
  if (segmentCount(base) + own !== total && !/[*?(]/.test(routePath) && own <= total) {
    const parts = path.split('/').filter((p) => p.length > 0);
    mount = parts.length - own > 0 ? `/${parts.slice(0, parts.length - own).join('/')}` : '';
  }
  if (mount === '' || mount === '/') return routePath;
  const prefix = normalizePath(mount);
  return routePath === '/' ? prefix : prefix + routePath;
}

function segmentCount(path: string): number {
  let n = 0;
  let inSegment = false;
  for (let i = 0; i < path.length; i++) {
    const slash = path.charCodeAt(i) === 47;
    if (!slash && !inSegment) n++;
    inSegment = !slash;
  }
  return n;
}

/**
 * Error-handling middleware that records the error on the request's run (status FAILED, `errorCode` =
 * the error's `name`) and passes it on unchanged with `next(err)`, so your own error handlers and
 * Express's default still answer. Mount it after your routes. Without it, errors still end the run as
 * the response status dictates, but without the error's name.
 *
 * @example
 * ```ts
 * app.get('/fail', () => {
 *   throw new TypeError('boom');
 * });
 * app.use(dripErrorHandler()); // run FAILED, errorCode 'TypeError'; Express answers 500 as before
 * ```
 */
export function dripErrorHandler(): ErrorRequestHandler {
  return (err: unknown, req: Request, _res: Response, next: NextFunction) => {
    const state = (req as StatefulRequest)[STATE];
    if (state !== undefined && !state.hasError) {
      state.error = err;
      state.hasError = true;
    }
    next(err);
  };
}

/**
 * The Drip request context of a request metered by {@link dripMiddleware} (the same object as
 * `req.drip`), or `undefined` when the request was not metered (skipped route, no customer under the
 * `skip` policy, or the middleware is not mounted).
 *
 * @example
 * ```ts
 * app.post('/agent', (req, res) => {
 *   const drip = getDripContext(req);
 *   drip?.run.event({ eventType: 'llm.call', model: 'gpt-4o-mini', inputTokens: 12, outputTokens: 40 });
 *   drip?.usage('llm_tokens', 52);
 *   res.json({ ok: true });
 * });
 * ```
 */
export function getDripContext(req: Request): DripRequestContext | undefined {
  return req.drip;
}
