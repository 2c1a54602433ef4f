import type { Deps, Queryable, Scope } from './context';
import { sqlState } from './db/driver';
import { ApiError } from './http';
import { canonicalJson, sha256 } from './util';

/** The result of a write route: status, body and work to start after commit. */
export interface Outcome {
  status: number;
  body: Record<string, unknown>;
  replayed?: boolean;
  /** Runs after a successful commit (wake the worker, ...). */
  after?: () => void;
}

/** Fingerprint of a validated body (spec §5.1): route class + SHA-256 of canonical JSON without the key. */
export function fingerprint(routeClass: string, body: Record<string, unknown>): string {
  const { idempotencyKey: _k, ...rest } = body;
  return `${routeClass}:${sha256(canonicalJson(rest))}`;
}

/** 409 IDEMPOTENCY_KEY_IN_PROGRESS with `Retry-After: 1`. */
export const inProgress = (key: string) =>
  new ApiError(
    409,
    'IDEMPOTENCY_KEY_IN_PROGRESS',
    `A request with idempotency key "${key}" is still being processed`,
    {
      headers: { 'Retry-After': '1' },
    },
  );
/** 409 IDEMPOTENCY_KEY_REUSED naming the key. */
export const reused = (key: string) =>
  new ApiError(
    409,
    'IDEMPOTENCY_KEY_REUSED',
    `Idempotency key "${key}" was already used with a different request`,
  );

/** Local key of the in-process in-flight map. */
export const inflightKey = (scope: Scope, key: string) => `${scope.projectId}\u0001${scope.mode}\u0001${key}`;

/** A keyed write: its idempotency key and the fingerprint of its body. */
export interface KeyedItem {
  key: string;
  fp: string;
}

/** What a key that this request did not claim stands for: a stored answer to replay, or a refusal. */
export type KeyVerdict =
  | { kind: 'replay'; status: number; response: Record<string, unknown> }
  | { kind: 'refused'; error: ApiError };

/**
 * Reserves keys in this process's in-flight map, so a duplicate that arrives while the first is executing
 * gets 409 IN_PROGRESS (same fingerprint) or REUSED (another) at once instead of waiting on a row lock.
 * Returns the refusals by index (an `undefined` item has no key) and `release()`, to call when done.
 *
 * @example
 * ```ts
 * const r = reserveKeys(deps, scope, [{ key: 'k1', fp }]);
 * try { ... } finally { r.release(); }
 * ```
 */
export function reserveKeys(
  deps: Deps,
  scope: Scope,
  items: readonly (KeyedItem | undefined)[],
): { refused: Map<number, ApiError>; release(): void } {
  const refused = new Map<number, ApiError>();
  const mine: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item === undefined) continue;
    const local = inflightKey(scope, item.key);
    const running = deps.inflight.get(local);
    if (running !== undefined) {
      refused.set(i, running === item.fp ? inProgress(item.key) : reused(item.key));
      continue;
    }
    deps.inflight.set(local, item.fp);
    mine.push(local);
  }
  return {
    refused,
    release: () => {
      for (const k of mine) deps.inflight.delete(k);
    },
  };
}

/** A key to claim, with the answer to store along with it when the answer is known before the write. */
export interface KeyClaim extends KeyedItem {
  /** Status and JSON text of the response, stored in the same statement (bulk paths). */
  stored?: { status: number; json: string };
  /**
   * The values of this key's effect row, for {@link claimKeysAnd}: they travel in the claim document and
   * the effect reads them from `claimed_rows(r)` only if this key is claimed.
   */
  row?: readonly unknown[];
}

/**
 * The claims as one JSON document, in key order (concurrent requests then lock their keys in one order).
 * Stored responses are embedded as JSON text as they are (no re-serialisation).
 */
function claimDocument(claims: readonly KeyClaim[]): string {
  const sorted = [...claims].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let doc = '[';
  for (let j = 0; j < sorted.length; j++) {
    const c = sorted[j] as KeyClaim;
    const cls = c.fp.slice(0, c.fp.lastIndexOf(':'));
    const row = c.row === undefined ? '' : `,${JSON.stringify(c.row)}`;
    doc += `${j === 0 ? '' : ','}[${JSON.stringify(c.key)},${JSON.stringify(c.fp)},${JSON.stringify(cls)},${c.stored ? `${c.stored.status},${c.stored.json}` : 'null,null'}${row}]`;
  }
  return `${doc}]`;
}

