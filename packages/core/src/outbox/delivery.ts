/**
 * Delivery of the outbox: the shape of the next batch (bulk or per item, how many records, how many bytes),
 * one send and what its answer means for each record, and the backoff/pause state between sends. The
 * outbox (`outbox.ts`) coordinates: it takes records from its queues, calls `sendBatch`, and applies the
 * outcome (settle, requeue, success or failure).
 */

import { isRecord as isObject } from '../errors';
import { MAX_BODY_BYTES, MAX_BULK_ITEMS } from '../limits';
import { backoffDelay } from '../retry';
import { bulkItemAnswer, isTransient } from './answers';
import type { DeliveryResponse, DeliveryTransport, OutboxRecord, OutboxStats } from './types';

/** A record kind: its queue, its route and its bulk route. */
export type Kind = 'usage' | 'run';

/**
 * How batches are shaped: which bulk routes the server offers (`/health` capabilities, spec §10), how
 * many records a bulk request carries (smaller after a timeout, growing back after answers) and how many
 * bytes (halved after a 413).
 *
 * @example
 * ```ts
 * const shape = new BatchShape('auto', 100, 512 * 1024);
 * shape.useBulk('usage'); // false until `discovered()` saw 'usage-bulk'
 * ```
 */
export class BatchShape {
  /** Bulk routes by kind, from `/health`; `undefined` until read (or after the server refused bulk). */
  routes: { usage: boolean; runs: boolean } | undefined;
  /** Bulk requests the server refused as a whole (2 or more: per item from then on). */
  refusals = 0;
  /** Records per bulk request now (at most the configured batch size). */
  limit: number;
  /** Bytes per request now. */
  maxBytes: number;
  readonly #mode: 'auto' | 'always' | 'never';
  readonly #batchSize: number;

  constructor(mode: 'auto' | 'always' | 'never', batchSize: number, maxBatchBytes: number) {
    this.#mode = mode;
    this.#batchSize = Math.max(1, batchSize);
    this.limit = this.#batchSize;
    this.maxBytes = Math.min(maxBatchBytes, MAX_BODY_BYTES - 1024);
  }

  /** Whether `/health` must be read before the first send. */
  needsDiscovery(): boolean {
    return this.routes === undefined && this.#mode === 'auto';
  }

  /** Reads the capabilities of a `/health` answer. */
  discovered(body: unknown): void {
    const caps = isObject(body) && Array.isArray(body.capabilities) ? body.capabilities : [];
    this.routes = { usage: caps.includes('usage-bulk'), runs: caps.includes('runs-record-bulk') };
  }

