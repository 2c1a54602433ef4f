/**
 * The one table of key scopes (spec §6), shared by the client (which refuses secret-only calls made
 * with a `pk_` key before sending anything) and the local server (which answers them with 403), and the
 * one normalisation of request paths ({@link normalizeApiPath}): the client's guard judges exactly the
 * path it then sends.
 */

import { validationError } from './errors';

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
  return keyType === 'secret' || scopeForSentPath(path) === 'any';
}

/** Percent-escapes of unreserved characters (RFC 3986 §2.3): equivalent to the character itself. */
const UNRESERVED_ESCAPE = /%(2[dDeE]|5[fF]|7[eE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA])/g;

function refuse(path: string, why: string): never {
  throw validationError([{ path: 'path', message: `${why} (got ${JSON.stringify(path.slice(0, 200))})` }]);
}

/**
 * Resolves `.` and `..` segments and empty segments (`//`) of a path below the base; `undefined` when a
 * `..` would climb above the base.
 */
function resolveSegments(path: string): string | undefined {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else out.push(segment);
  }
  const trailing = out.length > 0 && /\/\.{0,2}$/.test(path) ? '/' : '';
  return `/${out.join('/')}${trailing}`;
}

/** The form a server that decodes every escape (`%2F` too) would route, or `undefined` if it climbs. */
function fullyDecoded(path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return path;
  }
  return decoded === path ? path : resolveSegments(decoded.replace(/\\/g, '/'));
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function climbsWhenDecoded(path: string): boolean {
  return fullyDecoded(path) === undefined;
}

/**
 * The one normalisation of an API path, used both to decide which key may call it and to build the URL
 * that is sent, so the two cannot disagree. `path` is relative to the base URL (`/customers/cus_1?x=1`);
 * an absolute URL is accepted only below `baseUrl` (made relative) or as its health URL (returned
 * unchanged). Escapes of unreserved characters are decoded (`%77` is `w`), empty, `.` and `..` segments are
 * resolved (`//webhooks`, `/./webhooks` and `/customers/../webhooks` are all `/webhooks`); the query is
 * kept as given. Refused with a `VALIDATION_ERROR`: a path not starting with `/`, one that climbs above
 * the base, backslashes, control characters or spaces, a `#` fragment, an absolute URL elsewhere, and any
 * character a URL parser would rewrite.
 *
 * @example
 * ```ts
 * normalizeApiPath('/customers/../webhooks', 'https://api.drippay.dev/v1'); // '/webhooks'
 * normalizeApiPath('/../health', 'https://api.drippay.dev/v1'); // throws VALIDATION_ERROR
 * ```
 */
export function normalizeApiPath(path: string, baseUrl: string): string {
  if (typeof path !== 'string') refuse(String(path), 'must be a string');
  let relative = path;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(path)) {
    const health = `${baseUrl.replace(/\/v1$/, '')}/health`;
    if (path === health) return path;
    if (path.startsWith(`${baseUrl}/`) || path.startsWith(`${baseUrl}?`)) {
      relative = path.slice(baseUrl.length);
    } else refuse(path, `an absolute URL must be below the client's base URL ${baseUrl}`);
  }
  if (!relative.startsWith('/')) refuse(path, 'must start with "/" (relative to the base URL)');
  if (relative.includes('#')) refuse(path, 'must not hold a "#" fragment');
  // A WHATWG URL parser drops tabs and newlines and reads "\" as "/": such a path would not be sent as written.
  if (/[\s\\]/.test(relative) || hasControlCharacter(relative)) {
    refuse(path, 'must not hold spaces, backslashes or control characters');
  }
  const q = relative.indexOf('?');
  const rawPath = q < 0 ? relative : relative.slice(0, q);
  const query = q < 0 ? '' : relative.slice(q);
  if (/%(?![0-9a-fA-F]{2})/.test(rawPath)) refuse(path, 'holds a "%" that is not a percent-escape');
  const decoded = rawPath.replace(UNRESERVED_ESCAPE, (hex) =>
    String.fromCharCode(Number.parseInt(hex.slice(1), 16)),
  );
  const resolved = resolveSegments(decoded);
  if (resolved === undefined || climbsWhenDecoded(resolved)) {
    refuse(path, 'must not climb above the base URL with ".."');
  }
  // The parser must leave the result as it is; otherwise it is not what the guard judged.
  let sent: string;
  try {
    sent = new URL(`${baseUrl}${resolved}`).pathname;
  } catch {
    refuse(path, 'is not a valid URL path');
  }
  const basePath = new URL(baseUrl).pathname.replace(/\/$/, '');
  if (sent !== `${basePath}${resolved}`) {
    refuse(path, 'holds characters that must be percent-encoded');
  }
  return `${resolved}${query}`;
}

/**
 * The scope of a path as {@link normalizeApiPath} returns it (the query is ignored). A server that decodes
 * escapes such as `%2F` before routing would see another path, so the stricter of the path as sent and
 * its fully decoded form applies.
 *
 * @example
 * ```ts
 * scopeForSentPath('/customers%2F..%2Fwebhooks'); // 'secret'
 * ```
 */
export function scopeForSentPath(path: string): KeyScope {
  const bare = path.split('?')[0] as string;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(bare)) return 'any'; // the health URL
  if (scopeForPath(bare) === 'secret') return 'secret';
  const decoded = fullyDecoded(bare);
  return decoded === undefined ? 'secret' : scopeForPath(decoded);
}
