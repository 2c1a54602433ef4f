import type { Driver } from './driver';

/**
 * Tables looked up by a unique key (`runs_external`, the primary keys, `workflows_slug`) that have a
 * second index sharing the key's leading `(project_id, mode)` columns (`runs_list`, `customers_list`,
 * `customers_onchain`). `events` and `idempotency_keys` are not among them: their lookups match one
 * index only (`events_run`, the primary key), whatever the statistics say.
 */
export const ANALYZED_TABLES = ['runs', 'customers', 'workflows'] as const;

/** Rows written between two checks of the tables' statistics. */
const CHECK_EVERY = 100;

/**
 * Tables of `ANALYZED_TABLES` whose statistics are missing or stale: never analysed (nor vacuumed,
 * `reltuples < 0`), or more than twice as large (plus 8 pages) as then. Reads only the catalog and the
 * files' sizes, so it sees rows written by every connection and every instance at once.
 */
const STALE_SQL = `SELECT t.name FROM unnest($1::text[]) AS t(name)
  JOIN pg_class c ON c.oid = to_regclass(t.name)
  WHERE pg_relation_size(c.oid) > 0
    AND (c.reltuples < 0
      OR pg_relation_size(c.oid) / current_setting('block_size')::int > c.relpages * 2 + 8)`;

/**
 * Keeps the planner's statistics of the ingest tables current, so that a lookup by a unique key
 * (`runs_external`, the primary keys) is planned through that key's index.
 *
 * Why: on a table PostgreSQL has never analysed, the planner estimates `project_id = $1 AND mode = $2`
 * at 0.5% of 0.5% of the rows, which stays under one row up to about 40,000 rows. The index that matches
 * only those two columns (`runs_list`) then costs no more than the unique index on the full key, and the
 * planner picks it: a lookup by `externalRunId` reads every run of the project (23 ms at 30,000 runs).
 * Custom and generic plans alike, on PostgreSQL until autovacuum's first analysis (up to a minute, never
 * when autovacuum is off) and on PGlite always (it has no autovacuum). With statistics, the estimate for
 * `(project_id, mode)` is the project's real share of the table and the unique index wins.
 *
 * How: the write paths report how many rows they stored; every {@link CHECK_EVERY} rows, after the
 * response, one catalog query finds the tables that were never analysed or have more than doubled
 * since their last analysis, and `ANALYZE` runs on those (PostgreSQL reads a bounded sample of 30,000
 * rows). The growth rule matters: statistics taken from the first few rows of a table can describe
 * every run as its own project, and PGlite never refreshes them on its own. Doubling keeps the number
 * of analyses logarithmic in the table's size (5 of `runs` on the way to 30,000 runs). At most one check runs at
 * a time.
 *
 * @example
 * ```ts
 * const analyzer = createAnalyzer(db, (err) => log.warn('analyze failed', { error: String(err) }));
 * analyzer.wrote(500); // after a bulk write
 * await analyzer.idle(); // before closing the database
 * ```
 */
export interface Analyzer {
  /** Reports rows stored by a request; may start a check (never waits for it). */
  wrote(rows: number): void;
  /** Resolves once no check or `ANALYZE` is running. */
  idle(): Promise<void>;
}

/**
 * Creates the {@link Analyzer} of a database.
 *
 * @example
 * ```ts
 * const analyzer = createAnalyzer(db, () => {});
 * analyzer.wrote(1);
 * ```
 */
export function createAnalyzer(db: Driver, onError: (err: unknown) => void): Analyzer {
  let pending = 0;
  let running: Promise<void> | undefined;
  const check = async (): Promise<void> => {
    const stale = await db.query<{ name: string }>(STALE_SQL, [[...ANALYZED_TABLES]]);
    if (stale.length === 0) return;
    // Names come from ANALYZED_TABLES, never from a request.
    await db.exec(`ANALYZE ${stale.map((r) => `"${r.name}"`).join(', ')}`);
  };
  const start = () => {
    pending = 0;
    running = check()
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (pending >= CHECK_EVERY) start();
      });
  };
  return {
    wrote(rows) {
      pending += rows;
      if (pending >= CHECK_EVERY && !running) start();
    },
    async idle() {
      // A check that ends may start the next one (rows written meanwhile): wait for those too.
      for (let i = 0; i < 10 && running; i++) await running;
    },
  };
}
