/**
 * Failures that explain themselves (issue 15). Every drop and dead letter is counted by reason and
 * logged with its code, the API's message and how many records it hit, at most once per interval per
 * kind of failure (never just once per process, never once per record): e.g.
 * `drip outbox: usage not delivered: CUSTOMER_NOT_FOUND for customer "alice" (12 records): ...`.
 * A hint follows where the likely cause is known. The first accepted delivery logs one info line saying
 * where usage goes and in which mode.
 */

import { type Clock, unrefTimer } from '../clock';
import { isRecord } from '../errors';
import type { DripLogger } from '../transport';
import type { DeliveryObserver } from './customers';
import type { ClientLike, DeliveryResponse, DropReason, OutboxRecord } from './types';

const PREFIX = 'drip outbox: ';
/** Codes whose cause is one customer: their lines name it. */
const PER_CUSTOMER = new Set(['CUSTOMER_NOT_FOUND', 'CUSTOMER_BLOCKED', 'PAYMENT_REQUIRED']);
/** Most distinct failure lines waiting at once (one per customer at worst); beyond it they merge. */
const MAX_GROUPS = 50;

const DROP_TEXT: Record<Exclude<DropReason, 'rejected'>, string> = {
  overflow: 'queue full (maxRecords / maxBytes), oldest or newest records dropped',
  expired: 'older than maxAgeMs while the API could not be reached',
  invalid: 'refused at enqueue()',
  closed: 'enqueued after close(), or not delivered before close() timed out',
  'no-client': 'no Drip client: set DRIP_API_KEY (or pass apiKey / client)',
};

interface Group {
  /** The line, given the count text (`12 usage records`). */
  text: (count: string) => string;
  hint: string | undefined;
  count: number;
  kind: string;
}

/**
 * Collects drops, dead letters and delivery answers of one outbox and turns them into counted,
 * rate-limited log lines. The outbox owns one.
 *
 * @example
 * ```ts
 * const report = new DeliveryReport({ logger: console });
 * report.drop('rejected', record, { error: 'Unknown API key', code: 'UNAUTHORIZED' });
 * report.counts(); // { 'rejected:UNAUTHORIZED': 1 }
 * ```
 */
export class DeliveryReport implements DeliveryObserver {
  readonly #logger: DripLogger | undefined;
  readonly #clock: Pick<Clock, 'now' | 'setTimeout'> | undefined;
  readonly #intervalMs: number;
  readonly #counts: Record<string, number> = {};
  readonly #groups = new Map<string, Group>();
  readonly #lastLog = new Map<string, number>();
  #timer: unknown;
  #where = 'the Drip API';
  #mode: string | undefined;
  #delivered = false;

  constructor(options: {
    logger?: DripLogger | undefined;
    clock?: Pick<Clock, 'now' | 'setTimeout'> | undefined;
    intervalMs?: number | undefined;
  }) {
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#intervalMs = Math.max(0, options.intervalMs ?? 30_000);
  }

  /** Where the records go (base URL) and in which mode (from the key prefix), for the log lines. */
  bind(client: ClientLike | undefined): void {
    if (!client) return;
    if (typeof client.baseUrl === 'string') this.#where = client.baseUrl;
    const mode = (client as { mode?: unknown }).mode;
    if (typeof mode === 'string') this.#mode = mode;
  }

  /** Counts of drops and dead letters by reason (`rejected:<CODE>` for dead letters). */
  counts(): Record<string, number> {
    return { ...this.#counts };
  }

  /** A dropped or dead-lettered record (the outbox's single drop path calls this). */
  drop(reason: DropReason, record: OutboxRecord | undefined, error: unknown): void {
    const kind = record?.kind ?? 'usage';
    if (reason !== 'rejected') {
      this.#count(reason);
      const detail = messageOf(error);
      const key = `${reason}:${kind}`;
      this.#add(
        key,
        kind,
        (c) => `${reason}: ${DROP_TEXT[reason]} (${c})${detail ? `: ${detail}` : ''}`,
        undefined,
      );
      return;
    }
    const body = isRecord(error) ? error : {};
    const code = typeof body.code === 'string' ? body.code : 'REJECTED';
    this.#count(`rejected:${code}`);
    const message = messageOf(error) ?? 'refused';
    const rec = record && isRecord(record.body) ? (record.body as Record<string, unknown>) : {};
    const external = typeof rec.externalCustomerId === 'string' ? rec.externalCustomerId : undefined;
    const customer = external ?? (typeof rec.customerId === 'string' ? rec.customerId : undefined);
    const status = typeof body.statusCode === 'number' ? body.statusCode : statusOf(code);
    let text: (c: string) => string;
    let key: string;
    if (PER_CUSTOMER.has(code) && customer !== undefined) {
      key = `rejected:${kind}:${code}:${customer}`;
      text = (c) => `${code} for customer "${customer}" (${c}): ${message}`;
    } else {
      key = `rejected:${kind}:${code}`;
      text = (c) => `${status ? `${status} ` : ''}${message} (${code}, ${c})`;
    }
    this.#add(key, kind, text, hintFor(code, customer, external !== undefined, this.#where));
  }

