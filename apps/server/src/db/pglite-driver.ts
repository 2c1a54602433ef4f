import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Driver, Queryable } from './driver';
import { migrate, migrationsFingerprint } from './migrate';

function wrapPglite(db: PGlite): Driver {
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

/**
 * Opens the embedded database: a data directory, or memory when `dataDir` is undefined.
 * One PGlite instance is one connection; calls run in FIFO order, so transactions are serialised.
 *
 * A new in-memory database starts from a migrated template kept in the OS temp directory (keyed by
 * the migrations' content), which takes a fraction of a second instead of running initdb and the
 * migrations again; without a usable template it is created from scratch and the template written.
 */
// An in-memory database ends with the process, so the write-ahead log protects nothing there: it is kept
// to its minimum, and the tables every ingest writes (events, idempotency keys, runs) are unlogged. What
// is stored, and what a query reads, is the same; a directory-backed database keeps the defaults.
const MEMORY_CONF = [
  'wal_level = minimal',
  'max_wal_senders = 0',
  'full_page_writes = off',
  'wal_init_zero = off',
];

async function memoryOnly(driver: Driver): Promise<Driver> {
  await driver.exec(
    'ALTER TABLE events SET UNLOGGED; ALTER TABLE idempotency_keys SET UNLOGGED; ALTER TABLE runs SET UNLOGGED;',
  );
  return driver;
}

export async function openPglite(dataDir: string | undefined): Promise<Driver> {
  if (dataDir) return wrapPglite(await PGlite.create({ dataDir }));
  const template = join(
    tmpdir(),
    `drip-server-pglite-${createHash('sha256').update(migrationsFingerprint()).digest('hex').slice(0, 16)}.tgz`,
  );
  if (existsSync(template)) {
    try {
      return await memoryOnly(
        wrapPglite(
          await PGlite.create({
            loadDataDir: new Blob([readFileSync(template)]),
            postgresqlconf: MEMORY_CONF,
          }),
        ),
      );
    } catch {
      // A template from another PGlite version or a partial file: fall back to a fresh database.
    }
  }
  const db = await PGlite.create();
  const driver = wrapPglite(db);
  await migrate(driver);
  try {
    const dump = await db.dumpDataDir('gzip');
    const tmp = `${template}.${process.pid}.${Date.now()}`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, template);
  } catch {
    // The template is only a speed-up.
  }
  // The template keeps the default settings; this instance started with them, which costs only speed.
  return memoryOnly(driver);
}
