/**
 * Escapes text for HTML element content and double-quoted attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<b>"x"</b>'); // '&lt;b&gt;&quot;x&quot;&lt;/b&gt;'
 * ```
 */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/**
 * Serialises data for a `<script type="application/json">` block: `<` is escaped so no string in the
 * data can close the element, and U+2028/U+2029 so the text stays valid everywhere.
 *
 * @example
 * ```ts
 * `<script type="application/json">${jsonForScript({ a: '</script>' })}</script>`
 * ```
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

/**
 * Micro-USDC (an integer string) as a USDC decimal string with 6 decimals, as the API shows money (§2.9).
 *
 * @example
 * ```ts
 * formatUsdc('1500'); // '0.001500'
 * ```
 */
export function formatUsdc(micros: string): string {
  let v: bigint;
  try {
    v = BigInt(micros || '0');
  } catch {
    return micros;
  }
  const negative = v < 0n;
  if (negative) v = -v;
  const whole = v / 1_000_000n;
  const frac = (v % 1_000_000n).toString().padStart(6, '0');
  return `${negative ? '-' : ''}${whole.toString()}.${frac}`;
}

/**
 * A stored quantity (`numeric` text such as `"1200.000000"`) without trailing zeros, with thousands separators.
 *
 * @example
 * ```ts
 * formatQuantity('1200.000000'); // '1,200'
 * ```
 */
export function formatQuantity(q: string | null | undefined): string {
  if (q === null || q === undefined || q === '') return '';
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(q);
  if (!m) return q;
  const intPart = (m[2] ?? '0').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = (m[3] ?? '').replace(/0+$/, '');
  return `${m[1]}${intPart}${frac ? `.${frac}` : ''}`;
}

/**
 * A duration in milliseconds, readable: `850 ms`, `1.25 s`, `2 min 5 s`.
 *
 * @example
 * ```ts
 * formatDuration(1250); // '1.25 s'
 * ```
 */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${min} min ${s} s`;
}

/**
 * Epoch milliseconds as `2026-11-22 02:10:33 UTC` (the dashboard shows UTC, as the API does).
 *
 * @example
 * ```ts
 * formatTime(0); // '1970-01-01 00:00:00 UTC'
 * ```
 */
export function formatTime(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * A JSON value for display inside an attribute chip: strings as is, numbers with separators, the rest as JSON.
 *
 * @example
 * ```ts
 * formatValue(1200); // '1,200'
 * ```
 */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : String(v);
  return JSON.stringify(v) ?? '';
}
