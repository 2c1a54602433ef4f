#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { LogLevel } from './context';
import { migrate } from './db/migrate';
import { openPglite } from './db/pglite-driver';
import { openPostgres } from './db/pg-driver';
import {
  acquireDataDirLock,
  type DataDirLock,
  type DataDirLockInfo,
  DataDirLockedError,
  readDataDirLock,
} from './db/data-dir-lock';
import type { Driver } from './db/driver';
import { createDefaultProjectKeys } from './routes/api-keys';
import { ADMIN_KEYS_PATH } from './admin';
import { parseRateLimit } from './rate-limit';
import { seedDemoData } from './seed';
import { startServer } from './server';

const HELP = `drip-server: a local Drip-compatible API server

Usage:
  drip-server [start] [--port 3001] [--host 127.0.0.1] [--data-dir .drip-data | --memory | --database-url URL]
                    [--log-level debug|info|warn|error] [--api-key sk_test_...] [--trust-proxy]
                    [--rate-limit 100/s]
  drip-server keys create [--mode test|live] [--name NAME] [--data-dir DIR | --database-url URL]
                    (on a data directory a server holds, the key is created through that server)
  drip-server seed [--port 0] [--data-dir DIR | --memory | --database-url URL]
  drip-server --help

With no command, drip-server starts the server (as \`start\`), so \`npx @drip/server\` is enough.

DATABASE_URL selects PostgreSQL when --database-url is not given. DRIP_SERVER_API_KEY stands for --api-key.
--rate-limit (or DRIP_SERVER_RATE_LIMIT) limits each project to N requests per s, m or h (429 RATE_LIMIT_EXCEEDED
with Retry-After); off by default.
--trust-proxy (or DRIP_SERVER_TRUST_PROXY=1) believes X-Forwarded-Proto/-Host and Forwarded headers: use it
only behind a reverse proxy that sets them (the dashboard cookie is then Secure behind https).`;

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