/**
 * The claiming insert, the one place where a key is applied once: the primary key of `idempotency_keys`
 * is the arbiter across requests and server instances (a concurrent claim blocks until the other
 * transaction ends). Parameters: $1 project id, $2 mode; `from` yields the claims of the document as
 * `x(e, n)`. `guard` is an extra WHERE condition (nothing is claimed when it is false).
 */
const claimInsert = (from: string, guard = '') =>
  `INSERT INTO idempotency_keys (project_id, mode, key, route_class, fingerprint, status_code, response)
     SELECT $1, $2, e->>0, e->>2, e->>1, (e->>3)::int, nullif(e->4, 'null'::jsonb)
     FROM ${from}${guard ? ` WHERE ${guard}` : ''} ORDER BY x.n
     ON CONFLICT DO NOTHING RETURNING key`;

const CLAIM_ELEMENTS = 'jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(e, n)';

/**
 * Claims keys in the database in one statement (see {@link claimKeysAnd} to write the effect in the same
 * statement). Keys are claimed in key order so concurrent requests lock them in one order. Returns the
 * keys claimed; for the others, ask {@link lostKeys}. The route class is the fingerprint's prefix.
 *
 * @example
 * ```ts
 * const won = await claimKeys(tx, scope, [{ key: 'k1', fp: 'usage:sync:ab12...' }]);
 * ```
 */
export async function claimKeys(
  tx: Queryable,
  scope: Scope,
  claims: readonly KeyClaim[],
): Promise<Set<string>> {
  if (claims.length === 0) return new Set();
  const rows = await tx.query<{ key: string }>(claimInsert(CLAIM_ELEMENTS), [
    scope.projectId,
    scope.mode,
    claimDocument(claims),
  ]);
  return new Set(rows.map((r) => r.key));
}

/** The write that goes with a set of claims in {@link claimKeysAnd}. */
export interface ClaimedEffect {
  /**
   * A data-modifying statement (an INSERT ... SELECT) that reads its rows from the CTE `claimed_rows(r)`:
   * the `row` of each claim this statement won, as a JSON array, in key order; the rows of keys not won
   * are not there. It may use $1 (project id) and $2 (mode); its own parameters are numbered from $5 on
   * ($3 and $4 belong to the claim).
   */
  sql: string;
  /** The values of $5, $6, ... */
  params: readonly unknown[];
  /**
   * A query: when it returns a row, nothing is claimed nor written and the result says `blocked` (for
   * example "the scope has an active webhook", where the caller must take a transactional path).
   */
  unless?: string;
}

/**
 * Claims keys and writes their effect in one statement: a single statement is atomic, so no explicit
 * transaction (and no round trip for BEGIN/COMMIT) is needed, and the effect sees only the rows of the
 * keys this statement claimed. Keys and effect rows travel as one JSON document. The claims are the same
 * as {@link claimKeys} takes (in key order, with their stored responses) plus each one's `row`; for the
 * keys not won, ask {@link lostKeys}.
 *
 * @example
 * ```ts
 * const r = await claimKeysAnd(db, scope, [{ key: 'k1', fp, row: ['use_1', 'cus_1'] }], {
 *   sql: `INSERT INTO events (id, project_id, mode, kind, customer_id, created_at)
 *         SELECT r->>0, $1, $2, 'usage', r->>1, $5 FROM claimed_rows`,
 *   params: [new Date().toISOString()],
 * });
 * if (!r.blocked && !r.won.has('k1')) ...; // a replay or a 409: see lostKeys
 * ```
 */
export async function claimKeysAnd(
  db: Queryable,
  scope: Scope,
  claims: readonly KeyClaim[],
  effect: ClaimedEffect,
): Promise<{ blocked: boolean; won: Set<string> }> {
  if (claims.length === 0) return { blocked: false, won: new Set() };
  const unless = effect.unless !== undefined;
  const guard = unless ? `unless AS (${effect.unless}),\n       ` : '';
  // `claimed` lists the keys written only when some were not (replays), so the common answer is one row
  // with two small values.
  const [r] = await db.query<{ blocked: boolean; claimed: string[] | null }>(
    `WITH src AS (SELECT e, n FROM ${CLAIM_ELEMENTS}),
       ${guard}claimed AS (${claimInsert('src AS x', unless ? 'NOT EXISTS (SELECT 1 FROM unless)' : '')}),
       claimed_rows AS (SELECT x.e->5 AS r FROM src AS x WHERE x.e->>0 IN (SELECT key FROM claimed) ORDER BY x.n),
       effect AS (${effect.sql})
     SELECT ${unless ? 'EXISTS (SELECT 1 FROM unless)' : 'false'} AS blocked,
       (SELECT CASE WHEN count(*) = $4 THEN NULL ELSE coalesce(array_agg(key), '{}') END FROM claimed) AS claimed`,
    [scope.projectId, scope.mode, claimDocument(claims), claims.length, ...effect.params],
  );
  if (r?.blocked) return { blocked: true, won: new Set() };
  return { blocked: false, won: new Set(r?.claimed ?? claims.map((c) => c.key)) };
}

