import { createTestDrip } from '@drip/testing';
import type { Clock } from '../src/clock';
import { Drip, type DripOptions } from '../src/client';
import { createOutbox } from '../src/outbox/outbox';
import type { DeliveryResponse, DeliveryTransport, DropInfo, OutboxOptions } from '../src/outbox/types';
import type { RequestMeterOptions } from '../src/pipeline/options';
import { createRequestMeter, isPromiseLike } from '../src/pipeline/request-meter';
import type { BeginResult, RequestView } from '../src/pipeline/types';

export interface Captured {
  method: string;
  url: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  at: number;
}

export type Reply =
  | { status: number; body?: unknown; text?: string; headers?: Record<string, string> }
  | 'network-error'
  | 'hang';

/** A fetch that records every request and answers from a queue (last reply repeats) or a function. */
export function mockFetch(replies: Reply[] | ((req: Captured, n: number) => Reply), clock?: Clock) {
  const calls: Captured[] = [];
  const fetch = async (input: string, init: RequestInit): Promise<Response> => {
    const url = new URL(input);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((init.headers ?? {}) as Record<string, string>))
      headers[k.toLowerCase()] = v;
    const req: Captured = {
      method: init.method ?? 'GET',
      url: input,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams.entries()),
      headers,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      at: clock ? clock.now() : 0,
    };
    calls.push(req);
    const n = calls.length;
    const reply =
      typeof replies === 'function' ? replies(req, n) : (replies[Math.min(n, replies.length) - 1] as Reply);
    if (reply === 'network-error') throw new TypeError('fetch failed: ECONNREFUSED');
    if (reply === 'hang') {
      return new Promise<Response>((_resolve, reject) => {
        init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    }
    const text = reply.text ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
    const status = reply.status;
    return new Response(status === 204 ? null : text, {
      status,
      headers: { 'content-type': 'application/json', 'x-request-id': `req_${n}`, ...(reply.headers ?? {}) },
    });
  };
  return { fetch, calls };
}

/** A manual clock: timers fire only when the test drives time. */
export class FakeClock implements Clock {
  t = 1_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Runs timers in time order until the promise settles (bounded). */
  async run<T>(promise: Promise<T>, maxSteps = 10_000): Promise<T> {
    let settled = false;
    promise.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    for (let i = 0; i < maxSteps; i++) {
      await new Promise((r) => setImmediate(r));
      if (settled) return promise;
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (!next || e[1].at < next[1].at) next = e;
      if (!next) continue;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    throw new Error('FakeClock.run: promise did not settle');
  }

  /** Advances time by `ms`, firing due timers. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (let i = 0; i < 10_000; i++) {
      await new Promise((r) => setImmediate(r));
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await new Promise((r) => setImmediate(r));
  }
}

export const SK = 'sk_test_abcdefghijklmnop';
export const PK = 'pk_test_abcdefghijklmnop';
export const BASE = 'http://127.0.0.1:3001/v1';

export function makeClient(
  replies: Reply[] | ((req: Captured, n: number) => Reply),
  options: Partial<DripOptions> = {},
) {
  const clock = options.clock instanceof FakeClock ? options.clock : new FakeClock();
  const { fetch, calls } = mockFetch(replies, clock);
  const client = new Drip({
    apiKey: SK,
    baseUrl: BASE,
    fetch,
    clock,
    random: () => 0.5,
    idempotencyInstanceId: 'testinst',
    ...options,
  });
  return { client, calls, clock };
}

/** The framework request the request-meter tests pass as `raw`. */
export interface MeterReq {
  headers: Record<string, string>;
  user?: unknown;
}

/** The neutral request view an adapter would build from `req`. */
export function meterView(
  method: string,
  path: string,
  req: MeterReq,
  route?: string,
): RequestView<MeterReq> {
  return {
    method,
    path,
    route,
    header: (name) => req.headers[name.toLowerCase()],
    user: req.user,
    raw: req,
  };
}

/** A request meter over a client of an in-memory Drip API; the outbox flushes at once and installs no hooks. */
export function setupMeter(options: RequestMeterOptions<MeterReq> = {}) {
  const api = createTestDrip();
  const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
  const meter = createRequestMeter<MeterReq>({
    client,
    logger: { warn: () => {} },
    ...options,
    outbox: { shutdownHooks: false, flushIntervalMs: 1, ...(options.outbox ?? {}) },
  });
  return { api, meter };
}

/** `meter.begin()` answers synchronously unless a gate or resolver is async. */
export async function resolveBegin(r: BeginResult | Promise<BeginResult>): Promise<BeginResult> {
  return isPromiseLike(r) ? await r : r;
}

/** A POST the outbox made through `transportOutbox`'s transport. */
export interface Post {
  path: string;
  body: Record<string, unknown>;
}

/**
 * An outbox on a per-item transport whose answer the test picks (fast backoff, no shutdown hooks);
 * returns it with every POST it made and every drop it reported.
 */
export function transportOutbox(answer: (post: Post) => DeliveryResponse, options: OutboxOptions = {}) {
  const posts: Post[] = [];
  const transport: DeliveryTransport = {
    post: async (path, body) => {
      const post = { path, body: body as Record<string, unknown> };
      posts.push(post);
      return answer(post);
    },
    health: async () => ({ status: 200, body: { status: 'healthy', capabilities: [] } }),
  };
  const drops: DropInfo[] = [];
  const outbox = createOutbox({
    transport,
    bulk: 'never',
    shutdownHooks: false,
    flushIntervalMs: 1,
    backoffBaseMs: 1,
    backoffCapMs: 2,
    logger: { warn: () => {}, debug: () => {} },
    onDrop: (d) => drops.push(d),
    ...options,
  });
  return { outbox, posts, drops };
}

/** A 201 answer to any POST. */
export const created = (): DeliveryResponse => ({ status: 201, body: { success: true } });
