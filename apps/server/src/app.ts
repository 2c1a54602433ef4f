import { scopeForPath } from '@drip/core';
import { Hono } from 'hono';
import { createAuthenticator } from './auth';
import type { AppEnv, Deps } from './context';
import { createDashboard } from './dashboard/index';
import { sqlState } from './db/driver';
import { ApiError, CLIENT_CLOSED, checkQueryText, send } from './http';
import { noteRefused } from './problems';
import { parseRateLimit, RateLimiter } from './rate-limit';
import { registerApiKeys } from './routes/api-keys';
import { registerCustomers } from './routes/customers';
import { registerEvents } from './routes/events';
import { registerRunEvents } from './routes/run-events';
import { registerRunRecord } from './routes/run-record';
import { registerRuns } from './routes/runs';
import { registerWorkflows } from './routes/workflows';
import { registerUsage } from './routes/usage';
import { registerWebhooks } from './routes/webhooks';
import { newRequestId } from './util';

/** Bulk routes this server offers (spec §10), advertised by `GET /health`. */
export const CAPABILITIES = ['usage-bulk', 'runs-record-bulk'] as const;

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'X-Request-Id, Retry-After, Idempotent-Replayed',
};

/**
 * The request path as routed: repeated slashes collapsed, a trailing slash dropped and a leading `/v1`
 * removed, so `/v1/customers`, `/customers` and `//v1//customers/` reach the same route (spec §2.1, §2.5).
 */