/**
 * What each key that another request claimed stands for (spec §5.1): the same fingerprint with a stored
 * answer is a replay; another fingerprint is 409 REUSED; no stored answer yet is 409 IN_PROGRESS.
 *
 * @example
 * ```ts
 * const verdicts = await lostKeys(tx, scope, [{ key: 'k1', fp }]);
 * const v = verdicts.get('k1'); // { kind: 'replay', status: 201, response: {...} }
 * ```
 */
export async function lostKeys(
  tx: Queryable,
  scope: Scope,
  items: readonly KeyedItem[],
): Promise<Map<string, KeyVerdict>> {
  const out = new Map<string, KeyVerdict>();
  if (items.length === 0) return out;
  const stored = await tx.query<{
    key: string;
    fingerprint: string;
    status_code: number | null;
    response: Record<string, unknown> | null;
  }>(
    'SELECT key, fingerprint, status_code, response FROM idempotency_keys WHERE project_id = $1 AND mode = $2 AND key = ANY($3::text[])',
    [scope.projectId, scope.mode, items.map((i) => i.key)],
  );
  const byKey = new Map(stored.map((s) => [s.key, s]));
  for (const { key, fp } of items) {
    const s = byKey.get(key);
    if (s && s.fingerprint !== fp) out.set(key, { kind: 'refused', error: reused(key) });
    else if (!s || s.status_code === null || !s.response)
      out.set(key, { kind: 'refused', error: inProgress(key) });
    else out.set(key, { kind: 'replay', status: Number(s.status_code), response: s.response });
  }
  return out;
}

/** Stores the answer of a claimed key, in the transaction of its effect. */
export async function storeResponse(
  tx: Queryable,
  scope: Scope,
  key: string,
  status: number,
  body: Record<string, unknown>,
): Promise<void> {
  await tx.query(
    'UPDATE idempotency_keys SET status_code = $4, response = $5::jsonb WHERE project_id = $1 AND mode = $2 AND key = $3',
    [scope.projectId, scope.mode, key, status, JSON.stringify(body)],
  );
}

class Rollback extends Error {
  constructor(readonly outcome: Outcome) {
    super('rollback');
  }
}

/**
 * Runs a keyed write exactly once per (project, mode, key) (spec §5.1). The key row is inserted first in
 * the effect's transaction, so the primary key is the arbiter: a second instance blocks on it, then sees
 * the stored response. A duplicate still executing in this process gets 409 IN_PROGRESS at once. Only
 * 2xx outcomes are stored; any other outcome rolls back, key included.
 */
export async function runIdempotent(
  deps: Deps,
  scope: Scope,
  key: string,
  fp: string,
  exec: (tx: Queryable) => Promise<Outcome>,
): Promise<Outcome> {
  const reservation = reserveKeys(deps, scope, [{ key, fp }]);
  const refused = reservation.refused.get(0);
  if (refused) throw refused;
  try {
    const out = await deps.db.transaction(async (tx) => {
      if (deps.db.kind === 'postgres') await tx.query("SET LOCAL lock_timeout = '3s'");
      if (!(await claimKeys(tx, scope, [{ key, fp }])).has(key)) {
        const v = (await lostKeys(tx, scope, [{ key, fp }])).get(key);
        if (!v || v.kind === 'refused') throw v?.error ?? inProgress(key);
        return { status: v.status, body: { ...v.response, isDuplicate: true }, replayed: true };
      }
      const outcome = await exec(tx);
      if (outcome.status < 200 || outcome.status > 299) throw new Rollback(outcome);
      await storeResponse(tx, scope, key, outcome.status, outcome.body);
      return outcome;
    });
    out.after?.();
    return out;
  } catch (err) {
    if (err instanceof Rollback) return err.outcome;
    if (sqlState(err) === '55P03' || sqlState(err) === '40P01') throw inProgress(key);
    throw err;
  } finally {
    reservation.release();
  }
}
