import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createIdempotencyKeyGenerator,
  createInstanceId,
  generateIdempotencyKey,
  getIdempotencyInstanceId,
} from '../src/keys';
import { makeClient } from './helpers';

const KEY_RE = /^[a-z]+_[a-z2-7]{16}_[0-9a-z]+$/;

describe('automatic idempotency keys (spec §5.2)', () => {
  it('format <prefix>_<16 base32>_<base36 counter>, counter starts at 1 and is monotonic', () => {
    const next = createIdempotencyKeyGenerator({ shared: false });
    const a = next('track');
    const b = next('track');
    expect(a).toMatch(KEY_RE);
    expect(a.endsWith('_1')).toBe(true);
    expect(b.endsWith('_2')).toBe(true);
    for (let i = 3; i <= 36; i++) next('x');
    expect(next('x').endsWith('_11')).toBe(true); // 37 in base 36
  });

  it('property: no collision across 8 simulated processes x 100 000 calls', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('track', 'chg', 'evt', 'rec'), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (prefixes, seed) => {
          const processes = Array.from({ length: 8 }, () => createIdempotencyKeyGenerator({ shared: false }));
          const seen = new Set<string>();
          let rnd = seed;
          for (let i = 0; i < 800_000; i++) {
            rnd = (rnd * 1103515245 + 12345) & 0x7fffffff; // interleave the processes pseudo-randomly
            const key = processes[i % 8]!(prefixes[rnd % prefixes.length]!);
            seen.add(key);
          }
          return seen.size === 800_000;
        },
      ),
      { numRuns: 2 },
    );
  }, 120_000);

  it('property: instance ids are 16 base32 characters', () => {
    fc.assert(
      fc.property(fc.constant(null), () => /^[a-z2-7]{16}$/.test(createInstanceId())),
      { numRuns: 200 },
    );
  });

  it('a fixed instance id gives reproducible keys', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9]{1,32}$/), fc.nat(50), (id, n) => {
        const a = createIdempotencyKeyGenerator({ instanceId: id });
        const b = createIdempotencyKeyGenerator({ instanceId: id });
        for (let i = 0; i < n; i++) expect(a('p')).toBe(b('p'));
        return a('p') === `p_${id}_${(n + 1).toString(36)}`;
      }),
    );
    expect(() => createIdempotencyKeyGenerator({ instanceId: 'Bad-Id' })).toThrow(TypeError);
  });

  it('the shared sequence lives on globalThis[Symbol.for("drip.idempotency")]', () => {
    const state = (globalThis as Record<symbol, { instanceId: string; counter: number }>)[
      Symbol.for('drip.idempotency')
    ];
    const k = generateIdempotencyKey('x');
    const s = (globalThis as Record<symbol, { instanceId: string; counter: number }>)[
      Symbol.for('drip.idempotency')
    ]!;
    expect(state === undefined || state === s).toBe(true);
    expect(k).toBe(`x_${s.instanceId}_${s.counter.toString(36)}`);
    expect(getIdempotencyInstanceId()).toBe(s.instanceId);
    const before = s.counter;
    generateIdempotencyKey('y');
    expect(s.counter).toBe(before + 1);
  });

  it('idempotencyKeyFactory replaces the generator', async () => {
    const { client, calls } = makeClient(
      [
        {
          status: 201,
          body: { success: true, usageEventId: 'u', customerId: 'c', usageType: 'm', quantity: 1 },
        },
      ],
      { idempotencyKeyFactory: (p) => `custom-${p}` },
    );
    await client.trackUsage({ customerId: 'c', meter: 'm', quantity: 1 });
    expect((calls[0]!.body as { idempotencyKey: string }).idempotencyKey).toBe('custom-track');
  });

  it('property: a key is fixed before the first attempt and stable across retries of any failure mix', async () => {
    const failure = fc.constantFrom<'network-error' | 500 | 502 | 503 | 504 | 429>(
      'network-error',
      500,
      502,
      503,
      504,
      429,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(failure, { maxLength: 3 }),
        fc.constantFrom('trackUsage', 'charge', 'chargeAsync', 'emitEvent', 'recordRun'),
        async (fails, method) => {
          const replies = [
            ...fails.map((f) => (f === 'network-error' ? f : { status: f, body: { error: 'x', code: 'X' } })),
            {
              status: 201,
              body: {
                success: true,
                usageEventId: 'u',
                id: 'evt_1',
                run: { id: 'run_1', workflowId: 'wf', status: 'COMPLETED' },
                events: { created: 0, duplicates: 0 },
                summary: 's',
              },
            },
          ] as const;
          const { client, calls, clock } = makeClient([...replies]);
          const call =
            method === 'emitEvent'
              ? client.emitEvent({ runId: 'run_1', eventType: 'x' })
              : method === 'recordRun'
                ? client.recordRun({ customerId: 'c', workflow: 'w', status: 'COMPLETED' })
                : client[method]({ customerId: 'c', meter: 'm', quantity: 1 });
          await clock.run(call as Promise<unknown>);
          expect(calls).toHaveLength(fails.length + 1);
          const keys = new Set(calls.map((c) => (c.body as { idempotencyKey: string }).idempotencyKey));
          expect(keys.size).toBe(1);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('prefixes per method (spec §5.3)', async () => {
    const body = {
      success: true,
      usageEventId: 'u',
      id: 'x',
      status: 'PENDING',
      run: { id: 'run_1', workflowId: 'wf', status: 'COMPLETED' },
      events: [{ id: 'e', eventType: 'x', isDuplicate: false }],
      summary: 's',
    };
    const { client, calls } = makeClient([{ status: 201, body }]);
    await client.trackUsage({ customerId: 'c', meter: 'm', quantity: 1 });
    await client.charge({ customerId: 'c', meter: 'm', quantity: 1 });
    await client.chargeAsync({ customerId: 'c', meter: 'm', quantity: 1 });
    await client.emitEvent({ runId: 'r', eventType: 'x' });
    await client.emitEventsBatch([{ runId: 'r', eventType: 'x' }]);
    await client.recordRun({ customerId: 'c', workflow: 'w', status: 'COMPLETED' });
    await client.startRun({ customerId: 'c', workflowId: 'w' });
    await client.wrapApiCall({ customerId: 'c', meter: 'm', call: () => 1, extractUsage: (n) => n });
    const keyOf = (i: number) => {
      const b = calls[i]!.body as {
        idempotencyKey?: string;
        externalRunId?: string;
        events?: Array<{ idempotencyKey: string }>;
      };
      return b.events?.length ? b.events[0]!.idempotencyKey : (b.idempotencyKey ?? b.externalRunId);
    };
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => keyOf(i)!.split('_')[0])).toEqual([
      'track',
      'chg',
      'chga',
      'evt',
      'evt',
      'rec',
      'run',
      'wrap',
    ]);
    expect((calls[5]!.body as { externalRunId: string }).externalRunId).toMatch(/^run_testinst_/);
  });
});

describe('instance ids', () => {
  it('instance ids use the whole base32 alphabet (5 random bits per character)', () => {
    const seen = new Set<string>();
    // 64 ids = 1024 characters: the chance that one of 32 letters never appears is below 1e-12.
    for (let i = 0; i < 64; i++) for (const ch of createInstanceId()) seen.add(ch);
    expect([...seen].sort().join('')).toBe([...'abcdefghijklmnopqrstuvwxyz234567'].sort().join(''));
  });
});