  useBulk(kind: Kind): boolean {
    if (this.#mode === 'never' || this.refusals >= 2) return false;
    if (this.#mode === 'always') return true;
    return kind === 'usage' ? this.routes?.usage === true : this.routes?.runs === true;
  }

  /** An answer came: a batch shrunk after a timeout grows back towards the configured size. */
  answered(): void {
    if (this.limit < this.#batchSize)
      this.limit = Math.min(this.#batchSize, Math.ceil(this.limit * 1.25) + 1);
  }

  /** Records the next batch of `kind` may carry. */
  maxItems(kind: Kind, open: boolean): number {
    return this.useBulk(kind) && open ? Math.min(this.limit, MAX_BULK_ITEMS[kind]) : 1;
  }
}

/**
 * What one send means: `transient` (requeue, counted as a retry, then back off), `resend` (requeue
 * uncounted: the batch's shape was wrong, not the records) or `answered` (a final answer per record in
 * `settled`, and the records without one in `retry`, with the transient answer that explains them).
 */
export type BatchOutcome =
  | { kind: 'transient'; records: OutboxRecord[]; res: DeliveryResponse }
  | { kind: 'resend'; records: OutboxRecord[]; warn?: string | undefined }
  | {
      kind: 'answered';
      /** A per-item send (one record, bulk off or delivery not open). */
      perItem: boolean;
      settled: Array<[OutboxRecord, DeliveryResponse]>;
      retry: OutboxRecord[];
      res: DeliveryResponse | undefined;
    };

/**
 * Sends one batch (per item when it holds one record and bulk is off or delivery is not open) and tells
 * what the answer means per record; adjusts `shape` from the answer.
 *
 * @example
 * ```ts
 * const outcome = await sendBatch(transport, [record], { shape, open: true, timeoutMs: 10_000 });
 * ```
 */
export async function sendBatch(
  transport: DeliveryTransport,
  batch: OutboxRecord[],
  ctx: {
    shape: BatchShape;
    open: boolean;
    timeoutMs: number;
    debug?: ((message: string, context: Record<string, unknown>) => void) | undefined;
  },
): Promise<BatchOutcome> {
  const first = batch[0];
  if (!first) return { kind: 'answered', perItem: true, settled: [], retry: [], res: undefined };
  const { shape, timeoutMs } = ctx;
  // The per-item route; its bulk twin is `<route>/bulk`.
  const route = first.kind === 'usage' ? '/usage/internal' : '/runs/record';
  const bulk = batch.length > 1 || (shape.useBulk(first.kind) && ctx.open);
  if (!bulk) {
    const res = await transport.post(route, first.body, { timeoutMs });
    ctx.debug?.('sent', { path: route, status: res.status });
    if (isTransient(res)) return { kind: 'transient', records: [first], res };
    return { kind: 'answered', perItem: true, settled: [[first, res]], retry: [], res: undefined };
  }
  const path = `${route}/bulk`;
  const payload =
    first.kind === 'usage' ? { events: batch.map((r) => r.body) } : { runs: batch.map((r) => r.body) };
  const res = await transport.post(path, payload, { timeoutMs });
  ctx.debug?.('sent', { path, items: batch.length, status: res.status });
  if (isTransient(res)) {
    if ((res.status === 0 || res.status === 408) && batch.length > 1) {
      // No answer in time: a smaller batch is more likely to finish (and to cost less if repeated).
      shape.limit = Math.max(10, Math.floor(batch.length / 2));
    }
    return { kind: 'transient', records: batch, res };
  }
  return answerOf(shape, batch, res);
}

/** The meaning of a non-transient bulk answer. */
function answerOf(shape: BatchShape, batch: OutboxRecord[], res: DeliveryResponse): BatchOutcome {
  shape.answered();
  if (res.status === 404 || res.status === 405) {
    // The server stopped advertising bulk (or never had it): re-read /health, per-item meanwhile.
    shape.refusals++;
    shape.routes = undefined;
    return { kind: 'resend', records: batch };
  }
  if (res.status === 413 && batch.length > 1) {
    shape.maxBytes = Math.max(16 * 1024, Math.floor(shape.maxBytes / 2));
    return { kind: 'resend', records: batch };
  }
  if (res.status >= 400) {
    // An envelope the server refused as a whole: send each item alone so each gets its own verdict.
    shape.refusals = 2;
    return { kind: 'resend', records: batch, warn: `bulk route refused (${res.status}); sending per item` };
  }
  const settled: Array<[OutboxRecord, DeliveryResponse]> = [];
  const retry: OutboxRecord[] = [];
  let transient: DeliveryResponse | undefined;
  batch.forEach((record, i) => {
    const itemRes = bulkItemAnswer(res.body, i);
    if (itemRes === undefined) {
      retry.push(record);
      return;
    }
    if (isTransient(itemRes)) {
      retry.push(record);
      transient = itemRes;
      return;
    }
    settled.push([record, itemRes]);
  });
  const why =
    retry.length > 0
      ? (transient ?? { status: 500, body: undefined, code: 'INCOMPLETE_BULK_ANSWER' })
      : undefined;
  return { kind: 'answered', perItem: false, settled, retry, res: why };
}

/**
 * Backoff and pause between sends: after a failure, no send before `notBefore` (jittered exponential
 * backoff, at least the server's `Retry-After` up to a cap); after `pauseAfter` failures in a row (or a
 * failed probe) delivery is `paused`, then one probing request at a time until one succeeds.
 *
 * @example
 * ```ts
 * const pace = new DeliveryPace();
 * pace.failed(Date.now(), 250, false); // no send for 250 ms
 * ```
 */
export class DeliveryPace {
  state: OutboxStats['state'] = 'open';
  failuresInARow = 0;
  /** Epoch ms before which nothing is sent. */
  notBefore = 0;

  /** A send succeeded; `true` when delivery was failing or paused until now. */
  succeeded(): boolean {
    const resumed = this.failuresInARow > 0 || this.state !== 'open';
    this.failuresInARow = 0;
    this.state = 'open';
    return resumed;
  }

  /** The delay after one more failure in a row (`retryAfterMs` from the server, capped). */
  delayAfterFailure(
    res: DeliveryResponse,
    o: { baseMs: number; capMs: number; retryAfterCapMs: number; random: () => number },
  ): number {
    this.failuresInARow++;
    let delay = backoffDelay(this.failuresInARow, o.baseMs, o.capMs, o.random);
    if (res.retryAfterMs !== undefined)
      delay = Math.max(delay, Math.min(res.retryAfterMs, o.retryAfterCapMs));
    return delay;
  }

  /** Holds sends for `delay` from `now`; pauses after `pauseAfter` failures. `true` when it paused now. */
  hold(now: number, delay: number, pauseAfter: number): boolean {
    // At least 1 ms and always through a timer: an in-process transport that fails at once must not
    // turn retries into a microtask loop that starves the event loop.
    this.notBefore = Math.max(this.notBefore, now + Math.max(1, delay));
    if (this.failuresInARow >= pauseAfter || this.state === 'probing') {
      const pausedNow = this.state !== 'paused';
      this.state = 'paused';
      return pausedNow;
    }
    return false;
  }
}
