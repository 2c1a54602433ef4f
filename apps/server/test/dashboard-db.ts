// A database for tests that fill it with SQL and hand it to the dashboard alone (no server): embedded
// PGlite, or a fresh PostgreSQL database from DRIP_TEST_DATABASE_URL. The two drivers return numbers,
// bigints and timestamps differently, which is why dashboard tests run on both.
import { readdirSync, readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import pgPkg from 'pg';
import type { DashboardDb } from '../src/dashboard/index';
import { type Backend, freshDatabase } from './helpers';

/**
 * An open test database.
 *
 * @example
 * ```ts
 * const t: TestDb = await openTestDb('pglite');
 * await t.exec("INSERT INTO projects (id, name) VALUES ('proj_a', 'A')");
 * ```
 */
export interface TestDb {
  /** Runs SQL text with any number of statements and no parameters. */
  exec(sql: string): Promise<void>;
  db: DashboardDb;
  close(): Promise<void>;
}

/**
 * Opens an empty database on `backend` with every migration applied, in name order, as the server does.
 *
 * @example
 * ```ts
 * const { db, exec, close } = await openTestDb('postgres');
 * const app = createDashboard({ version: '1.0.0', db });
 * ```
 */
export async function openTestDb(backend: Backend): Promise<TestDb> {
  let t: TestDb;
  if (backend === 'postgres') {
    const fresh = await freshDatabase();
    const pool = new pgPkg.Pool({ connectionString: fresh.url, max: 2 });
    t = {
      exec: async (sql) => {
        await pool.query(sql);
      },
      db: {
        query: async <T>(sql: string, params?: readonly unknown[]) =>
          (await pool.query(sql, params as unknown[])).rows as T[],
      },
      close: async () => {
        await pool.end();
        await fresh.drop();
      },
    };
  } else {
    const lite = await PGlite.create();
    t = {
      exec: async (sql) => {
        await lite.exec(sql);
      },
      db: {
        query: async <T>(sql: string, params?: readonly unknown[]) =>
          (await lite.query<T>(sql, params as unknown[])).rows,
      },
      close: () => lite.close(),
    };
  }
  const dir = new URL('../migrations/', import.meta.url);
  for (const name of readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    await t.exec(readFileSync(new URL(name, dir), 'utf8'));
  }
  return t;
}
