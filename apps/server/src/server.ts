import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { createLocalAdmin } from './admin';
import { createApp } from './app';
import { createAuthenticator } from './auth';
import {
  type AppEnv,
  DEFAULT_SETTINGS,
  type Deps,
  type Driver,
  type LogLevel,
  type Logger,
  type ServerSettings,
} from './context';
import { createAnalyzer } from './db/analyze';
import { acquireDataDirLock, type DataDirLock } from './db/data-dir-lock';
import { answerClientError } from './http';
import { migrate } from './db/migrate';
import { openPglite } from './db/pglite-driver';
import { openPostgres } from './db/pg-driver';
import { createLogger } from './logger';
import { defaultProjectId, insertKeyPair } from './routes/api-keys';
import { createStore, type Store } from './store';
import { newId, newKeyValue, sha256 } from './util';
import { SERVER_VERSION } from './version';
import { Worker } from './webhooks/worker';

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Port to listen on; `0` picks a free one. Default 3001. */
  port?: number;
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** Embedded database in memory (nothing on disk). The default when neither `dataDir` nor `databaseUrl` is given. */
  memory?: boolean;
  /** Embedded database in this directory (created on first use). */
  dataDir?: string;
  /** PostgreSQL connection string; takes precedence over the embedded database. */
  databaseUrl?: string;
  /** Pool size for PostgreSQL. Default 10. */
  poolSize?: number;
  /** Billing and delivery settings (prices, retry schedule, ...); merged over the defaults. */
  settings?: Partial<ServerSettings>;
  /** Log level of the built-in JSON-lines logger. Default `warn`. */
  logLevel?: LogLevel;
  /** A logger to use instead of the built-in one. */
  logger?: Logger;
  /**
   * Secret (and public) key to accept for the default project, e.g. a fixed `sk_test_...` shared with an
   * example app. Registered if not yet known. Without it a fresh pair is issued at every start.
   */
  apiKey?: string;
  publicKey?: string;
  /**
   * The server runs behind a reverse proxy that terminates TLS: believe its `X-Forwarded-Proto`,
   * `X-Forwarded-Host` and `Forwarded` headers (the dashboard's session cookie becomes `Secure` when
   * they say https). Leave it off when clients reach the server directly, since any client can send
   * those headers. Default `false`.
   */
  trustProxy?: boolean;
}

/** A running server. */
export interface RunningServer {
  /** Origin, e.g. `http://127.0.0.1:3001` (the API is under `/v1`, also served without the prefix). */
  url: string;
  port: number;
  /** Secret key of the default project (test mode). */
  apiKey: string;
  /** Public key of the default project (test mode). */
  publicKey: string;
  /** Id of the default project. */
  projectId: string;
  /** Query helpers over the database for assertions. */
  store: Store;
  /** `pglite` or `postgres`. */
  database: 'pglite' | 'postgres';
  /** The Hono app (for `app.request()` in tests). */
  app: Hono<AppEnv>;
  /** Runs the background worker once now (deliver due webhooks, settle async charges) and waits for it. */
  runWorker(): Promise<void>;
  /** Stops accepting connections, finishes in-flight requests, stops the worker, closes the database. */
  close(): Promise<void>;
}

async function openDriver(opts: StartServerOptions): Promise<Driver> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.poolSize ?? 10);
  return openPglite(opts.memory || !opts.dataDir ? undefined : opts.dataDir);
}

function keyModeOfPrefix(key: string): 'test' | 'live' | undefined {
  if (/^[sp]k_test_/.test(key)) return 'test';
  if (/^[sp]k_live_/.test(key)) return 'live';
  return undefined;
}

async function ensureKeys(
  db: Driver,
  projectId: string,
  opts: StartServerOptions,
): Promise<{ apiKey: string; publicKey: string }> {
  if (!opts.apiKey) {
    const pair = await insertKeyPair(db, { projectId, mode: 'test' }, `session ${new Date().toISOString()}`);
    return { apiKey: pair.secretKey, publicKey: pair.publicKey };
  }
  const mode = keyModeOfPrefix(opts.apiKey);
  if (!mode || !opts.apiKey.startsWith('sk_') || opts.apiKey.length < 16)
    throw new Error('apiKey must look like sk_test_... or sk_live_... (at least 16 characters)');
  if (opts.publicKey !== undefined && !opts.publicKey.startsWith(`pk_${mode}_`))
    throw new Error(`publicKey must start with pk_${mode}_`);
  const secretHash = sha256(opts.apiKey);
  // A key the database already knows keeps its stored public key, and a retired one stays retired:
  // restarting with a rotated-out or revoked secret must not bring it back as a working key.
  const [known] = await db.query<{ public_key: string; current: boolean; revoked: boolean }>(
    `SELECT public_key, secret_key_hash = $1 AS current, revoked_at IS NOT NULL AS revoked
     FROM api_keys WHERE secret_key_hash = $1 OR previous_secret_key_hash = $1
     ORDER BY (secret_key_hash = $1) DESC LIMIT 1`,
    [secretHash],
  );
  if (known?.revoked)
    throw new Error('the configured API key was revoked; configure another key or remove it');
  if (known && !known.current)
    throw new Error('the configured API key was rotated out; configure the current secret key of its pair');
  if (known) return { apiKey: opts.apiKey, publicKey: known.public_key };
  // Random, never derived from the secret: a public key is shown to browsers and must not let anyone
  // recover or test guesses of the secret offline.
  const publicKey = opts.publicKey ?? newKeyValue(`pk_${mode}_`);
  const [row] = await db.query<{ public_key: string }>(
    `INSERT INTO api_keys (id, project_id, mode, name, public_key, public_key_hash, secret_key_hash, secret_key_hint)
     VALUES ($1, $2, $3, 'configured', $4, $5, $6, $7) ON CONFLICT (secret_key_hash) DO NOTHING RETURNING public_key`,
    [
      newId('key'),
      projectId,
      mode,
      publicKey,
      sha256(publicKey),
      secretHash,
      `${opts.apiKey.slice(0, 8)}…${opts.apiKey.slice(-4)}`,
    ],
  );
  if (row) return { apiKey: opts.apiKey, publicKey: row.public_key };
  // Another instance registered the same key at the same moment: report the pair it stored.
  const [stored] = await db.query<{ public_key: string }>(
    'SELECT public_key FROM api_keys WHERE secret_key_hash = $1',
    [secretHash],
  );
  if (!stored) throw new Error('the configured API key could not be registered');
  return { apiKey: opts.apiKey, publicKey: stored.public_key };
}

