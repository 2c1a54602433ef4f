import { PGlite } from '@electric-sql/pglite';
import type { Driver, Queryable } from './driver';

/**
 * Opens the embedded database: a data directory, or memory when `dataDir` is undefined.
 * One PGlite instance is one connection; calls run in FIFO order, so transactions are serialised.
 */
export async function openPglite(dataDir: string | undefined): Promise<Driver> {
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  const wrap = (q: { query: PGlite['query'] }): Queryable => ({
    async query<T>(sql: string, params: readonly unknown[] = []) {
      const res = await q.query<T>(sql, params as unknown[]);
      return res.rows;
    },
  });
  const root = wrap(db);
  return {
    kind: 'pglite',
    query: root.query,
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    async exec(sql) {
      await db.exec(sql);
    },
    close: () => db.close(),
  };
}
