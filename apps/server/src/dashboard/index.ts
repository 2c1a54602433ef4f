import { createHash } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { DASHBOARD_CSS, DASHBOARD_JS, loadChartJs } from './assets';
import { loadProblems, renderProblems } from './problems';
import { type DashboardDb, findScopeBySecretKeyHash, loadOverview, loadRun } from './queries';
import {
  ASSET_PATHS,
  renderLogin,
  renderLoginLinkConfirm,
  renderMessage,
  renderOverview,
  renderRun,
} from './render';
import { isCrossSite, publicOrigin, type RequestFacts } from './request-origin';
import { type DashboardScope, DashboardSessions } from './sessions';
import { loadTokenUsage, parseTokenPeriod, renderTokenUsage } from './tokens';

export { DashboardSessions } from './sessions';
export type { DashboardScope, DashboardSessionsOptions } from './sessions';
export type { DashboardDb } from './queries';

/**
 * What the server hands the dashboard when it mounts it at `/`.
 *
 * @example
 * ```ts
 * createDashboard({ version: '0.1.0', db: driver, sessions: new DashboardSessions() });
 * ```
 */
export interface DashboardOptions {
  /** Server version shown in the page footer. */
  version: string;
  /** The server's database (its driver or query layer); the dashboard only reads. */
  db: DashboardDb;
  /**
   * Login tokens and sessions. Pass your own instance to issue the one-time login link printed at
   * start (`sessions.issueLoginToken(scope)` → `/login/<token>`). Default: a private instance.
   */
  sessions?: DashboardSessions;
  /**
   * Maps a secret key to its project and mode, or `null` when the key is unknown, revoked or past its
   * rotation grace. Default: looks the SHA-256 hash up in `api_keys` (spec §2.2).
   */
  authenticateSecretKey?: (secretKey: string) => Promise<DashboardScope | null>;
  /**
   * The server sits behind a reverse proxy that sets `X-Forwarded-Proto` / `X-Forwarded-Host` or
   * `Forwarded`: those headers then decide whether the session cookie is `Secure`, which host the
   * cross-site check expects and the origin of login links. Without it they are ignored, since any
   * client could send them. Default `false`.
   */
  trustProxy?: boolean;
  /** Clock (epoch ms) that the token panel's periods end at. Default `Date.now`. */
  now?: () => number;
}

/**
 * Name of the HttpOnly session cookie.
 *
 * @example
 * ```ts
 * getCookie(c, DASHBOARD_COOKIE); // the session id
 * ```
 */
export const DASHBOARD_COOKIE = 'drip_dashboard';

// The dashboard shows billing data: never cached, never framed, and the login token in `/login/<token>`
// never leaks through a Referer header.
const SECURITY_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
};

