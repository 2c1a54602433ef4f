import { keyModeOf, keyTypeOf } from '@drip/core';
import type { AuthInfo, Deps } from './context';
import { ApiError } from './http';
import { safeEqualHex, sha256 } from './util';

interface KeyRow {
  id: string;
  project_id: string;
  mode: 'test' | 'live';
  public_key_hash: string;
  secret_key_hash: string;
  previous_secret_key_hash: string | null;
  previous_secret_key_expires_at: Date | string | null;
  revoked_at: Date | string | null;
}

const unauthorized = (msg: string) => new ApiError(401, 'UNAUTHORIZED', msg);
const CACHE_MS = 1000;

/**
 * Bearer authentication (spec §2.2). Keys are looked up by SHA-256 hash and the matching hash is
 * compared again in constant time. Successful lookups are cached for one second; revoking or
 * rotating a key in this process clears the cache at once.
 */
export function createAuthenticator(deps: Pick<Deps, 'db'>) {
  const cache = new Map<string, { info: AuthInfo; until: number }>();
  const lastUsed = new Map<string, number>();

  async function authenticate(header: string | undefined): Promise<AuthInfo> {
    if (!header) throw unauthorized('Missing Authorization header');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m?.[1]) throw unauthorized('Authorization header must use the Bearer scheme');
    const key = m[1];
    const type = keyTypeOf(key);
    const mode = keyModeOf(key);
    if (!type || mode === 'unknown' || key.length > 200) throw unauthorized('Unknown API key');
    const hash = sha256(key);
    const now = Date.now();
    const hit = cache.get(hash);
    if (hit && hit.until > now) return hit.info;
    const [row] = await deps.db.query<KeyRow>(
      `SELECT id, project_id, mode, public_key_hash, secret_key_hash, previous_secret_key_hash, previous_secret_key_expires_at, revoked_at
       FROM api_keys WHERE public_key_hash = $1 OR secret_key_hash = $1 OR previous_secret_key_hash = $1 LIMIT 1`,
      [hash],
    );
    if (!row) throw unauthorized('Unknown API key');
    if (row.revoked_at) throw unauthorized('API key has been revoked');
    let matched: 'public' | 'secret' | undefined;
    if (safeEqualHex(row.public_key_hash, hash)) matched = 'public';
    else if (safeEqualHex(row.secret_key_hash, hash)) matched = 'secret';
    else if (row.previous_secret_key_hash && safeEqualHex(row.previous_secret_key_hash, hash)) {
      const exp = row.previous_secret_key_expires_at
        ? new Date(row.previous_secret_key_expires_at).getTime()
        : 0;
      if (exp <= now) throw unauthorized('API key was rotated and its grace period has ended');
      matched = 'secret';
    }
    if (!matched || matched !== type || row.mode !== mode) throw unauthorized('Unknown API key');
    const info: AuthInfo = { projectId: row.project_id, mode: row.mode, keyId: row.id, keyType: matched };
    cache.set(hash, { info, until: now + CACHE_MS });
    if (cache.size > 10_000) cache.clear();
    if ((lastUsed.get(row.id) ?? 0) + 60_000 < now) {
      lastUsed.set(row.id, now);
      deps.db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [row.id]).catch(() => {});
    }
    return info;
  }

  return { authenticate, invalidate: () => cache.clear() };
}
