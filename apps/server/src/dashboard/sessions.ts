import { randomBytes } from 'node:crypto';

/**
 * The data space a dashboard visitor may see: one project in one mode (spec §2.2).
 *
 * @example
 * ```ts
 * const scope: DashboardScope = { projectId: 'prj_1', mode: 'test' };
 * ```
 */
export interface DashboardScope {
  /** Project id (`projects.id`). */
  projectId: string;
  /** `test` or `live`. */
  mode: 'test' | 'live';
  /**
   * SHA-256 (hex) of the secret key the session was opened with, when known: the dashboard then ends
   * the session as soon as that key is revoked.
   */
  keyHash?: string;
}

/**
 * Options of {@link DashboardSessions}.
 *
 * @example
 * ```ts
 * new DashboardSessions({ loginTokenTtlMs: 10 * 60_000, sessionTtlMs: 8 * 3600_000 });
 * ```
 */
export interface DashboardSessionsOptions {
  /** How long a one-time login token stays usable, in milliseconds. Default one hour. */
  loginTokenTtlMs?: number;
  /** How long a session cookie stays valid, in milliseconds. Default twelve hours. */
  sessionTtlMs?: number;
  /** At most this many live tokens and sessions are kept each; the oldest are dropped first. Default 1000. */
  maxEntries?: number;
  /** Clock in epoch milliseconds (tests inject one). */
  now?: () => number;
}

interface Entry {
  scope: DashboardScope;
  expiresAt: number;
}

function newToken(): string {
  // 32 random bytes, URL-safe: unguessable, and safe to put in a path segment and a cookie.
  return randomBytes(32).toString('base64url');
}

function put(map: Map<string, Entry>, token: string, entry: Entry, max: number): void {
  map.set(token, entry);
  // Maps iterate in insertion order, so the first keys are the oldest.
  while (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) break;
    map.delete(oldest);
  }
}

function take(map: Map<string, Entry>, token: string, now: number, consume: boolean): DashboardScope | null {
  const entry = map.get(token);
  if (!entry) return null;
  if (entry.expiresAt <= now) {
    map.delete(token);
    return null;
  }
  if (consume) map.delete(token);
  return entry.scope;
}

/**
 * In-memory store of the dashboard's one-time login tokens and its sessions.
 *
 * A login token (printed as a `/login/<token>` link at server start, or issued through
 * `POST /dashboard/login-links` by a caller holding the secret key) can be exchanged once for a
 * session; the session id travels in an HttpOnly cookie. Both live only in this process: restarting
 * the server logs every visitor out, which is the intended behaviour for a development server.
 *
 * @example
 * ```ts
 * const sessions = new DashboardSessions();
 * const token = sessions.issueLoginToken({ projectId: 'proj_1', mode: 'test' });
 * console.log(`Dashboard: http://127.0.0.1:3001/login/${token}`);
 * app.route('/', createDashboard({ version, db, sessions }));
 * ```
 */
export class DashboardSessions {
  readonly loginTokenTtlMs: number;
  readonly sessionTtlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #loginTokens = new Map<string, Entry>();
  readonly #sessions = new Map<string, Entry>();

  constructor(options: DashboardSessionsOptions = {}) {
    this.loginTokenTtlMs = options.loginTokenTtlMs ?? 60 * 60 * 1000;
    this.sessionTtlMs = options.sessionTtlMs ?? 12 * 60 * 60 * 1000;
    this.#max = options.maxEntries ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Issues a one-time login token for a scope. Use it as the path `/login/<token>`.
   *
   * @example
   * ```ts
   * const token = sessions.issueLoginToken({ projectId: 'proj_1', mode: 'test' });
   * ```
   */
  issueLoginToken(scope: DashboardScope): string {
    const token = newToken();
    put(this.#loginTokens, token, { scope, expiresAt: this.#now() + this.loginTokenTtlMs }, this.#max);
    return token;
  }

  /**
   * Consumes a login token: returns a new session id for its scope, or `null` when the token is
   * unknown, already used or expired.
   *
   * @example
   * ```ts
   * const sessionId = sessions.redeemLoginToken(token); // a second call returns null
   * ```
   */
  redeemLoginToken(token: string): string | null {
    const scope = take(this.#loginTokens, token, this.#now(), true);
    return scope ? this.createSession(scope) : null;
  }

  /**
   * Opens a session for a scope (after a secret-key login) and returns its id.
   *
   * @example
   * ```ts
   * const sessionId = sessions.createSession({ projectId: 'proj_1', mode: 'test' });
   * ```
   */
  createSession(scope: DashboardScope): string {
    const id = newToken();
    put(this.#sessions, id, { scope, expiresAt: this.#now() + this.sessionTtlMs }, this.#max);
    return id;
  }

  /**
   * The scope of a live session, or `null`.
   *
   * @example
   * ```ts
   * const scope = sessions.getSession(cookieValue);
   * ```
   */
  getSession(id: string): DashboardScope | null {
    return take(this.#sessions, id, this.#now(), false);
  }

  /**
   * Ends a session (logout).
   *
   * @example
   * ```ts
   * sessions.endSession(cookieValue);
   * ```
   */
  endSession(id: string): void {
    this.#sessions.delete(id);
  }
}
