/**
 * Records the requests the API refused (4xx on API routes, and refused items of the bulk routes) for the
 * dashboard's problems panel (issue 15): usage a client lost is then visible where people look, by code,
 * key (prefix only) and customer. Runs after the response is built and never changes or delays it: the
 * write is not awaited and its failures are ignored.
 */

import type { Context } from 'hono';
import type { Queryable } from './db/driver';

/** How many characters of a key are kept: the type and mode prefix plus four, never enough to use it. */
const KEY_PREFIX_CHARS = 12;
/** One delete of old rows per this many writes keeps the table bounded without a timer. */
const PRUNE_EVERY = 200;
let writes = 0;

interface Refusal {
  status: number;
  code: string;
  message: string | undefined;
  customer: string | undefined;
  items: number;
}

function keyPrefix(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const key = authorization.replace(/^Bearer\s+/i, '').trim();
  if (key.length === 0) return null;
  return `${key.slice(0, KEY_PREFIX_CHARS)}…`;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v.slice(0, 255) : undefined;
}

/** The refusals in one response: the response itself (4xx), or the refused items of a bulk answer. */
async function refusalsOf(res: Response, bulk: boolean): Promise<Refusal[]> {
  if (res.status >= 400 && res.status < 500) {
    const body = (await res
      .clone()
      .json()
      .catch(() => ({}))) as Record<string, unknown>;
    return [
      {
        status: res.status,
        code: str(body.code) ?? `HTTP_${res.status}`,
        message: str(body.error),
        customer: str(body.customerId) ?? str(body.externalCustomerId),
        items: 1,
      },
    ];
  }
  if (!bulk || res.status !== 200) return [];
  // Bulk answers are large and almost always clean: look for an error before parsing.
  const text = await res.clone().text();
  if (!text.includes('"error"')) return [];
  const results = (JSON.parse(text) as { results?: unknown[] }).results ?? [];
  const byCode = new Map<string, Refusal>();
  for (const r of results) {
    const item = r as { status?: unknown; error?: unknown };
    if (typeof item.status !== 'number' || item.status < 400 || item.status >= 500) continue;
    const err = (item.error ?? {}) as Record<string, unknown>;
    const code = str(err.code) ?? `HTTP_${item.status}`;
    const customer = str(err.customerId) ?? str(err.externalCustomerId);
    const group = `${code}\u0000${customer ?? ''}`;
    const seen = byCode.get(group);
    if (seen) seen.items++;
    else byCode.set(group, { status: item.status, code, message: str(err.error), customer, items: 1 });
  }
  return [...byCode.values()];
}

/**
 * Notes the refusals of a finished API request (call it after `next()`; it returns at once).
 *
 * @example
 * ```ts
 * app.use('*', async (c, next) => { await next(); noteRefused(db, c, routedPath(c.req.url), match); });
 * ```
 */
export function noteRefused(
  db: Queryable,
  c: Context,
  path: string,
  match: (method: string, path: string) => 'ok' | 'method' | 'none',
): void {
  const status = c.res.status;
  // API routes only (the dashboard's own pages and unknown paths are not lost usage).
  if (match(c.req.method, path) === 'none') return;
  const bulk = path.endsWith('/bulk');
  if (!(status >= 400 && status < 500) && !(bulk && status === 200)) return;
  const auth = c.get('auth') as { projectId?: string; mode?: string } | undefined;
  const key = keyPrefix(c.req.header('authorization'));
  const method = c.req.method;
  void refusalsOf(c.res, bulk)
    .then(async (list) => {
      for (const r of list) {
        await db.query(
          `INSERT INTO refused_requests (project_id, mode, method, path, status, code, message, key_prefix, customer, items)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [
            auth?.projectId ?? null,
            auth?.mode ?? null,
            method,
            path.slice(0, 255),
            r.status,
            r.code,
            r.message ?? null,
            key,
            r.customer ?? null,
            r.items,
          ],
        );
        if (++writes % PRUNE_EVERY === 0) {
          await db.query(`DELETE FROM refused_requests WHERE at < now() - interval '2 days'`);
        }
      }
    })
    .catch(() => {
      // Bookkeeping for the dashboard only: the API's answer is already on its way.
    });
}