/** A boolean environment variable: 1/true/yes turn it on, 0/false/no/empty leave it off, anything else is an error. */
function envFlag(name: string): boolean {
  const raw = (process.env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new Error(`${name} must be 1/true/yes or 0/false/no`);
}

type KeyPair = { secretKey: string; publicKey: string };

async function keysInDatabase(db: Driver, mode: 'test' | 'live', name: string): Promise<KeyPair> {
  try {
    await migrate(db);
    return await createDefaultProjectKeys(db, mode, name);
  } finally {
    await db.close();
  }
}

/**
 * A key pair in an embedded data directory. A running server holds the directory, and a second process
 * must not open the database next to it (the server would never see the key, and would overwrite it):
 * the key is then created through the running server's local admin route, whose address and token its
 * lock file holds. Otherwise this process takes the lock itself while it writes.
 */
async function keysInDataDir(dir: string, mode: 'test' | 'live', name: string): Promise<KeyPair> {
  let lock: DataDirLock;
  try {
    lock = acquireDataDirLock(dir, 'cli');
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err;
    let holder: DataDirLockInfo | null = err.holder;
    // A server that is still migrating has not written its address yet: give it a minute.
    for (let i = 0; i < 300 && holder?.role === 'server' && !holder.url; i++) {
      await new Promise((r) => setTimeout(r, 200));
      holder = readDataDirLock(dir);
    }
    if (!holder) return keysInDataDir(dir, mode, name); // it stopped meanwhile: write directly
    const { url, adminToken } = holder;
    if (holder.role !== 'server' || !url || !adminToken) throw new DataDirLockedError(dir, holder);
    const res = await fetch(`${url}${ADMIN_KEYS_PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mode, name }),
    }).catch((cause: unknown) => {
      throw new Error(
        `the server holding ${dir} (${url}) did not answer (${cause instanceof Error ? cause.message : String(cause)}); is it still starting? Try again, or stop it and rerun.`,
      );
    });
    if (res.status !== 201)
      throw new Error(
        `the server holding ${dir} (${url}) refused to create the key: HTTP ${res.status} ${await res.text()}`,
      );
    return (await res.json()) as KeyPair;
  }
  try {
    return await keysInDatabase(await openPglite(dir), mode, name);
  } finally {
    lock.release();
  }
}

/** The `rateLimit` setting from --rate-limit / DRIP_SERVER_RATE_LIMIT, checked before the server starts. */
function rateLimitSetting(text: string | undefined): string | null {
  return parseRateLimit(text) ? (text ?? null) : null;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      memory: { type: 'boolean' },
      'database-url': { type: 'string' },
      'log-level': { type: 'string' },
      'api-key': { type: 'string' },
      'trust-proxy': { type: 'boolean' },
      'rate-limit': { type: 'string' },
      mode: { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  // No command means `start`: `npx @drip/server` (with or without flags) is how most people run it.
  const [command = 'start', sub] = positionals;
  if (values.help || command === 'help') {
    console.log(HELP);
    return 0;
  }
  const databaseUrl = values['database-url'] ?? process.env.DATABASE_URL ?? undefined;
  const dataDir = values.memory ? undefined : (values['data-dir'] ?? '.drip-data');
  const logLevel = (values['log-level'] ?? 'info') as LogLevel;
  if (!LEVELS.includes(logLevel)) throw new Error(`--log-level must be one of ${LEVELS.join(', ')}`);

  if (command === 'start' || command === 'seed') {
    const port = Number(values.port ?? (command === 'seed' ? 0 : 3001));
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new Error('--port must be an integer 0-65535');
    const srv = await startServer({
      port,
      host: values.host ?? '127.0.0.1',
      memory: Boolean(values.memory),
      dataDir,
      databaseUrl,
      logLevel: command === 'seed' ? 'warn' : logLevel,
      apiKey: values['api-key'] ?? process.env.DRIP_SERVER_API_KEY,
      trustProxy: values['trust-proxy'] ?? envFlag('DRIP_SERVER_TRUST_PROXY'),
      settings: { rateLimit: rateLimitSetting(values['rate-limit'] ?? process.env.DRIP_SERVER_RATE_LIMIT) },
    });
    if (command === 'seed') {
      const out = await seedDemoData(srv.url, srv.apiKey);
      console.log(JSON.stringify({ seeded: out, apiKey: srv.apiKey, publicKey: srv.publicKey }, null, 2));
      await srv.close();
      return 0;
    }
    console.log(
      `Drip local server ${srv.url} (${srv.database}${srv.database === 'pglite' ? (dataDir ? `, ${dataDir}` : ', in memory') : ''})`,
    );
    console.log(`  API base URL  ${srv.url}/v1`);
    console.log(`  Secret key    ${srv.apiKey}`);
    console.log(`  Public key    ${srv.publicKey}`);
    const link = await fetch(`${srv.url}/dashboard/login-links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.apiKey}` },
    })
      .then((r) => (r.status === 201 ? (r.json() as Promise<{ url?: string }>) : undefined))
      .catch(() => undefined);
    console.log(`  Dashboard     ${link?.url ?? `${srv.url}/`}${link?.url ? '  (one-time login link)' : ''}`);
    const stop = (signal: string) => {
      console.log(`${signal}: finishing in-flight requests...`);
      srv.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    return -1;
  }

  if (command === 'keys' && sub === 'create') {
    const mode = values.mode ?? 'test';
    if (mode !== 'test' && mode !== 'live') throw new Error('--mode must be test or live');
    const name = values.name ?? 'cli';
    const pair = databaseUrl
      ? await keysInDatabase(await openPostgres(databaseUrl, 2), mode, name)
      : await keysInDataDir(dataDir ?? '.drip-data', mode, name);
    console.log(`DRIP_API_KEY=${pair.secretKey}`);
    console.log(`DRIP_PUBLIC_KEY=${pair.publicKey}`);
    return 0;
  }
  console.error(`drip-server: unknown command "${positionals.join(' ')}"\n\n${HELP}`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    console.error(`drip-server: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