function html(c: Context, body: string, status: 200 | 401 | 403 | 404 | 410 | 413 = 200): Response {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  return c.html(body, status);
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The dashboard sub-app, mounted by the server at `/` (the API lives under `/v1`).
 *
 * Pages: `/` (overview: customers with usage per meter and a chart, balances and charges, tokens per
 * model and customer from `llm.call` events over `?tokens=24h|7d|30d|all`, recent runs, webhook
 * deliveries) and `/dashboard/runs/:id` (a run's timeline with every event field). Every page
 * needs a session, opened either by posting the project's secret key to `/login` or by following a
 * one-time link `/login/<token>`; the session id is kept in an HttpOnly cookie. A caller holding the
 * secret key can ask for such a link with `POST /dashboard/login-links` (Bearer auth), which is how the
 * demo script prints one. Other paths are left to the API's unprefixed aliases (spec §2.1), which is
 * why the dashboard's own pages and assets live under `/dashboard/`.
 *
 * @example
 * ```ts
 * const sessions = new DashboardSessions();
 * app.route('/', createDashboard({ version, db, sessions }));
 * console.log(`http://127.0.0.1:${port}/login/${sessions.issueLoginToken({ projectId, mode: 'test' })}`);
 * ```
 */
export function createDashboard(options: DashboardOptions): Hono {
  const { version, db } = options;
  const trustProxy = options.trustProxy ?? false;
  const now = options.now ?? Date.now;
  const facts = (c: Context): RequestFacts => ({ url: c.req.url, header: (name) => c.req.header(name) });
  // Login, logout and redeeming a login link change which session a browser holds: a page of another
  // site must not be able to do that with a form (login CSRF would put the victim in the attacker's
  // project; logout CSRF would throw them out).
  const sameOriginOnly: MiddlewareHandler = async (c, next) => {
    if (!isCrossSite(facts(c), trustProxy)) return next();
    return html(
      c,
      renderMessage(
        version,
        'Cross-site request refused',
        'This form was sent from another site. Open the dashboard directly and try again.',
      ),
      403,
    );
  };
  const sessions = options.sessions ?? new DashboardSessions();
  // The default lookup remembers the key's hash in the session, so revoking the key logs it out.
  const authenticate =
    options.authenticateSecretKey ??
    (async (key: string): Promise<DashboardScope | null> => {
      const keyHash = sha256Hex(key);
      const scope = await findScopeBySecretKeyHash(db, keyHash);
      return scope ? { ...scope, keyHash } : null;
    });
  const app = new Hono();

  const sessionScope = async (c: Context): Promise<DashboardScope | null> => {
    const id = getCookie(c, DASHBOARD_COOKIE);
    const scope = id ? sessions.getSession(id) : null;
    if (!id || !scope?.keyHash) return scope;
    if (await findScopeBySecretKeyHash(db, scope.keyHash)) return scope;
    sessions.endSession(id);
    return null;
  };
  const startSession = (c: Context, sessionId: string): Response => {
    setCookie(c, DASHBOARD_COOKIE, sessionId, {
      httpOnly: true,
      sameSite: 'Lax',
      // Served over https (directly, or through a trusted proxy that says so): the cookie is never
      // sent over plain http.
      secure: publicOrigin(facts(c), trustProxy).proto === 'https',
      path: '/',
      maxAge: Math.floor(sessions.sessionTtlMs / 1000),
    });
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    return c.redirect('/', 303);
  };

  app.get(ASSET_PATHS.css, (c) => {
    c.header('Content-Type', 'text/css; charset=utf-8');
    c.header('Cache-Control', 'no-cache');
    return c.body(DASHBOARD_CSS);
  });
  app.get(ASSET_PATHS.js, (c) => {
    c.header('Content-Type', 'text/javascript; charset=utf-8');
    c.header('Cache-Control', 'no-cache');
    return c.body(DASHBOARD_JS);
  });
  app.get(ASSET_PATHS.chart, async (c) => {
    c.header('Content-Type', 'text/javascript; charset=utf-8');
    c.header('Cache-Control', 'public, max-age=86400');
    return c.body(await loadChartJs());
  });

  app.get('/', async (c) => {
    const scope = await sessionScope(c);
    if (!scope) return html(c, renderLogin(version));
    const problems = renderProblems(await loadProblems(db, scope));
    const period = parseTokenPeriod(c.req.query('tokens'));
    const tokens = renderTokenUsage(await loadTokenUsage(db, scope, period, now()));
    return html(c, renderOverview(await loadOverview(db, scope), scope, version, problems, tokens));
  });

  // A login form holds one key: anything bigger is refused before it is read.
  const loginBodyLimit = bodyLimit({
    maxSize: 16 * 1024,
    onError: (c) => html(c, renderLogin(version, 'That form was too large.'), 413),
  });
  app.post('/login', sameOriginOnly, loginBodyLimit, async (c) => {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const key = typeof form.key === 'string' ? form.key.trim() : '';
    if (key.startsWith('pk_')) {
      return html(
        c,
        renderLogin(version, 'A public key cannot open the dashboard; use the secret key (sk_…).'),
        401,
      );
    }
    const scope = key.startsWith('sk_') ? await authenticate(key) : null;
    if (!scope) return html(c, renderLogin(version, 'Unknown, revoked or expired secret key.'), 401);
    return startSession(c, sessions.createSession(scope));
  });

  const redeem = (c: Context): Response => {
    const sessionId = sessions.redeemLoginToken(c.req.param('token') ?? '');
    if (!sessionId) {
      return html(
        c,
        renderMessage(
          version,
          'This login link no longer works',
          'Login links work once and expire after a while. Log in with the secret key, or ask the server for a new link.',
        ),
        410,
      );
    }
    return startSession(c, sessionId);
  };
  app.get('/login/:token', (c) => {
    // Followed from the terminal or typed: redeem. Sent by another site: ask first, without using it up.
    if (isCrossSite(facts(c), trustProxy))
      return html(c, renderLoginLinkConfirm(version, c.req.param('token')));
    return redeem(c);
  });
  app.post('/login/:token', sameOriginOnly, (c) => redeem(c));

  app.post('/logout', sameOriginOnly, (c) => {
    const id = getCookie(c, DASHBOARD_COOKIE);
    if (id) sessions.endSession(id);
    deleteCookie(c, DASHBOARD_COOKIE, {
      path: '/',
      secure: publicOrigin(facts(c), trustProxy).proto === 'https',
    });
    return c.redirect('/', 303);
  });

  app.get('/dashboard/runs/:id', async (c) => {
    const scope = await sessionScope(c);
    if (!scope) return html(c, renderLogin(version), 401);
    const detail = await loadRun(db, scope, c.req.param('id'));
    if (!detail)
      return html(
        c,
        renderMessage(version, 'Run not found', 'No such run in this project and mode.', scope),
        404,
      );
    return html(c, renderRun(detail, scope, version));
  });

  // Lets a script that holds the secret key (the demo) hand a person a one-time login link. It needs a
  // Bearer header, which no cross-site form can send, so it needs no cross-site check.
  app.post('/dashboard/login-links', async (c) => {
    const auth = c.req.header('authorization') ?? '';
    const key = /^Bearer\s+(\S+)$/i.exec(auth)?.[1] ?? '';
    if (key.startsWith('pk_')) {
      return c.json({ error: 'Login links need the secret key', code: 'PUBLIC_KEY_NOT_ALLOWED' }, 403);
    }
    const scope = key.startsWith('sk_') ? await authenticate(key) : null;
    if (!scope) return c.json({ error: 'Missing, unknown or revoked secret key', code: 'UNAUTHORIZED' }, 401);
    const token = sessions.issueLoginToken(scope);
    const path = `/login/${token}`;
    const origin = publicOrigin(facts(c), trustProxy);
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        path,
        url: new URL(path, trustProxy ? `${origin.proto}://${origin.host}` : c.req.url).toString(),
        expiresAt: new Date(Date.now() + sessions.loginTokenTtlMs).toISOString(),
      },
      201,
    );
  });

  return app;
}
