/**
 * The tiny driver interface the query layer runs on. Two implementations: embedded PGlite and `pg`.
 * Every query is plain parameterised SQL that both PostgreSQL 15+ and PGlite accept.
 */

/** Something that runs one parameterised statement and returns its rows. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** A database connection (pool) with transactions. */
export interface Driver extends Queryable {
  /** `pglite` (embedded) or `postgres` (a `pg` pool). */
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` inside one transaction; commits when it resolves and rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations); no parameters. */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** A database error code (SQLSTATE) when the error carries one. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const cause = (err as { cause?: unknown }).cause;
    if (cause && cause !== err) return sqlState(cause);
  }
  return undefined;
}
