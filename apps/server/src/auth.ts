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

/**
 * Refuses key management (create, rotate, revoke) to a secret key that was rotated out and is only
 * alive for its grace period: otherwise a leaked key could rotate its own pair again, lock out the new
 * key, or mint a fresh pair, and so survive the rotation meant to retire it.
 *
 * @example
 * ```ts
 * requireCurrentKey(c.get('auth')); // throws 403 FORBIDDEN for a grace-period key
 * ```
 */
export function requireCurrentKey(auth: AuthInfo): void {
  if (auth.rotatedOut) {
    throw new ApiError(
      403,
      'FORBIDDEN',
      'This secret key was rotated out and only works until its grace period ends; use the current secret key to manage API keys',
    );
  }
}

/**
 * Bearer authentication (spec §2.2). Keys are looked up by SHA-256 hash and the matching hash is
 * compared again in constant time. Every request reads the key's row: there is no cache, because a
 * cache per process would let a key revoked through another instance on the same database keep
 * working until it expires (the spec says revocation stops a key at once). The embedded database has no
 * cache either: one process owns it, but a cache would stay correct only while every path that changes
 * keys invalidates it, for about 300 µs of CPU per request (`bench/server-auth.mjs`, README "Security").
 */
export function createAuthenticator(deps: Pick<Deps, 'db'>) {
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
    const [row] = await deps.db.query<KeyRow>(
      `SELECT id, project_id, mode, public_key_hash, secret_key_hash, previous_secret_key_hash, previous_secret_key_expires_at, revoked_at
       FROM api_keys WHERE public_key_hash = $1 OR secret_key_hash = $1 OR previous_secret_key_hash = $1 LIMIT 1`,
      [hash],
    );
    if (!row) throw unauthorized('Unknown API key');
    if (row.revoked_at) throw unauthorized('API key has been revoked');
    let matched: 'public' | 'secret' | undefined;
    let rotatedOut = false;
    if (safeEqualHex(row.public_key_hash, hash)) matched = 'public';
    else if (safeEqualHex(row.secret_key_hash, hash)) matched = 'secret';
    else if (row.previous_secret_key_hash && safeEqualHex(row.previous_secret_key_hash, hash)) {
      const exp = row.previous_secret_key_expires_at
        ? new Date(row.previous_secret_key_expires_at).getTime()
        : 0;
      if (exp <= now) throw unauthorized('API key was rotated and its grace period has ended');
      matched = 'secret';
      rotatedOut = true;
    }
    if (!matched || matched !== type || row.mode !== mode) throw unauthorized('Unknown API key');
    const info: AuthInfo = {
      projectId: row.project_id,
      mode: row.mode,
      keyId: row.id,
      keyType: matched,
      rotatedOut,
    };
    if ((lastUsed.get(row.id) ?? 0) + 60_000 < now) {
      if (lastUsed.size > 10_000) lastUsed.clear();
      lastUsed.set(row.id, now);
      deps.db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [row.id]).catch(() => {});
    }
    return info;
  }

  return { authenticate };
}
