import type { Hono } from 'hono';
import { z } from 'zod';
import { requireCurrentKey } from '../auth';
import type { AppEnv, Deps, Queryable, Scope } from '../context';
import { ApiError, notFound, pageQuery, pathId, readJson, send, validate, validateQuery } from '../http';
import { apiKeyOut } from '../shapes';
import { newId, newKeyValue, sha256 } from '../util';
import { Emitter } from '../webhooks/emit';
import { pagedList, Where } from './common';

/** A new key pair for a project and mode. The raw keys exist only in the return value. */
export async function insertKeyPair(
  db: Queryable,
  scope: Scope,
  name: string,
): Promise<{ row: Record<string, unknown>; secretKey: string; publicKey: string }> {
  const secretKey = newKeyValue(scope.mode === 'live' ? 'sk_live_' : 'sk_test_');
  const publicKey = newKeyValue(scope.mode === 'live' ? 'pk_live_' : 'pk_test_');
  const [row] = await db.query(
    `INSERT INTO api_keys (id, project_id, mode, name, public_key, public_key_hash, secret_key_hash, secret_key_hint)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [
      newId('key'),
      scope.projectId,
      scope.mode,
      name,
      publicKey,
      sha256(publicKey),
      sha256(secretKey),
      hint(secretKey),
    ],
  );
  return { row: row ?? {}, secretKey, publicKey };
}

/**
 * The id of the default project (the oldest one), created on first use. Servers starting at once on one
 * PostgreSQL agree on it.
 *
 * @example
 * ```ts
 * const projectId = await defaultProjectId(db);
 * ```
 */
export async function defaultProjectId(db: Queryable): Promise<string> {
  const first = 'SELECT id FROM projects ORDER BY created_at, id LIMIT 1';
  const [row] = await db.query<{ id: string }>(first);
  if (row) return row.id;
  const id = newId('prj');
  await db.query('INSERT INTO projects (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
    id,
    'Default project',
  ]);
  const [again] = await db.query<{ id: string }>(first);
  return again?.id ?? id;
}

/**
 * A new key pair for the default project: what `drip-server keys create` prints, whether it writes the
 * database itself or asks the running server that holds the data directory.
 *
 * @example
 * ```ts
 * const { secretKey, publicKey } = await createDefaultProjectKeys(db, 'test', 'cli');
 * ```
 */
export async function createDefaultProjectKeys(
  db: Queryable,
  mode: 'test' | 'live',
  name: string,
): Promise<{ projectId: string; secretKey: string; publicKey: string }> {
  const projectId = await defaultProjectId(db);
  const pair = await insertKeyPair(db, { projectId, mode }, name);
  return { projectId, secretKey: pair.secretKey, publicKey: pair.publicKey };
}

function hint(secretKey: string): string {
  return `${secretKey.slice(0, 8)}…${secretKey.slice(-4)}`;
}

export function registerApiKeys(api: Hono<AppEnv>, deps: Deps): void {
  const { db } = deps;

  api.post('/api-keys', async (c) => {
    const auth = c.get('auth');
    requireCurrentKey(auth);
    const b = validate(z.object({ name: z.string().min(1).max(100) }), await readJson(c));
    let wake = false;
    const out = await db.transaction(async (tx) => {
      const pair = await insertKeyPair(tx, auth, b.name);
      const em = new Emitter(tx, auth);
      await em.emit('api_key.created', {
        id: pair.row.id,
        name: b.name,
        mode: auth.mode,
        publicKey: pair.publicKey,
      });
      wake = em.deliveries > 0;
      return pair;
    });
    if (wake) deps.wake();
    return send(c, 201, {
      ...apiKeyOut(out.row),
      secretKey: out.secretKey,
      message: 'Store the secret key now: it is shown only once',
    });
  });

  api.get('/api-keys', async (c) => {
    const auth = c.get('auth');
    const q = validateQuery(z.object(pageQuery(50)), c);
    const { rows, count } = await pagedList(
      db,
      'SELECT *',
      'FROM api_keys',
      new Where(auth),
      'created_at DESC, id DESC',
      q.limit,
      q.offset,
    );
    return send(c, 200, { data: rows.map(apiKeyOut), count, hasMore: q.offset + rows.length < count });
  });

  api.post('/api-keys/:id/rotate', async (c) => {
    const auth = c.get('auth');
    requireCurrentKey(auth);
    const id = pathId(c, 'id', 'API_KEY_NOT_FOUND', 'API key');
    const b = validate(
      z.object({ gracePeriodHours: z.number().min(0).max(168).default(24) }),
      await readJson(c),
    );
    const secretKey = newKeyValue(auth.mode === 'live' ? 'sk_live_' : 'sk_test_');
    const expires = new Date(Date.now() + b.gracePeriodHours * 3_600_000);
    // One statement checks scope and revocation and rotates, so a revoke that commits in between
    // cannot be undone by a rotation that read the row before it.
    const [cur] = await db.query(
      `UPDATE api_keys SET previous_secret_key_hash = secret_key_hash, previous_secret_key_expires_at = $4,
         secret_key_hash = $5, secret_key_hint = $6, rotated_at = now()
       WHERE id = $1 AND project_id = $2 AND mode = $3 AND revoked_at IS NULL RETURNING public_key`,
      [id, auth.projectId, auth.mode, expires.toISOString(), sha256(secretKey), hint(secretKey)],
    );
    if (!cur) throw notFound('API_KEY_NOT_FOUND', 'API key');
    return send(c, 200, {
      id,
      publicKey: cur.public_key,
      secretKey,
      previousSecretKeyExpiresAt: expires.toISOString(),
      message: 'Secret key rotated; the previous secret key keeps working until previousSecretKeyExpiresAt',
    });
  });

  api.post('/api-keys/:id/revoke', async (c) => {
    const auth = c.get('auth');
    requireCurrentKey(auth);
    const id = pathId(c, 'id', 'API_KEY_NOT_FOUND', 'API key');
    await readJson(c);
    if (id === auth.keyId)
      throw new ApiError(
        409,
        'CANNOT_REVOKE_CURRENT_KEY',
        'Cannot revoke the key pair used for this request',
      );
    const [row] = await db.query(
      'UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND project_id = $2 AND mode = $3 RETURNING *',
      [id, auth.projectId, auth.mode],
    );
    if (!row) throw notFound('API_KEY_NOT_FOUND', 'API key');
    return send(c, 200, apiKeyOut(row));
  });
}
