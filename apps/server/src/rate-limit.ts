import { ApiError } from './http';

/** A request rate: at most `limit` requests per `windowMs`, with bursts up to `limit`. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a rate such as `100/s`, `600/m` or `10000/h` (`off`, `0` or an empty string: no limit).
 * Throws a message that names the accepted forms.
 *
 * @example
 * ```ts
 * parseRateLimit('100/s'); // { limit: 100, windowMs: 1000 }
 * parseRateLimit('off'); // undefined
 * ```
 */
export function parseRateLimit(text: string | undefined): RateLimit | undefined {
  const t = (text ?? '').trim().toLowerCase();
  if (t === '' || t === 'off' || t === '0') return undefined;
  const m = /^(\d{1,9})\s*\/\s*(s|m|h|sec|second|min|minute|hour)$/.exec(t);
  const limit = m ? Number(m[1]) : Number.NaN;
  if (!m?.[2] || !Number.isInteger(limit) || limit < 1)
    throw new Error(`rate limit must look like 100/s, 600/m or 10000/h (or "off"); got "${text}"`);
  return { limit, windowMs: UNITS[m[2][0] as string] as number };
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Per-project token buckets (spec §2.7: 429 `RATE_LIMIT_EXCEEDED` with `Retry-After`). A bucket holds up
 * to `limit` tokens and refills at `limit` per window; each request takes one. Buckets that are full again
 * are dropped, so memory follows the projects active within one window. Per server process: instances
 * that share a database each apply the limit on their own.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ limit: 100, windowMs: 1000 });
 * limiter.take('prj_1'); // throws ApiError 429 with Retry-After once the project's 100 are used
 * ```
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private sweptAt = 0;

  constructor(
    readonly rate: RateLimit,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = rate.limit / rate.windowMs;
  }

  /** Takes one token for `key`, or throws 429 RATE_LIMIT_EXCEEDED with the seconds until one is back. */
  take(key: string): void {
    const now = this.now();
    this.sweep(now);
    const b = this.buckets.get(key) ?? { tokens: this.rate.limit, at: now };
    b.tokens = Math.min(this.rate.limit, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.buckets.set(key, b);
      return;
    }
    this.buckets.set(key, b);
    // Whole seconds, rounded up (the header takes integers): a client that waits this long gets a token.
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
    throw new ApiError(429, 'RATE_LIMIT_EXCEEDED', `Rate limit of ${this.describe()} exceeded`, {
      extra: { retryAfter },
      headers: { 'Retry-After': String(retryAfter) },
    });
  }

  private describe(): string {
    const unit = Object.entries(UNITS).find(([, ms]) => ms === this.rate.windowMs)?.[0] ?? 's';
    return `${this.rate.limit}/${unit}`;
  }

  /** Drops buckets that have refilled completely (at most once per window). */
  private sweep(now: number): void {
    if (now - this.sweptAt < this.rate.windowMs) return;
    this.sweptAt = now;
    for (const [k, b] of this.buckets) if (now - b.at >= this.rate.windowMs) this.buckets.delete(k);
  }
}
