// Shared setup of the server suite: the same tests run against the embedded database (PGlite) and
// against PostgreSQL from DRIP_TEST_DATABASE_URL (a fresh database per test file). A missing
// DRIP_TEST_DATABASE_URL fails the PostgreSQL suite; it never skips.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { type ProjectKeys, type RunningServer, type ServerSettings, startServer } from '../src/index';

const ALL_BACKENDS = ['pglite', 'postgres'] as const;
export type Backend = (typeof ALL_BACKENDS)[number];

/**
 * The back ends the suite runs on: both, unless DRIP_TEST_BACKENDS names fewer (a comma list; an unknown
 * name fails). The test command's node20 step runs on PGlite only: the PostgreSQL half is the same server
 * code against another database, and runs on Node 24.
 */
export const BACKENDS: readonly Backend[] = selectBackends(process.env.DRIP_TEST_BACKENDS);

function selectBackends(list: string | undefined): readonly Backend[] {
  if (list === undefined || list.trim() === '') return ALL_BACKENDS;
  const names = list.split(',').map((n) => n.trim());
  for (const n of names) {
    if (!(ALL_BACKENDS as readonly string[]).includes(n)) {
      throw new Error(`DRIP_TEST_BACKENDS: unknown back end ${n} (known: ${ALL_BACKENDS.join(', ')})`);
    }
  }
  return ALL_BACKENDS.filter((b) => names.includes(b));
}

export type Json = Record<string, unknown>;

/** A fresh PostgreSQL database on the test cluster; returns its URL and a drop function. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env.DRIP_TEST_DATABASE_URL;
  if (!base) {
    throw new Error(
      'DRIP_TEST_DATABASE_URL is not set: the PostgreSQL suite needs a server (scripts/test-all.sh starts one with scripts/pg-tmp.sh)',
    );
  }
  const name = `drip_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Starts one server for the enclosing describe block (one per test file and back end). */
export function useServer(
  backend: Backend,
  settings: Partial<ServerSettings> = {},
): { readonly srv: RunningServer } {
  const holder: { srv?: RunningServer; drop?: () => Promise<void> } = {};
  beforeAll(async () => {
    if (backend === 'postgres') {
      const db = await freshDatabase();
      holder.drop = db.drop;
      holder.srv = await startServer({
        port: 0,
        host: '127.0.0.1',
        databaseUrl: db.url,
        poolSize: 20,
        settings,
      });
    } else {
      holder.srv = await startServer({ port: 0, host: '127.0.0.1', memory: true, settings });
    }
  });
  afterAll(async () => {
    await holder.srv?.close();
    await holder.drop?.();
  });
  return {
    get srv() {
      if (!holder.srv) throw new Error('server not started');
      return holder.srv;
    },
  };
}

/** A small JSON client for one key. */
export function client(srv: RunningServer, key: string) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${srv.url}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: Json = {};
    try {
      json = text ? (JSON.parse(text) as Json) : {};
    } catch {
      json = { _raw: text };
    }
    return { status: res.status, body: json, headers: res.headers };
  };
}

export type Call = ReturnType<typeof client>;

/** A fresh project with keys and a client for it. */
export async function project(srv: RunningServer): Promise<ProjectKeys & { call: Call; pub: Call }> {
  const keys = await srv.store.createProject();
  return { ...keys, call: client(srv, keys.apiKey), pub: client(srv, keys.publicKey) };
}

/** Polls `check` until it returns a truthy value (bounded). */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Runs the settlement worker until the charge leaves PENDING (bounded: 100 rounds, 20 ms apart) and returns
 * the charge as `GET /charges/:id` answers it, or undefined if it is still pending.
 */
export async function settleCharge(
  srv: RunningServer,
  call: Call,
  chargeId: string,
): Promise<Json | undefined> {
  for (let i = 0; i < 100; i++) {
    await srv.runWorker();
    const c = await call('GET', `/charges/${chargeId}`);
    if (c.body.status !== 'PENDING') return c.body;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}
