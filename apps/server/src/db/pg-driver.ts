import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Driver, Queryable } from './driver';

const names = new Map<string, string>();

/**
 * Parameterised statements run as named prepared statements: PostgreSQL plans each text once per
 * connection instead of on every call (the query layer's statements are a small fixed set).
 */
function config(sql: string, params: readonly unknown[]): pg.QueryConfig {
  if (params.length === 0) return { text: sql };
  let name = names.get(sql);
  if (!name) {
    name = `drip_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    if (names.size < 5000) names.set(sql, name);
  }
  return { name, text: sql, values: params as unknown[] };
}

/** Opens a `pg` pool on a PostgreSQL connection string. */
export async function openPostgres(connectionString: string, max = 10): Promise<Driver> {
  const pool = new pg.Pool({ connectionString, max });
  // An idle client that loses its connection must not crash the process.
  pool.on('error', () => {});
  const probe = await pool.connect();
  probe.release();
  return {
    kind: 'postgres',
    async query<T>(sql: string, params: readonly unknown[] = []) {
      const res = await pool.query(config(sql, params));
      return res.rows as T[];
    },
    async transaction(fn) {
      const client = await pool.connect();
      const tx: Queryable = {
        async query<T>(sql: string, params: readonly unknown[] = []) {
          const res = await client.query(config(sql, params));
          return res.rows as T[];
        },
      };
      let broken = false;
      try {
        await client.query('BEGIN');
        const out = await fn(tx);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async exec(sql) {
      await pool.query(sql);
    },
    close: () => pool.end(),
  };
}
