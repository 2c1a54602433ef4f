import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
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
import { answerClientError } from './http';
import { migrate } from './db/migrate';
import { openPglite } from './db/pglite-driver';
import { openPostgres } from './db/pg-driver';
import { createLogger } from './logger';
import { insertKeyPair } from './routes/api-keys';
import { createStore, type Store } from './store';
import { newId, sha256 } from './util';
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

async function defaultProject(db: Driver): Promise<string> {
  const [row] = await db.query<{ id: string }>('SELECT id FROM projects ORDER BY created_at, id LIMIT 1');
  if (row) return row.id;
  const id = newId('prj');
  await db.query('INSERT INTO projects (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
    id,
    'Default project',
  ]);
  const [again] = await db.query<{ id: string }>('SELECT id FROM projects ORDER BY created_at, id LIMIT 1');
  return again?.id ?? id;
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
  const publicKey = opts.publicKey ?? `pk_${mode}_${sha256(opts.apiKey).slice(0, 32)}`;
  if (!publicKey.startsWith(`pk_${mode}_`)) throw new Error(`publicKey must start with pk_${mode}_`);
  const [known] = await db.query('SELECT id FROM api_keys WHERE secret_key_hash = $1', [sha256(opts.apiKey)]);
  if (!known) {
    await db.query(
      `INSERT INTO api_keys (id, project_id, mode, name, public_key, public_key_hash, secret_key_hash, secret_key_hint)
       VALUES ($1, $2, $3, 'configured', $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [
        newId('key'),
        projectId,
        mode,
        publicKey,
        sha256(publicKey),
        sha256(opts.apiKey),
        `${opts.apiKey.slice(0, 8)}…${opts.apiKey.slice(-4)}`,
      ],
    );
  }
  return { apiKey: opts.apiKey, publicKey };
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
  const db = await openDriver(opts);
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
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
    invalidateAuth: () => auth.invalidate(),
  };
  const projectId = await defaultProject(db);
  const keys = await ensureKeys(db, projectId, opts);
  const app = createApp(deps, auth);
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
  });
  server.on('clientError', answerClientError);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
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
        log.info('stopped');
      })();
      return closing;
    },
  };
}
