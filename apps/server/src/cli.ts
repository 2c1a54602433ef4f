#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { LogLevel } from './context';
import { migrate } from './db/migrate';
import { openPglite } from './db/pglite-driver';
import { openPostgres } from './db/pg-driver';
import { parseRateLimit } from './rate-limit';
import { insertKeyPair } from './routes/api-keys';
import { seedDemoData } from './seed';
import { startServer } from './server';
import { newId } from './util';

const HELP = `drip-server: a local Drip-compatible API server

Usage:
  drip-server start [--port 3001] [--host 127.0.0.1] [--data-dir .drip-data | --memory | --database-url URL]
                    [--log-level debug|info|warn|error] [--api-key sk_test_...] [--rate-limit 100/s]
  drip-server keys create [--mode test|live] [--name NAME] [--data-dir DIR | --database-url URL]
  drip-server seed [--port 0] [--data-dir DIR | --memory | --database-url URL]

DATABASE_URL selects PostgreSQL when --database-url is not given. --rate-limit (or DRIP_SERVER_RATE_LIMIT)
limits each project to N requests per s, m or h (429 RATE_LIMIT_EXCEEDED with Retry-After); off by default.`;

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

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
      'rate-limit': { type: 'string' },
      mode: { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub] = positionals;
  if (values.help || !command) {
    console.log(HELP);
    // Asked for help: success. No command at all: a usage error.
    return values.help ? 0 : 1;
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
    const db = databaseUrl ? await openPostgres(databaseUrl, 2) : await openPglite(dataDir);
    try {
      await migrate(db);
      let [project] = await db.query<{ id: string }>(
        'SELECT id FROM projects ORDER BY created_at, id LIMIT 1',
      );
      if (!project) {
        project = { id: newId('prj') };
        await db.query('INSERT INTO projects (id, name) VALUES ($1, $2)', [project.id, 'Default project']);
      }
      const pair = await insertKeyPair(db, { projectId: project.id, mode }, values.name ?? 'cli');
      console.log(`DRIP_API_KEY=${pair.secretKey}`);
      console.log(`DRIP_PUBLIC_KEY=${pair.publicKey}`);
    } finally {
      await db.close();
    }
    return 0;
  }
  console.error(HELP);
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