/**
 * Starts the local Drip-compatible API server: opens the database (embedded PGlite by default, in
 * memory or in a directory; PostgreSQL with `databaseUrl`), applies migrations, issues a key pair for
 * the default project and listens.
 *
 * @example
 * ```ts
 * import { startServer } from '@drip/server';
 * const srv = await startServer({ port: 0, host: '127.0.0.1', memory: true });
 * // new Drip({ apiKey: srv.apiKey, baseUrl: `${srv.url}/v1` })
 * await srv.close();
 * ```
 */
export async function startServer(opts: StartServerOptions = {}): Promise<RunningServer> {
  // One process per embedded data directory: a second PGlite on the same files would acknowledge writes
  // that the first one later overwrites. The lock is taken before the database is opened.
  const lockDir = !opts.databaseUrl && !opts.memory && opts.dataDir ? opts.dataDir : undefined;
  const lock = lockDir ? acquireDataDirLock(lockDir, 'server') : undefined;
  let db: Driver | undefined;
  try {
    db = await openDriver(opts);
    await migrate(db);
    return await listen(opts, db, lock);
  } catch (err) {
    await db?.close().catch(() => {});
    lock?.release();
    throw err;
  }
}

async function listen(
  opts: StartServerOptions,
  db: Driver,
  lock: DataDirLock | undefined,
): Promise<RunningServer> {
  const log = opts.logger ?? createLogger(opts.logLevel ?? 'warn');
  const worker = new Worker();
  const auth = createAuthenticator({ db });
  const analyzer = createAnalyzer(db, (err) =>
    log.warn('analyze failed', { error: err instanceof Error ? err.message : String(err) }),
  );
  const deps: Deps = {
    db,
    settings: { ...DEFAULT_SETTINGS, ...opts.settings },
    log,
    version: SERVER_VERSION,
    inflight: new Map(),
    wake: () => worker.wake(),
    wrote: (rows) => analyzer.wrote(rows),
    trustProxy: opts.trustProxy ?? false,
  };
  const projectId = await defaultProjectId(db);
  const keys = await ensureKeys(db, projectId, opts);
  const app = createApp(deps, auth);
  const adminToken = lock ? randomBytes(32).toString('base64url') : undefined;
  if (adminToken) app.route('/', createLocalAdmin(db, adminToken));
  worker.attach(deps);
  const host = opts.host ?? '127.0.0.1';
  // Requests still executing: a client that gives up closes its connection, but its request keeps
  // running, so close() waits for them before it closes the database.
  let active = 0;
  let drained: (() => void) | undefined;
  const counted: typeof app.fetch = async (req, env, ctx) => {
    active++;
    try {
      return await app.fetch(req, env, ctx);
    } finally {
      active--;
      if (active === 0) drained?.();
    }
  };
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: counted, hostname: host, port: opts.port ?? 3001 }, () => resolve(s));
    s.once('error', reject);
  }).catch(async (err: unknown) => {
    // The port is taken (or the host invalid): stop the worker so the caller can close the database.
    await worker.stop();
    throw err;
  });
  server.on('clientError', answerClientError);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  lock?.update({ url, adminToken });
  log.info('listening', { url, database: db.kind });
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    apiKey: keys.apiKey,
    publicKey: keys.publicKey,
    projectId,
    store: createStore(db),
    database: db.kind,
    app,
    runWorker: () => worker.tick(),
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            if ('closeAllConnections' in server) server.closeAllConnections();
          }, 10_000);
          force.unref();
          server.close(() => {
            clearTimeout(force);
            resolve();
          });
          if ('closeIdleConnections' in server) server.closeIdleConnections();
        });
        if (active > 0) {
          await new Promise<void>((resolve) => {
            drained = resolve;
            setTimeout(resolve, 10_000).unref();
          });
        }
        await worker.stop();
        await analyzer.idle();
        await db.close();
        lock?.release();
        log.info('stopped');
      })();
      return closing;
    },
  };
}
