/**
 * StreamMeter (spec §5.6): accumulates streamed usage and charges it through `POST /usage` in flushes.
 * Flush `n` snapshots the quantity and fixes its key before the first attempt; retries and later
 * `flush()` calls resend the same pending flush (same key, same quantity) until it succeeds.
 */

import { type Clock, unrefTimer } from './clock';
import { isDripError } from './errors';
import { streamFlushKey } from './keys';
import type { ChargeResult, JsonObject } from './types';
import { assertValid, check, quantity } from './validation';

const QUANTITY = /* @__PURE__ */ quantity(true);

/**
 * Options of `client.createStreamMeter()`.
 *
 * @example
 * ```ts
 * client.createStreamMeter({ customerId: 'cus_1', meter: 'llm_tokens', flushThreshold: 1000, flushIntervalMs: 5000 });
 * ```
 */
export interface StreamMeterOptions {
  customerId: string;
  meter: string;
  /** Base key (at most 100 chars): flush `n` uses `<base>:flush:<n>`. Default: a `stream_...` key per flush. */
  idempotencyKey?: string;
  metadata?: JsonObject;
  /** Flush when the running total reaches this quantity. */
  flushThreshold?: number;
  /** Also flush on this interval (timer unref'd where the runtime supports it). */
  flushIntervalMs?: number;
  /** Called after every accepted `add`. */
  onAdd?: (quantity: number, total: number) => void;
  /** Called after every successful flush. */
  onFlush?: (result: StreamFlushResult) => void;
  /** Called when a background flush (threshold, timer) fails. */
  onError?: (error: unknown) => void;
}

/**
 * Result of one flush.
 *
 * @example
 * ```ts
 * const { quantity, charge, isDuplicate } = await meter.flush();
 * ```
 */
export interface StreamFlushResult {
  success: boolean;
  quantity: number;
  charge: ChargeResult['charge'];
  isDuplicate: boolean;
}

/**
 * What the meter needs from the client; internal.
 *
 * @example
 * ```ts
 * // Built by client.createStreamMeter(); not constructed by applications.
 * ```
 */
export interface StreamMeterDeps {
  clock: Clock;
  nextKey: () => string;
  send: (body: Record<string, unknown>, signal?: AbortSignal) => Promise<ChargeResult>;
  onClosed: (meter: StreamMeter) => void;
}

interface PendingFlush {
  n: number;
  quantity: number;
  key: string;
}

/**
 * A meter for streamed usage. Create it with `client.createStreamMeter()`.
 *
 * @example
 * ```ts
 * const meter = client.createStreamMeter({ customerId: 'cus_1', meter: 'llm_tokens', flushIntervalMs: 5000 });
 * meter.add(120);
 * await meter.flush(); // POST /usage with quantity 120, key stream_..._n
 * await meter.close();
 * ```
 */
export class StreamMeter {
  readonly #options: StreamMeterOptions;
  readonly #deps: StreamMeterDeps;
  #running = 0;
  #flushed = 0;
  #pending: PendingFlush | undefined;
  #inFlight: Promise<StreamFlushResult> | undefined;
  #timer: unknown;
  #closed = false;

  constructor(options: StreamMeterOptions, deps: StreamMeterDeps) {
    this.#options = options;
    this.#deps = deps;
  }

  /** Quantity added and not yet part of a flush. */
  get total(): number {
    return this.#running;
  }

  /** Quantity of the flush waiting to succeed (0 when none). */
  get pendingQuantity(): number {
    return this.#pending?.quantity ?? 0;
  }

  /** Successful flushes so far. */
  get flushCount(): number {
    return this.#flushed;
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Adds usage. `quantity` must be finite and >= 0 (`DripValidationError` otherwise); 0 is a no-op.
   * Reaching `flushThreshold` starts a flush in the background (errors go to `onError`).
   */
  add(quantity: number): void {
    const problems = check([], { quantity }, { quantity: QUANTITY });
    if (this.#closed) problems.push({ path: 'meter', message: 'is closed' });
    assertValid(problems);
    if (quantity === 0) return;
    this.#running += quantity;
    this.#options.onAdd?.(quantity, this.#running);
    this.#armTimer();
    const threshold = this.#options.flushThreshold;
    if (threshold !== undefined && threshold > 0 && this.#running >= threshold && !this.#inFlight) {
      this.flush().catch(() => {
        // Reported through onError in flush(); the pending flush is kept for the next attempt.
      });
    }
  }

  /**
   * Sends the pending flush (or snapshots a new one). At most one flush is in flight; concurrent calls
   * share its promise. On failure the flush stays pending with the same key and quantity.
   */
  flush(): Promise<StreamFlushResult> {
    if (this.#inFlight) return this.#inFlight;
    if (!this.#pending) {
      if (this.#running === 0) {
        return Promise.resolve({ success: true, quantity: 0, charge: null, isDuplicate: false });
      }
      const n = this.#flushed + 1;
      const base = this.#options.idempotencyKey;
      this.#pending = {
        n,
        quantity: this.#running,
        key: base ? streamFlushKey(base, n) : this.#deps.nextKey(),
      };
      this.#running = 0;
    }
    const pending = this.#pending;
    const body: Record<string, unknown> = {
      customerId: this.#options.customerId,
      usageType: this.#options.meter,
      quantity: pending.quantity,
      idempotencyKey: pending.key,
    };
    if (this.#options.metadata !== undefined) body.metadata = this.#options.metadata;
    const p = this.#deps.send(body).then(
      (res) => {
        this.#inFlight = undefined;
        if (this.#pending === pending) this.#pending = undefined;
        this.#flushed = Math.max(this.#flushed, pending.n);
        const result: StreamFlushResult = {
          success: res.success,
          quantity: pending.quantity,
          charge: res.charge,
          isDuplicate: res.isDuplicate,
        };
        this.#options.onFlush?.(result);
        return result;
      },
      (err: unknown) => {
        this.#inFlight = undefined;
        try {
          this.#options.onError?.(err);
        } catch {
          // A throwing onError must not hide the flush error.
        }
        throw err;
      },
    );
    this.#inFlight = p;
    return p;
  }

  /** Discards the pending flush and the running total. */
  reset(): void {
    this.#pending = undefined;
    this.#running = 0;
  }

  /** Stops the timer and sends a final flush. Later `add()` calls are refused. */
  async close(): Promise<StreamFlushResult> {
    this.#closed = true;
    if (this.#timer !== undefined) {
      this.#deps.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    try {
      if (this.#inFlight) await this.#inFlight.catch(() => undefined);
      return await this.flush();
    } finally {
      if (!this.#pending && this.#running === 0) this.#deps.onClosed(this);
    }
  }

  #armTimer(): void {
    const every = this.#options.flushIntervalMs;
    if (!every || this.#timer !== undefined || this.#closed) return;
    const handle = this.#deps.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      this.flush().then(
        () => {
          if (this.#running > 0 || this.#pending) this.#armTimer();
        },
        (err: unknown) => {
          // Retry on the next tick of the interval unless the error is permanent (4xx other than 408/409/429).
          if (
            !isDripError(err) ||
            err.statusCode === 0 ||
            err.statusCode >= 500 ||
            err.statusCode === 408 ||
            err.statusCode === 429
          ) {
            this.#armTimer();
          }
        },
      );
    }, every);
    unrefTimer(handle);
    this.#timer = handle;
  }
}
