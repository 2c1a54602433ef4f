import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onNodeResponseEnd } from '../src/adapter-kit';
import { createOutbox } from '../src/outbox/outbox';
import { meterNameProblem } from '../src/validation';
import { meterView, resolveBegin, setupMeter } from './helpers';

/** The memory bound's currency, walked generically (strings by length + 2, numbers 8, keys + 4, braces 2). */
function walk(value: unknown): number {
  if (typeof value === 'string') return value.length + 2;
  if (typeof value === 'number') return 8;
  if (typeof value === 'boolean') return 5;
  if (value === null) return 4;
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + walk(v) + 1, 2);
  if (typeof value === 'object') {
    let n = 2;
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      if (v !== undefined) n += k.length + 4 + walk(v);
    return n;
  }
  return 0;
}

const silent = {
  post: () => new Promise<never>(() => {}),
  health: async () => ({ status: 200, body: { status: 'healthy', capabilities: [] } }),
};

describe('hot-path shortcuts keep their answers (issue 17)', () => {
  it('a run record is sized field by field exactly as the generic walk sizes its body', () => {
    const outbox = createOutbox({ transport: silent, shutdownHooks: false, flushIntervalMs: 60_000 });
    const full = {
      customerId: 'cus_1',
      workflow: 'get-items-id',
      status: 'FAILED' as const,
      events: [{ eventType: 'db.lookup', quantity: 2, metadata: { table: 'items', rows: [1, 2] } }],
      externalRunId: 'mw:cus_1:abc.1',
      idempotencyKey: 'mw:cus_1:abc.1',
      correlationId: '4bf92f3577b34da6a3ce929d0e0e4736',
      errorMessage: 'HTTP 500',
      errorCode: 'HTTP_500',
      metadata: { method: 'GET', route: '/items/:id', status: 500, ok: false, none: null },
      startedAt: '2026-12-04T15:00:00.000Z',
      endedAt: '2026-12-04T15:00:00.012Z',
    };
    expect(outbox.enqueue({ type: 'run', ...full })).toBe(true);
    const afterFull = outbox.stats().bytes;
    expect(afterFull).toBe(walk(full) + 48);
    const minimal = {
      customerId: '',
      externalCustomerId: 'user-42',
      workflow: 'chat',
      status: 'COMPLETED' as const,
      events: [],
      externalRunId: 'run-1',
      idempotencyKey: 'rec-1',
    };
    expect(outbox.enqueue({ type: 'run', ...minimal, customerId: undefined })).toBe(true);
    expect(outbox.stats().bytes - afterFull).toBe(walk(minimal) + 48);
    void outbox.close(10);
  });

  it('the remembered valid meter name never lets an invalid name through', () => {
    expect(meterNameProblem('api_calls')).toBeUndefined();
    expect(meterNameProblem('api_calls')).toBeUndefined();
    expect(meterNameProblem('api calls')).toMatch(/must be 1-/);
    expect(meterNameProblem('api_calls')).toBeUndefined();
    expect(meterNameProblem('')).toMatch(/must be 1-/);
    expect(meterNameProblem(`a${'b'.repeat(100)}`)).toMatch(/must be 1-/);
    expect(meterNameProblem(42)).toBe('must be a string');
  });
});

describe('isoTime remembers two instants (issue 17)', () => {
  it('answers each instant with its own ISO text, whatever the order of the calls', async () => {
    const { isoTime } = await import('../src/pipeline/metadata');
    const instants = [0, 1, 0, 1, 2, 0, 2, 1_733_000_000_123, 1, 1_733_000_000_123, 0];
    for (const ms of instants) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });
});

describe('per-request totals and the end of a Node response (issue 17)', () => {
  it('several meters in one request: one record per meter, each with its own sum and key', async () => {
    const { api, meter } = setupMeter();
    const serve = async (status: number) => {
      const r = await resolveBegin(
        meter.begin(meterView('GET', '/work', { headers: {}, user: { customerId: 'cus_many' } })),
      );
      if (r.kind !== 'continue') throw new Error(`expected continue, got ${r.kind}`);
      r.context.usage('tokens_in', 10);
      r.context.usage('tokens_out', 4);
      r.context.usage('tokens_in', 5, { billOn: 'always' });
      r.context.usage('api_calls', 2);
      r.context.usage('tokens_out', 1);
      r.context.usage('images', 3, { billOn: 'always' });
      r.handle.finish({ status });
    };
    await serve(200);
    await serve(503);
    await meter.flush(5_000);
    const sums: Record<string, number> = {};
    for (const u of api.usage) sums[u.meter] = (sums[u.meter] ?? 0) + u.quantity;
    // 200: every meter bills; the default meter (api_calls) adds its 1 to the handler's 2.
    // 503: only the `always` parts bill (tokens_in 5, images 3).
    expect(sums).toEqual({ tokens_in: 15 + 5, tokens_out: 5, api_calls: 3, images: 3 + 3 });
    expect(api.usage).toHaveLength(4 + 2);
    expect(new Set(api.usage.map((u) => u.idempotencyKey)).size).toBe(6);
  });

  it('onNodeResponseEnd reports one end however often the response emits close', () => {
    const res = Object.assign(new EventEmitter(), { statusCode: 201, writableFinished: true });
    const ends: unknown[] = [];
    onNodeResponseEnd(res, (end) => ends.push(end));
    res.emit('close');
    res.emit('close');
    expect(ends).toEqual([{ status: 201, aborted: false }]);
    const left = Object.assign(new EventEmitter(), { statusCode: 200, writableFinished: false });
    onNodeResponseEnd(left, (end) => ends.push(end));
    left.emit('close');
    expect(ends[1]).toEqual({ status: 200, aborted: true });
  });
});