export function routedPath(url: string): string {
  const start = url.indexOf('/', url.indexOf('://') + 3);
  let path = start === -1 ? '/' : url.slice(start);
  const q = path.search(/[?#]/);
  if (q !== -1) path = path.slice(0, q);
  path = path.replace(/\/{2,}/g, '/');
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  // `/v1` alone is the API root, not the dashboard: it stays unrouted (404 ROUTE_NOT_FOUND).
  if (path.startsWith('/v1/')) path = path.slice(3);
  return path;
}

interface RouteShape {
  method: string;
  re: RegExp;
}

function routeTable(api: Hono<AppEnv>): RouteShape[] {
  return api.routes
    .filter((r) => r.method !== 'ALL')
    .map((r) => ({ method: r.method, re: new RegExp(`^${r.path.replace(/:[^/]+/g, '[^/]+')}$`) }));
}

/**
 * Builds the Hono app of the server: health, every API route of spec §3 and §10 (with and without the
 * `/v1` prefix), the dashboard at `/`, JSON envelopes for every error, request ids and CORS.
 */
export function createApp(deps: Deps, auth = createAuthenticator(deps)): Hono<AppEnv> {
  const app = new Hono<AppEnv>({ getPath: (req) => routedPath(req.url) });
  const api = new Hono<AppEnv>();
  let table: RouteShape[] | undefined;
  const rate = parseRateLimit(deps.settings.rateLimit ?? undefined);
  const limiter = rate ? new RateLimiter(rate) : undefined;
  const match = (method: string, path: string): 'ok' | 'method' | 'none' => {
    table ??= routeTable(api);
    const hits = table.filter((r) => r.re.test(path));
    if (hits.length === 0) return 'none';
    return hits.some((r) => r.method === method || (method === 'HEAD' && r.method === 'GET'))
      ? 'ok'
      : 'method';
  };

  app.use('*', async (c, next) => {
    const given = c.req.header('x-request-id');
    const requestId = given && REQUEST_ID_RE.test(given) ? given : newRequestId();
    c.set('requestId', requestId);
    const started = performance.now();
    if (c.req.method === 'OPTIONS') {
      c.res = new Response(null, {
        status: 204,
        headers: {
          ...CORS_HEADERS,
          'Access-Control-Allow-Methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
          'Access-Control-Allow-Headers': 'Authorization, Content-Type, X-Drip-Client, X-Request-Id',
          'Access-Control-Max-Age': '600',
        },
      });
    } else {
      await next();
    }
    c.res.headers.set('X-Request-Id', requestId);
    if (c.res.status >= 400 || c.req.url.includes('/bulk'))
      noteRefused(deps.db, c, routedPath(c.req.url), match);
    for (const [k, v] of Object.entries(CORS_HEADERS)) c.res.headers.set(k, v);
    deps.log.debug('request', {
      requestId,
      method: c.req.method,
      path: routedPath(c.req.url),
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      client: c.req.header('x-drip-client') ?? c.req.header('user-agent') ?? null,
    });
  });

  app.get('/health', async (c) => {
    try {
      await deps.db.query('SELECT 1');
      return send(c, 200, {
        status: 'healthy',
        timestamp: Date.now(),
        version: deps.version,
        server: 'drip-local',
        capabilities: [...CAPABILITIES],
        database: deps.db.kind,
      });
    } catch (err) {
      return send(c, 503, {
        status: 'unhealthy',
        timestamp: Date.now(),
        error: err instanceof Error ? err.message : 'database unavailable',
      });
    }
  });

  api.use('*', async (c, next) => {
    const path = routedPath(c.req.url);
    if (match(c.req.method, path) !== 'ok') return next();
    const info = await auth.authenticate(c.req.header('authorization'));
    if (info.keyType === 'public' && scopeForPath(path) === 'secret') {
      throw new ApiError(
        403,
        'PUBLIC_KEY_NOT_ALLOWED',
        'This route requires a secret key (sk_); a public key (pk_) was used',
      );
    }
    c.set('auth', info);
    // Per project: both modes and every key of a project share one budget.
    limiter?.take(info.projectId);
    checkQueryText(c.req.url);
    return next();
  });
  registerCustomers(api, deps);
  registerUsage(api, deps);
  registerWorkflows(api, deps);
  registerRuns(api, deps);
  registerRunRecord(api, deps);
  registerRunEvents(api, deps);
  registerEvents(api, deps);
  registerWebhooks(api, deps);
  registerApiKeys(api, deps);
  app.route('/', api);
  app.route(
    '/',
    createDashboard({ version: deps.version, db: deps.db, trustProxy: deps.trustProxy ?? false }),
  );

  app.notFound((c) => {
    const path = routedPath(c.req.url);
    if (match(c.req.method, path) === 'method') {
      const allow = (table ?? []).filter((r) => r.re.test(path)).map((r) => r.method);
      return send(
        c,
        405,
        { error: `Method ${c.req.method} not allowed on ${path}`, code: 'METHOD_NOT_ALLOWED' },
        { Allow: allow.join(', ') },
      );
    }
    return send(c, 404, { error: `No route ${c.req.method} ${path}`, code: 'ROUTE_NOT_FOUND' });
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      if (err.status === CLIENT_CLOSED) {
        deps.log.info('request aborted by the client', {
          requestId: c.get('requestId'),
          method: c.req.method,
          path: routedPath(c.req.url),
        });
      }
      return send(c, err.status, err.body(), err.headers ?? {});
    }
    const state = sqlState(err);
    if (state?.startsWith('22')) {
      // Data exceptions (out-of-range numbers, bad encodings) are the caller's input, not a crash. The
      // database's own text (types, encodings, internals) stays in the log, never in the response.
      deps.log.info('value refused by the database', {
        requestId: c.get('requestId'),
        sqlState: state,
        error: String((err as Error).message).slice(0, 200),
      });
      return send(c, 422, {
        error: 'A value is out of range or malformed',
        code: 'VALIDATION_ERROR',
        details: [{ path: '', message: 'a value is out of range or not storable' }],
      });
    }
    if (state?.startsWith('08') || state === '57P01' || state === '57P03') {
      return send(
        c,
        503,
        { error: 'Database unavailable', code: 'SERVICE_UNAVAILABLE' },
        { 'Retry-After': '1' },
      );
    }
    deps.log.error('unhandled error', {
      requestId: c.get('requestId'),
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    return send(c, 500, { error: 'Internal server error', code: 'INTERNAL_ERROR' });
  });

  return app;
}