  observe(res: DeliveryResponse, records: number): void {
    if (res.status >= 200 && res.status < 300) {
      if (this.#delivered) return;
      this.#delivered = true;
      const mode = this.#mode && this.#mode !== 'unknown' ? ` (${this.#mode} mode)` : '';
      this.#log('info', `${PREFIX}delivering to ${this.#where}${mode}: first batch accepted`);
      return;
    }
    const transient = res.status === 0 || res.status === 408 || res.status === 429 || res.status >= 500;
    if (!transient) return;
    const code = res.code ?? (res.status === 0 ? 'NETWORK_ERROR' : `HTTP_${res.status}`);
    const message = res.message ?? `HTTP ${res.status}`;
    this.#add(
      `transient:${code}`,
      'delivery',
      (c) => `cannot deliver to ${this.#where}: ${code}: ${message} (${c}); records are kept and retried`,
      res.status === 0 ? 'is the server running and DRIP_API_URL right?' : undefined,
      records,
    );
  }

  #count(key: string): void {
    this.#counts[key] = (this.#counts[key] ?? 0) + 1;
  }

  #add(key: string, kind: string, text: (count: string) => string, hint: string | undefined, n = 1): void {
    let g = this.#groups.get(key);
    if (!g) {
      if (this.#groups.size >= MAX_GROUPS) {
        key = `other:${kind}`;
        g = this.#groups.get(key);
        text = (c) => `other failures (${c}); see stats() and deadLetters()`;
        hint = undefined;
      }
      if (!g) {
        g = { text, hint, count: 0, kind };
        this.#groups.set(key, g);
      }
    }
    g.count += n;
    this.#schedule();
  }

  /** Lines go out together shortly after the first failure (one line per batch, not per record). */
  #schedule(): void {
    if (this.#timer !== undefined) return;
    const now = this.#clock?.now() ?? Date.now();
    let due = now;
    for (const key of this.#groups.keys()) {
      const last = this.#lastLog.get(key);
      if (last !== undefined) due = Math.max(due, last + this.#intervalMs);
    }
    const run = () => {
      this.#timer = undefined;
      this.#emit();
    };
    const delay = Math.max(0, due - now);
    this.#timer = this.#clock ? this.#clock.setTimeout(run, delay) : setTimeout(run, delay);
    unrefTimer(this.#timer);
  }

  /** Writes every waiting line now, whatever the interval (at `close()`: the process may end next). */
  emit(): void {
    this.#emit(true);
  }

  #emit(all = false): void {
    const now = this.#clock?.now() ?? Date.now();
    for (const [key, g] of this.#groups) {
      const last = this.#lastLog.get(key);
      if (!all && last !== undefined && now - last < this.#intervalMs) continue;
      this.#groups.delete(key);
      if (this.#lastLog.size >= 1_000) this.#lastLog.clear();
      this.#lastLog.set(key, now);
      const unit = g.kind === 'delivery' ? 'attempt' : `${g.kind} record`;
      const count = `${g.count} ${unit}${g.count === 1 ? '' : 's'}`;
      const lead = g.kind === 'delivery' ? '' : `${g.kind} not delivered: `;
      const body = g.text(count);
      const kept = key.startsWith('rejected:') ? '; kept in deadLetters()' : '';
      // Records lost for want of room or time are an error the operator must see; the rest are warnings.
      const level = key.startsWith('overflow:') || key.startsWith('closed:') ? 'error' : 'warn';
      this.#log(level, `${PREFIX}${lead}${body}${kept}${g.hint ? `. Hint: ${g.hint}` : ''}`);
    }
    if (this.#groups.size > 0) this.#schedule();
  }

  #log(level: 'info' | 'warn' | 'error', line: string): void {
    try {
      this.#logger?.[level]?.(line);
    } catch {
      // a logger failure never reaches delivery
    }
  }
}

function messageOf(error: unknown): string | undefined {
  if (error === undefined || error === null) return undefined;
  if (typeof error === 'string') return error;
  if (error instanceof Error) return error.message;
  if (isRecord(error)) {
    if (typeof error.message === 'string') return error.message;
    if (typeof error.error === 'string') return error.error;
  }
  return undefined;
}

function statusOf(code: string): number | undefined {
  switch (code) {
    case 'UNAUTHORIZED':
      return 401;
    case 'PAYMENT_REQUIRED':
      return 402;
    case 'CUSTOMER_BLOCKED':
    case 'FORBIDDEN':
    case 'PUBLIC_KEY_NOT_ALLOWED':
      return 403;
    case 'CUSTOMER_NOT_FOUND':
      return 404;
    case 'VALIDATION_ERROR':
      return 422;
    default:
      return undefined;
  }
}

function hintFor(
  code: string,
  customer: string | undefined,
  external: boolean,
  where: string,
): string | undefined {
  switch (code) {
    case 'UNAUTHORIZED':
      return `check DRIP_API_KEY: ${where} does not accept this key (a key from another server or mode?)`;
    case 'PUBLIC_KEY_NOT_ALLOWED':
      return 'this route needs a secret key (sk_...)';
    case 'PAYMENT_REQUIRED':
      return "the customer's balance is too low for this charge";
    case 'CUSTOMER_NOT_FOUND':
      if (external)
        return 'create the customer first, or leave customers.provision on to create it on first use';
      if (customer !== undefined && !customer.startsWith('cus_')) {
        return `"${customer}" does not look like a Drip customer id; if it is your app's own id, return { externalCustomerId: "${customer}" } from the customer resolver and it is created on first use`;
      }
      return undefined;
    default:
      return undefined;
  }
}
