import { Hono } from 'hono';
import type { Queryable } from './context';
import { createDefaultProjectKeys } from './routes/api-keys';
import { safeEqualHex, sha256 } from './util';

/** Path of the local admin route that `drip-server keys create` calls on a running server. */
export const ADMIN_KEYS_PATH = '/_drip/keys';

/**
 * The local admin route of a server on an embedded data directory: `POST /_drip/keys` with
 * `Authorization: Bearer <token>` and `{ mode?, name? }` creates a key pair for the default project.
 * The token is random per start and written only into the data directory's lock file (owner-readable),
 * so only someone who could open the database files anyway can use it. It lets
 * `drip-server keys create` work while the server holds the directory: a second process must not open
 * the embedded database, but the running server can write the key for it.
 *
 * @example
 * ```ts
 * app.route('/', createLocalAdmin(db, token));
 * ```
 */
export function createLocalAdmin(db: Queryable, token: string): Hono {
  const app = new Hono();
  const tokenHash = sha256(token);
  app.post(ADMIN_KEYS_PATH, async (c) => {
    const given = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
    if (!safeEqualHex(sha256(given), tokenHash))
      return c.json({ error: 'Missing or wrong admin token', code: 'UNAUTHORIZED' }, 401);
    const body = (await c.req.json().catch(() => ({}))) as { mode?: unknown; name?: unknown } | null;
    const mode = body?.mode ?? 'test';
    const name = body?.name ?? 'cli';
    if (
      (mode !== 'test' && mode !== 'live') ||
      typeof name !== 'string' ||
      name.length < 1 ||
      name.length > 100
    )
      return c.json(
        { error: 'mode must be test or live; name 1-100 characters', code: 'VALIDATION_ERROR' },
        422,
      );
    const pair = await createDefaultProjectKeys(db, mode, name);
    c.header('Cache-Control', 'no-store');
    return c.json({ ...pair, mode }, 201);
  });
  return app;
}
