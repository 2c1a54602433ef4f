import type { DripNextOptions, DripPagesOptions } from '@drip/nextjs';
import { type AppUser, authenticate, UNAUTHORIZED } from './auth';

/** Who the app's auth let in, per request (the App Router has no `req.user`). */
const callers = new WeakMap<object, AppUser>();

/**
 * The Drip options every App Router route shares (one meter, one outbox per runtime): the customer is
 * the one the app's auth attached; meter `api_calls`, quantity 1 (the defaults). Read at the first
 * request, so `DRIP_API_KEY`/`DRIP_API_URL` come from the running server's environment.
 */
export const dripOptions: DripNextOptions = {
  customer: (req) => callers.get(req)?.customerId,
  apiKey: process.env.DRIP_API_KEY,
  baseUrl: process.env.DRIP_API_URL,
};

/** The same for Pages API routes. */
export const dripPagesOptions: DripPagesOptions = {
  customer: (req) => callers.get(req)?.customerId,
  apiKey: process.env.DRIP_API_KEY,
  baseUrl: process.env.DRIP_API_URL,
};

/** The app's auth for route handlers: 401 before metering, else remembers the caller for Drip. */
export function withAuth<Ctx>(
  handler: (request: Request, context: Ctx) => Promise<Response>,
): (request: Request, context: Ctx) => Promise<Response> {
  return async (request, context) => {
    const user = await authenticate(request.headers.get('x-api-key'));
    if (user === undefined) return Response.json(UNAUTHORIZED, { status: 401 });
    callers.set(request, user);
    return handler(request, context);
  };
}

/** Minimal Pages API request/response shapes the auth wrapper needs. */
interface PagesReq {
  headers: Record<string, string | string[] | undefined>;
}
interface PagesRes {
  status(code: number): { json(body: unknown): void };
}

/** The app's auth for Pages API routes. */
export function withPagesAuth<Req extends PagesReq, Res extends PagesRes>(
  handler: (req: Req, res: Res) => Promise<void>,
): (req: Req, res: Res) => Promise<void> {
  return async (req, res) => {
    const key = req.headers['x-api-key'];
    const user = await authenticate(typeof key === 'string' ? key : undefined);
    if (user === undefined) {
      res.status(401).json(UNAUTHORIZED);
      return;
    }
    callers.set(req, user);
    await handler(req, res);
  };
}
