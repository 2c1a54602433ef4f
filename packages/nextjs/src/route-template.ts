/**
 * Route parameters as Next.js hands them to a route handler or a Pages API route.
 *
 * @example
 * ```ts
 * const params: RouteParams = { id: '42', slug: ['a', 'b'] };
 * ```
 */
export type RouteParams = Record<string, string | string[] | undefined>;

function decode(segment: string): string {
  // Most segments have no escape: skip decodeURIComponent and its try/catch.
  if (segment.indexOf('%') === -1) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Rebuilds the Next.js route template (`/api/items/[id]`) from a request path and its route params.
 *
 * Next does not pass the matched file route to a handler, so the template is recovered by replacing,
 * left to right and in the order Next lists the params, the path segments equal to each param value:
 * a string value becomes `[name]`, an array value (catch-all) becomes `[...name]` over as many segments.
 * A param whose value cannot be found leaves the path unchanged for that param. Pass the `route` option
 * when a path can be ambiguous (a static segment equal to a param value that precedes it).
 *
 * @example
 * ```ts
 * routeTemplate('/api/items/42', { id: '42' });            // '/api/items/[id]'
 * routeTemplate('/docs/a/b', { slug: ['a', 'b'] });          // '/docs/[...slug]'
 * ```
 */
export function routeTemplate(path: string, params: RouteParams | undefined): string {
  if (!params) return path;
  const names = Object.keys(params);
  if (names.length === 0) return path;
  const segments = path.split('/');
  const out: string[] = [];
  let i = 0;
  for (const name of names) {
    const value = params[name];
    if (value === undefined) continue;
    const parts = Array.isArray(value) ? value : [value];
    if (parts.length === 0) continue;
    for (let j = i; j + parts.length <= segments.length; j++) {
      let match = true;
      for (let k = 0; k < parts.length; k++) {
        if (decode(segments[j + k] ?? '') !== parts[k]) {
          match = false;
          break;
        }
      }
      if (!match) continue;
      for (let s = i; s < j; s++) out.push(segments[s] ?? '');
      out.push(Array.isArray(value) ? `[...${name}]` : `[${name}]`);
      i = j + parts.length;
      break;
    }
  }
  for (let s = i; s < segments.length; s++) out.push(segments[s] ?? '');
  return out.join('/');
}
