/**
 * The one table of key scopes (spec §6), shared by the client (which refuses secret-only calls made
 * with a `pk_` key before sending anything) and the local server (which answers them with 403).
 */

/** Which keys may call a group of routes. */
export type KeyScope = 'any' | 'secret';

/** The kind of key, from its prefix: `sk_` is secret, `pk_` is public. */
export type KeyType = 'secret' | 'public';

/** The data space of a key, from its prefix: `sk_test_`/`pk_test_`, `sk_live_`/`pk_live_`, else unknown. */
export type KeyMode = 'test' | 'live' | 'unknown';

/**
 * Route groups and who may call them. Paths are relative to the `/v1` base and matched by prefix on
 * whole segments.
 *
 * @example
 * ```ts
 * import { ROUTE_SCOPES } from '@drip/core';
 * ROUTE_SCOPES.find((g) => g.group === 'webhooks')?.scope; // 'secret'
 * ```
 */
export const ROUTE_SCOPES: ReadonlyArray<{ group: string; prefixes: readonly string[]; scope: KeyScope }> = [
  { group: 'health', prefixes: ['/health'], scope: 'any' },
  { group: 'webhooks', prefixes: ['/webhooks'], scope: 'secret' },
  { group: 'api-keys', prefixes: ['/api-keys'], scope: 'secret' },
  { group: 'customers', prefixes: ['/customers'], scope: 'any' },
  { group: 'usage', prefixes: ['/usage', '/charges'], scope: 'any' },
  { group: 'runs', prefixes: ['/workflows', '/runs', '/run-events', '/events'], scope: 'any' },
  { group: 'entitlements', prefixes: ['/entitlements'], scope: 'any' },
];

function matchesPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * The scope of a route path (relative to `/v1`). Balance adjustments (an extension) are secret-only;
 * unknown paths default to `any` so that the server's 404 answers them.
 *
 * @example
 * ```ts
 * scopeForPath('/webhooks/wh_1/test'); // 'secret'
 * scopeForPath('/usage/internal');     // 'any'
 * ```
 */
export function scopeForPath(path: string): KeyScope {
  if (/^\/customers\/[^/]+\/balance\/adjustments\/?$/.test(path)) return 'secret';
  for (const group of ROUTE_SCOPES) {
    if (group.prefixes.some((p) => matchesPrefix(path, p))) return group.scope;
  }
  return 'any';
}

/**
 * The type of a key from its prefix, or `undefined` when it is neither `sk_` nor `pk_`.
 *
 * @example
 * ```ts
 * keyTypeOf('pk_test_abc123xyz'); // 'public'
 * ```
 */
export function keyTypeOf(key: string): KeyType | undefined {
  if (key.startsWith('sk_')) return 'secret';
  if (key.startsWith('pk_')) return 'public';
  return undefined;
}

/**
 * The mode of a key from its prefix.
 *
 * @example
 * ```ts
 * keyModeOf('sk_live_abc123xyz'); // 'live'
 * ```
 */
export function keyModeOf(key: string): KeyMode {
  if (/^[sp]k_test_/.test(key)) return 'test';
  if (/^[sp]k_live_/.test(key)) return 'live';
  return 'unknown';
}

/**
 * Whether a key of this type may call this path.
 *
 * @example
 * ```ts
 * isAllowed('public', '/webhooks'); // false
 * ```
 */
export function isAllowed(keyType: KeyType, path: string): boolean {
  return keyType === 'secret' || scopeForPath(path) === 'any';
}
