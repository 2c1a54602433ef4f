/** What the dashboard reads of a request to judge where it came from and how it reached the server. */
export interface RequestFacts {
  /** The URL as the server saw it (http unless the server itself terminates TLS). */
  url: string;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
}

function firstForwardedValue(value: string | undefined): string | undefined {
  const first = value?.split(',')[0]?.trim();
  return first ? first : undefined;
}

/** `proto` and `host` of the first hop of a `Forwarded` header (RFC 7239), lower-cased, quotes removed. */
function forwarded(value: string | undefined): { proto?: string; host?: string } {
  const first = value?.split(',')[0];
  const out: { proto?: string; host?: string } = {};
  for (const pair of first?.split(';') ?? []) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim().toLowerCase();
    const raw = pair
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (name === 'proto' || name === 'host') out[name] = raw.toLowerCase();
  }
  return out;
}

/**
 * The scheme and host the browser used. Without `trustProxy` only the request itself counts: a
 * client could otherwise send `X-Forwarded-Proto` or `Forwarded` and choose the answer. With it, the
 * first hop of `Forwarded`, then `X-Forwarded-Proto` / `X-Forwarded-Host`, win over the request.
 *
 * @example
 * ```ts
 * publicOrigin({ url: 'http://127.0.0.1:3001/', header: (n) => ({ 'x-forwarded-proto': 'https' })[n] }, true);
 * // { proto: 'https', host: '127.0.0.1:3001' }
 * ```
 */
export function publicOrigin(
  req: RequestFacts,
  trustProxy: boolean,
): { proto: 'http' | 'https'; host: string } {
  const url = new URL(req.url);
  let proto = url.protocol === 'https:' ? 'https' : 'http';
  let host = req.header('host') || url.host;
  if (trustProxy) {
    const fwd = forwarded(req.header('forwarded'));
    const xProto = firstForwardedValue(req.header('x-forwarded-proto'))?.toLowerCase();
    const xHost = firstForwardedValue(req.header('x-forwarded-host'));
    proto = fwd.proto ?? xProto ?? proto;
    host = fwd.host ?? xHost ?? host;
  }
  return { proto: proto === 'https' ? 'https' : 'http', host: host.toLowerCase() };
}

/**
 * Whether a state-changing request may come from a page of another origin, in the manner of fetch
 * metadata checks: `Sec-Fetch-Site` when the browser sends it (only `same-origin`, or `none` for a
 * request the user typed, pass), otherwise the `Origin` header against the server's own host. A request
 * with neither header does not come from a modern browser page, so no other site can have sent it on a
 * visitor's behalf.
 *
 * @example
 * ```ts
 * if (isCrossSite(facts, trustProxy)) return c.text('Cross-site request refused', 403);
 * ```
 */
export function isCrossSite(req: RequestFacts, trustProxy: boolean): boolean {
  const site = req.header('sec-fetch-site')?.toLowerCase();
  if (site) return site !== 'same-origin' && site !== 'none';
  const origin = req.header('origin');
  if (origin === undefined) return false;
  let from: URL;
  try {
    from = new URL(origin);
  } catch {
    // `Origin: null` (sandboxed frames, redirects across origins) and garbage are never same-origin.
    return true;
  }
  // The host alone decides (as Go's CrossOriginProtection does): behind a TLS proxy that is not trusted
  // the server sees http while the page is https, and both name the same site.
  return from.host.toLowerCase() !== publicOrigin(req, trustProxy).host;
}
