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
  const local = inflightKey(scope, key);
  const running = deps.inflight.get(local);
  if (running !== undefined) throw running === fp ? inProgress(key) : reused(key);
  deps.inflight.set(local, fp);
  try {
    const out = await deps.db.transaction(async (tx) => {
      if (deps.db.kind === 'postgres') await tx.query("SET LOCAL lock_timeout = '3s'");
      const claimed = await tx.query(
        `INSERT INTO idempotency_keys (project_id, mode, key, route_class, fingerprint)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING key`,
        [scope.projectId, scope.mode, key, fp.split(':')[0], fp],
      );
      if (claimed.length === 0) {
        const [stored] = await tx.query<{
          fingerprint: string;
          status_code: number | null;
          response: Record<string, unknown> | null;
        }>(
          'SELECT fingerprint, status_code, response FROM idempotency_keys WHERE project_id = $1 AND mode = $2 AND key = $3',
          [scope.projectId, scope.mode, key],
        );
        if (!stored) throw inProgress(key);
        if (stored.fingerprint !== fp) throw reused(key);
        if (stored.status_code === null || !stored.response) throw inProgress(key);
        return {
          status: Number(stored.status_code),
          body: { ...stored.response, isDuplicate: true },
          replayed: true,
        };
      }
      const outcome = await exec(tx);
      if (outcome.status < 200 || outcome.status > 299) throw new Rollback(outcome);
      await tx.query(
        'UPDATE idempotency_keys SET status_code = $4, response = $5::jsonb WHERE project_id = $1 AND mode = $2 AND key = $3',
        [scope.projectId, scope.mode, key, outcome.status, JSON.stringify(outcome.body)],
      );
      return outcome;
    });
    out.after?.();
    return out;
  } catch (err) {
    if (err instanceof Rollback) return err.outcome;
    if (sqlState(err) === '55P03' || sqlState(err) === '40P01') throw inProgress(key);
    throw err;
  } finally {
    deps.inflight.delete(local);
  }
}
