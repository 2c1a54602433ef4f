/** Route templates: normalising unknown paths, matching the `routes` table, naming workflows. */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NUMBER = /^\d+$/;
const LONG_HEX = /^[0-9a-f]{16,}$/i;
/** Opaque ids such as `cus_3f9k2m...` or base64url tokens: long, with digits. */
const OPAQUE = /^(?=.*\d)[A-Za-z0-9_-]{20,}$/;

/**
 * Replaces ids in a path (numbers, UUIDs, long hex, long opaque tokens) with `:id`, so a path whose
 * template the framework does not know still has a bounded number of values.
 *
 * @example
 * ```ts
 * normalizePath('/items/42/parts/3f2a9c1e-7b7d-4c1e-9a55-0c6f1a2b3c4d'); // '/items/:id/parts/:id'
 * ```
 */
export function normalizePath(path: string): string {
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  const parts = p.split('/');
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const s = parts[i] as string;
    if (s.length > 0 && (NUMBER.test(s) || UUID.test(s) || LONG_HEX.test(s) || OPAQUE.test(s))) {
      parts[i] = ':id';
      changed = true;
    }
  }
  const out = changed ? parts.join('/') : p;
  return out.length > 1 && out.endsWith('/') ? out.slice(0, -1) : out || '/';
}

/**
 * A workflow slug for a route (`^[a-z0-9_-]+$`, at most 100 characters): `GET /items/:id` → `get-items-id`.
 *
 * @example
 * ```ts
 * workflowSlug('POST', '/api/agent/:id/run'); // 'post-api-agent-id-run'
 * ```
 */
export function workflowSlug(method: string, route: string): string {
  const slug = `${method} ${route}`
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100)
    .replace(/-+$/g, '');
  return slug || 'request';
}

/** One compiled entry of the routes table. */
export interface CompiledRoute<T> {
  method: string;
  template: string;
  regex: RegExp;
  rule: T;
}

function templateRegex(template: string): RegExp {
  const parts = template.split('/').map((seg) => {
    if (seg === '*') return '.*';
    if (
      seg.startsWith(':') ||
      (seg.startsWith('[') && seg.endsWith(']')) ||
      (seg.startsWith('{') && seg.endsWith('}'))
    ) {
      return '[^/]+';
    }
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}/?$`);
}

/**
 * Compiles a `{ 'METHOD /route/:template': rule }` table. The method may be `*` (or left out) for any.
 *
 * @example
 * ```ts
 * const table = compileRoutes({ 'GET /items/:id': { meter: 'reads' } });
 * ```
 */
export function compileRoutes<T>(table: Record<string, T> | undefined): CompiledRoute<T>[] {
  if (!table) return [];
  const out: CompiledRoute<T>[] = [];
  for (const [key, rule] of Object.entries(table)) {
    const trimmed = key.trim();
    const sp = trimmed.indexOf(' ');
    const method = sp === -1 ? '*' : trimmed.slice(0, sp).toUpperCase();
    const template = sp === -1 ? trimmed : trimmed.slice(sp + 1).trim();
    out.push({ method, template, regex: templateRegex(template), rule });
  }
  return out;
}

/**
 * The rule for a request: an exact template match first (when the framework knows the template), then
 * the first template whose pattern matches the path.
 *
 * @example
 * ```ts
 * matchRoute(table, 'GET', '/items/:id', '/items/42')?.rule;
 * ```
 */
export function matchRoute<T>(
  table: readonly CompiledRoute<T>[],
  method: string,
  route: string | undefined,
  path: string,
): CompiledRoute<T> | undefined {
  if (table.length === 0) return undefined;
  if (route !== undefined) {
    for (const r of table) if ((r.method === '*' || r.method === method) && r.template === route) return r;
  }
  for (const r of table) if ((r.method === '*' || r.method === method) && r.regex.test(path)) return r;
  return undefined;
}
