import {
  type BeginResult,
  type DripRequestContext,
  type FinishOptions,
  isPromiseLike,
  meterResponse,
  type RequestMeter,
  type RequestMeterOptions,
  type RequestOutcome,
  webHeaderReader,
} from '@drip/core';
import { nextControlFlow } from './control-flow';
import { type Delivery, deferDelivery, type WaitUntil } from './delivery';
import { meterFor, pathOf } from './meter';
import { type RouteParams, routeTemplate } from './route-template';

/**
 * Options of {@link withDrip}: the request-metering pipeline's options (`customer`, `unidentified`,
 * `meter`, `quantity`, `routes`, `run`, `gate`, `idempotencyHeader`, `metadata`, `onError`, `client` or
 * `apiKey`/`baseUrl`, `outbox`), whose functions receive the web `Request`, plus:
 *
 * - `route`: the route template to report (default: rebuilt from the path and the route's params, e.g.
 *   `/api/items/[id]`);
 * - `waitUntil`: where to hand the delivery promise (default: Next's `after()`, else the platform's
 *   `waitUntil`, else nothing: the outbox delivers in the background).
 *
 * Handlers that share one options object share one meter (client and outbox).
 *
 * @example
 * ```ts
 * export const dripOptions: DripNextOptions = {
 *   customer: (req) => req.headers.get('x-customer-id') ?? undefined,
 *   meter: 'api_calls',
 * };
 * export const GET = withDrip(handler, dripOptions);
 * ```
 */
export type DripNextOptions<Req extends Request = Request> = Omit<RequestMeterOptions<Req>, 'sdk'> & {
  /** Route template reported for this handler, e.g. `/api/items/[id]`. */
  route?: string;
  /** Receives the delivery promise instead of `after()` / the platform's `waitUntil`. */
  waitUntil?: WaitUntil;
};

/**
 * An App Router route handler wrapped by {@link withDrip}: the usual `(request, context)` plus the run
 * context, `undefined` when the request is not metered (skipped route, or no customer under the `skip`
 * policy).
 *
 * @example
 * ```ts
 * const handler: DripRouteHandler<{ params: Promise<{ id: string }> }> = async (_req, { params }, drip) => {
 *   drip?.run.event({ eventType: 'db.lookup' });
 *   return Response.json({ id: (await params).id });
 * };
 * ```
 */
export type DripRouteHandler<Ctx = unknown, Req extends Request = Request> = (
  request: Req,
  context: Ctx,
  drip: DripRequestContext | undefined,
) => Response | Promise<Response>;

/**
 * Wraps an App Router route handler (`app/**\/route.ts`, Node or Edge runtime) so each call is metered
 * per customer and recorded as a run. The handler receives the run context as its third argument (and,
 * where the runtime has `AsyncLocalStorage`, through `getDripContext()` from deep code). The response is
 * returned as the handler made it and the request ends when the response is over: inside Next (where
 * `after()` works) when Next runs the `after()` callback, once the body was sent in full or the client
 * left (`aborted`, read from `request.signal`); elsewhere (a custom `waitUntil`, tests, other hosts) the
 * body is passed through a stream that reports its end, its error or its cancellation (`aborted`).
 * Records are handed to the outbox then and delivered after the response, through `after()` when
 * available, never awaited before the response. Inside Next an error thrown by a body stream after the
 * handler returned is not seen by the wrapper (Next reports it): the run keeps the response's status. Next's `redirect()` / `notFound()` errors
 * are rethrown untouched (recorded with the status Next answers); other errors are recorded as FAILED
 * with status 500 and rethrown.
 *
 * @example
 * ```ts
 * // app/api/items/[id]/route.ts
 * import { withDrip } from '@drip/nextjs';
 *
 * export const GET = withDrip(async (_req, { params }: { params: Promise<{ id: string }> }, drip) => {
 *   const { id } = await params;
 *   drip?.usage('lookups', 1);
 *   return Response.json({ id });
 * }, { meter: 'api_calls' });
 * ```
 */
export function withDrip<Ctx = unknown, Req extends Request = Request>(
  handler: DripRouteHandler<Ctx, Req>,
  options?: DripNextOptions<Req>,
): (request: Req, context: Ctx) => Promise<Response> {
  let meter: RequestMeter | undefined;
  return async function dripRouteHandler(request: Req, context: Ctx): Promise<Response> {
    meter ??= meterFor<Req>(options, '@drip/nextjs');
    const path = pathOf(request.url);
    let route = options?.route;
    if (route === undefined) {
      const params = (context as { params?: unknown } | undefined)?.params;
      route = routeTemplate(path, (isPromiseLike(params) ? await params : params) as RouteParams | undefined);
    }
    let begun: BeginResult;
    try {
      const result = meter.begin({
        method: request.method,
        path,
        route,
        header: webHeaderReader(request.headers),
        raw: request,
      });
      begun = isPromiseLike(result) ? await result : result;
    } catch {
      // The pipeline never throws by contract; if it ever does, the request goes on unmetered.
      begun = { kind: 'skip' };
    }
    if (begun.kind === 'skip') return handler(request, context, undefined);
    if (begun.kind === 'respond') return respond(begun);

    const { handle } = begun;
    let responseDone: (() => void) | undefined;
    const delivery = deferDelivery(options?.waitUntil, true, () => responseDone?.());
    const end = endOnce(handle.finish.bind(handle), delivery, route);
    let response: Response;
    try {
      response = await handle.run(() => handler(request, context, begun.context));
    } catch (error) {
      const flow = nextControlFlow(error);
      if (flow === undefined) end({ status: 500, error });
      else if (flow.status !== undefined) end({ status: flow.status });
      else delivery.settle();
      throw error;
    }
    if (!(response instanceof Response)) {
      // Next answers 500 for a handler that returns no Response; record what the client will see.
      end({ status: 500, error: new TypeError('The route handler did not return a Response') });
      return response;
    }
    if (delivery.afterResponse && response.body !== null) {
      // Next runs the after() callback once the response is over (body sent, or the client left, which
      // aborts the request's signal): no stream wrapper, no second Response.
      const status = response.status;
      responseDone = () => end({ status, aborted: request.signal?.aborted === true });
      return response;
    }
    // Elsewhere the adapter kit's one rule for web responses, the same as Hono's on Workers, Bun and Deno:
    // the request ends when the body does (read to the end, failed, or cancelled by the client).
    return meterResponse(request.method, response, request.signal, end);
  };
}

/** Finishes the request once and releases the delivery callback. */
export function endOnce(
  finish: (outcome: RequestOutcome, options?: FinishOptions) => void,
  delivery: Delivery,
  route: string | undefined,
): (outcome: RequestOutcome) => void {
  let ended = false;
  return (outcome) => {
    if (ended) return;
    ended = true;
    try {
      finish(
        { route, ...outcome },
        delivery.waitUntil ? { waitUntil: delivery.waitUntil, flush: delivery.flush } : undefined,
      );
    } finally {
      delivery.settle();
    }
  };
}

/** The gate's refusal or the `reject` policy, as decided by the pipeline. */
export function respond(result: Extract<BeginResult, { kind: 'respond' }>): Response {
  return Response.json(result.body, { status: result.status, headers: result.headers });
}
