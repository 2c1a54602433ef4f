import {
  type BeginResult,
  type DripRequestContext,
  isPromiseLike,
  nodeHeaderReader,
  onNodeResponseEnd,
  type RequestMeter,
  type RequestMeterOptions,
} from '@drip/core';
import { deferDelivery, type WaitUntil } from './delivery';
import { meterFor, pathOf } from './meter';
import { type RouteParams, routeTemplate } from './route-template';
import { endOnce } from './with-drip';

/**
 * The parts of Next's `NextApiRequest` the Pages wrapper reads (a `NextApiRequest` satisfies it).
 *
 * @example
 * ```ts
 * const options: DripPagesOptions<NextApiRequest & DripPagesRequest> = { customer: (req) => req.user?.customerId };
 * ```
 */
export interface DripPagesRequest {
  method?: string | undefined;
  url?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  query?: Record<string, string | string[] | undefined>;
  /** Set by your auth layer; read by the pipeline's default customer chain. */
  user?: unknown;
}

/**
 * The parts of Next's `NextApiResponse` the Pages wrapper uses (a `NextApiResponse` satisfies it).
 *
 * @example
 * ```ts
 * const handler: DripPagesHandler<NextApiRequest, NextApiResponse> = (_req, res) => res.status(204).end();
 * ```
 */
export interface DripPagesResponse {
  statusCode: number;
  headersSent?: boolean;
  writableFinished?: boolean;
  setHeader(name: string, value: string): unknown;
  end(chunk?: string): unknown;
  on(event: 'close', listener: () => void): unknown;
}

/**
 * Options of {@link withDripPages}: the same as {@link DripNextOptions}, except that user functions
 * receive the Pages API request (`NextApiRequest`).
 *
 * @example
 * ```ts
 * const options: DripPagesOptions = { customer: (req) => req.user?.customerId, meter: 'api_calls' };
 * ```
 */
export type DripPagesOptions<Req extends DripPagesRequest = DripPagesRequest> = Omit<
  RequestMeterOptions<Req>,
  'sdk'
> & {
  /** Route template reported for this route, e.g. `/api/pages/[id]`. */
  route?: string;
  /** Receives the delivery promise instead of the platform's `waitUntil`. */
  waitUntil?: WaitUntil;
};

/**
 * A Pages API route handler wrapped by {@link withDripPages}: `(req, res)` plus the run context
 * (`undefined` when the request is not metered).
 *
 * @example
 * ```ts
 * const handler: DripPagesHandler<NextApiRequest, NextApiResponse> = (req, res, drip) => {
 *   drip?.run.event({ eventType: 'db.lookup' });
 *   res.status(200).json({ ok: true });
 * };
 * ```
 */
export type DripPagesHandler<Req extends DripPagesRequest, Res extends DripPagesResponse> = (
  req: Req,
  res: Res,
  drip: DripRequestContext | undefined,
) => unknown;

/**
 * Wraps a Pages Router API route (`pages/api/**`, Node runtime) so each call is metered per customer
 * and recorded as a run when the response ends (`aborted` when the client leaves first). The handler
 * receives the run context as its third argument. The route template comes from the `route` option, or
 * is rebuilt from the path and the dynamic params Next put in `req.query` (e.g. `/api/pages/[id]`).
 * Errors thrown by the handler are recorded (FAILED, 500) and rethrown to Next unchanged.
 *
 * @example
 * ```ts
 * // pages/api/ping.ts
 * import type { NextApiRequest, NextApiResponse } from 'next';
 * import { withDripPages } from '@drip/nextjs';
 *
 * export default withDripPages((req: NextApiRequest, res: NextApiResponse, drip) => {
 *   drip?.usage('pings', 1);
 *   res.status(200).json({ pong: true });
 * });
 * ```
 */
export function withDripPages<Req extends DripPagesRequest, Res extends DripPagesResponse>(
  handler: DripPagesHandler<Req, Res>,
  options?: DripPagesOptions<Req>,
): (req: Req, res: Res) => Promise<void> {
  let meter: RequestMeter | undefined;
  return async function dripApiRoute(req: Req, res: Res): Promise<void> {
    meter ??= meterFor<Req>(options, '@drip/nextjs');
    const url = req.url ?? '/';
    const path = pathOf(url);
    const route = options?.route ?? routeTemplate(path, dynamicParams(url, req.query));
    let begun: BeginResult;
    try {
      const result = meter.begin({
        method: (req.method ?? 'GET').toUpperCase(),
        path,
        route,
        header: nodeHeaderReader(req.headers),
        user: req.user,
        raw: req,
      });
      begun = isPromiseLike(result) ? await result : result;
    } catch {
      begun = { kind: 'skip' };
    }
    if (begun.kind === 'skip') {
      await handler(req, res, undefined);
      return;
    }
    if (begun.kind === 'respond') {
      res.statusCode = begun.status;
      res.setHeader('content-type', 'application/json');
      for (const [name, value] of Object.entries(begun.headers)) res.setHeader(name, value);
      res.end(JSON.stringify(begun.body));
      return;
    }
    const { handle, context } = begun;
    // No `after()` in the Pages Router: the platform's `waitUntil` when there is one, else background.
    const end = endOnce(handle.finish.bind(handle), deferDelivery(options?.waitUntil, false), route);
    // The adapter kit's one rule for Node responses: complete, or aborted when the client left first.
    onNodeResponseEnd(res, end);
    try {
      await handle.run(() => handler(req, res, context));
    } catch (error) {
      end({ status: 500, error });
      throw error;
    }
  };
}

/** Dynamic route params: what Next merged into `req.query` beyond the URL's own query string. */
function dynamicParams(url: string, query: DripPagesRequest['query']): RouteParams | undefined {
  if (!query) return undefined;
  const q = url.indexOf('?');
  const search = q === -1 ? undefined : new URLSearchParams(url.slice(q + 1));
  const params: RouteParams = {};
  for (const [name, value] of Object.entries(query)) {
    if (search?.has(name) !== true) params[name] = value;
  }
  return params;
}
