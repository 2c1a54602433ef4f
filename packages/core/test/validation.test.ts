import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Drip } from '../src/client';
import { type DripError, DripValidationError, isDripError } from '../src/errors';
import {
  MAX_ID_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_METER_LENGTH,
  MAX_QUANTITY,
  METER_PATTERN,
  assertCustomerId,
  assertEventType,
  assertMeterName,
  assertMetadata,
  assertQuantity,
  isValidCustomerId,
  isValidEventType,
  isValidIdempotencyKey,
  isValidMeterName,
  isValidMetadata,
  isValidQuantity,
} from '../src/validation';
import { BAD_INPUTS } from './bad-inputs';
import { PK, makeClient } from './helpers';

const okUsage = {
  status: 201,
  body: { success: true, usageEventId: 'use_1', customerId: 'c', usageType: 'm', quantity: 1 },
};

async function errorOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('README Errors table: every row is true', () => {
  for (const row of BAD_INPUTS) {
    it(`${row.call} → ${row.code}`, async () => {
      const { client, calls } = makeClient(
        [okUsage],
        row.code === 'PUBLIC_KEY_NOT_ALLOWED' ? { apiKey: PK } : {},
      );
      const err = await errorOf(() => row.run(client));
      expect(isDripError(err)).toBe(true);
      const e = err as DripError;
      expect(e.code).toBe(row.code);
      expect(e.statusCode).toBe(row.status);
      if (row.field !== '—') {
        expect(e).toBeInstanceOf(DripValidationError);
        expect((e as DripValidationError).details[0]?.path).toBe(row.field);
      }
      expect(calls).toHaveLength(0); // nothing was sent
    });
  }

  it('the README lists exactly these rows (at least 20)', () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const readme = readFileSync(join(here, '..', 'README.md'), 'utf8');
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(20);
    for (const row of BAD_INPUTS) {
      expect(readme).toContain(`| \`${row.call}\` | \`${row.code}\` (${row.status}) | \`${row.field}\` |`);
    }
  });
});

const client = () => makeClient([okUsage]);

describe('validation properties (fast-check)', () => {
  it('rejects every bad quantity class and accepts valid ones', async () => {
    const bad = fc.oneof(
      fc.constant(Number.NaN),
      fc.constant(Number.POSITIVE_INFINITY),
      fc.constant(Number.NEGATIVE_INFINITY),
      fc.double({ max: -Number.MIN_VALUE, noNaN: true }),
      fc.double({ min: 1e15, noNaN: true, noDefaultInfinity: true }).filter((q) => q > 1e15),
    );
    await fc.assert(
      fc.asyncProperty(bad, async (quantity) => {
        const { client: c, calls } = client();
        const e = await errorOf(() => c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity }));
        expect(e).toBeInstanceOf(DripValidationError);
        expect((e as DripValidationError).details[0]?.path).toBe('quantity');
        expect(calls).toHaveLength(0);
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0, max: 1e15, noNaN: true }), async (quantity) => {
        const { client: c, calls } = client();
        await c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity });
        expect((calls[0]!.body as { quantity: number }).quantity).toBe(quantity === 0 ? 0 : quantity);
      }),
      { numRuns: 300 },
    );
  });

  it('meters: accepts exactly the names matching the documented pattern', async () => {
    const meterChars = fc.constantFrom(...'abcXYZ019_.:/- \t\n$é'.split(''));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 120 }), fc.string({ unit: meterChars, maxLength: 110 })),
        async (meter) => {
          const { client: c, calls } = client();
          const e = await errorOf(() => c.trackUsage({ customerId: 'cus_1', meter, quantity: 1 }));
          if (METER_PATTERN.test(meter)) {
            expect(e).toBeUndefined();
            expect((calls[0]!.body as { usageType: string }).usageType).toBe(meter);
          } else {
            expect(e).toBeInstanceOf(DripValidationError);
            expect(calls).toHaveLength(0);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('metadata: any JSON object within limits is sent unchanged; non-JSON values are rejected', async () => {
    const jsonObj = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 });
    await fc.assert(
      fc.asyncProperty(jsonObj, async (metadata) => {
        const { client: c, calls } = client();
        await c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, metadata: metadata as {} });
        expect((calls[0]!.body as { metadata: unknown }).metadata).toEqual(
          JSON.parse(JSON.stringify(metadata)),
        );
      }),
      { numRuns: 200 },
    );
    const poison = fc.oneof(
      fc.bigInt().map((v) => v as unknown),
      fc.constant(() => 1),
      fc.constant(Symbol('s')),
      fc.constant(Number.NaN),
      fc.constant(new Map()),
    );
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 5 }), poison, fc.nat(3), async (key, bad, depth) => {
        let v: unknown = bad;
        for (let i = 0; i < depth; i++) v = { nested: v };
        const { client: c, calls } = client();
        const e = await errorOf(() =>
          c.trackUsage({ customerId: 'cus_1', meter: 'api', quantity: 1, metadata: { [key]: v } as {} }),
        );
        expect(e).toBeInstanceOf(DripValidationError);
        expect((e as DripValidationError).details[0]?.path).toBe('metadata');
        expect(calls).toHaveLength(0);
      }),
      { numRuns: 200 },
    );
  });

  it('ids: empty or blank ids are rejected for every path method', async () => {
    const blank = fc.string({ unit: fc.constantFrom(' ', '\t', '\n'), maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(blank, fc.integer({ min: 0, max: 5 }), async (id, which) => {
        const { client: c, calls } = client();
        const calls6 = [
          () => c.getCustomer(id),
          () => c.getBalance(id),
          () => c.getCharge(id),
          () => c.getRun(id),
          () => c.getEvent(id),
          () => c.getWebhook(id),
        ];
        const e = await errorOf(calls6[which]!);
        expect(e).toBeInstanceOf(DripValidationError);
        expect(calls).toHaveLength(0);
      }),
      { numRuns: 100 },
    );
  });

  it('run events keep unknown fields unchanged (schema-flexible, spec §2.4.1)', async () => {
    const extra = fc.dictionary(
      fc
        .string({ minLength: 1, maxLength: 10 })
        .filter(
          (k) =>
            ![
              'runId',
              'eventType',
              'quantity',
              'units',
              'description',
              'costUnits',
              'costCurrency',
              'correlationId',
              'parentEventId',
              'spanId',
              'metadata',
              'idempotencyKey',
              'customerId',
              'workflowId',
              'signal',
              'timeoutMs',
              'deadlineMs',
              'maxAttempts',
              '__proto__',
            ].includes(k),
        ),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 5 },
    );
    await fc.assert(
      fc.asyncProperty(extra, async (fields) => {
        const clean = JSON.parse(JSON.stringify(fields)) as Record<string, never>;
        const { client: c, calls } = makeClient([
          {
            status: 201,
            body: { id: 'evt_1', runId: 'run_1', eventType: 'x', isDuplicate: false, timestamp: 't' },
          },
        ]);
        await c.emitEvent({ ...clean, runId: 'run_1', eventType: 'llm.call' });
        const body = calls[0]!.body as Record<string, unknown>;
        for (const [k, v] of Object.entries(clean)) expect(body[k]).toEqual(v);
      }),
      { numRuns: 150 },
    );
  });
});

describe('Drip constructor validation', () => {
  it('rejects a bad idempotencyInstanceId as CONFIGURATION_ERROR', () => {
    expect(() => new Drip({ apiKey: 'sk_test_0123456789', idempotencyInstanceId: 'UPPER' })).toThrow(
      expect.objectContaining({ code: 'CONFIGURATION_ERROR' }),
    );
  });
});

describe('metadata size limit counts UTF-8 bytes', () => {
  it('accepts 16 KiB exactly and rejects one byte more, also with multi-byte characters', async () => {
    const { client, calls } = makeClient([okUsage]);
    const wrap = (s: string) => ({ s }); // {"s":"..."} adds 8 bytes
    await client.trackUsage({
      customerId: 'c',
      meter: 'm',
      quantity: 1,
      metadata: wrap('x'.repeat(16384 - 8)),
    });
    expect(calls).toHaveLength(1);
    await expect(
      client.trackUsage({ customerId: 'c', meter: 'm', quantity: 1, metadata: wrap('x'.repeat(16384 - 7)) }),
    ).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    // 'é' is 2 bytes in UTF-8: 5460 of them (10 920 bytes) pass although 3x the code units is over 16 KiB.
    await client.trackUsage({ customerId: 'c', meter: 'm', quantity: 1, metadata: wrap('é'.repeat(5460)) });
    await expect(
      client.trackUsage({ customerId: 'c', meter: 'm', quantity: 1, metadata: wrap('é'.repeat(8189)) }),
    ).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(calls).toHaveLength(2);
  });
});

describe('one validation module for every caller (issue 12)', () => {
  const anyValue = fc.oneof(
    fc.string({ maxLength: 120 }),
    fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:/ -]{0,105}$/),
    fc.double(),
    fc.constantFrom(
      undefined,
      null,
      0,
      -1,
      1e15,
      1e15 + 1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      'api calls',
    ),
  );

  it('the exported validators agree with what the client refuses, field by field', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, anyValue, async (meter, quantity) => {
        const { client: c, calls } = makeClient([okUsage]);
        const err = await errorOf(() =>
          c.trackUsage({ customerId: 'cus_1', meter: meter as string, quantity: quantity as number }),
        );
        const problems = (err as DripValidationError | undefined)?.details?.map((d) => d.path) ?? [];
        expect(problems.includes('meter')).toBe(!isValidMeterName(meter));
        expect(problems.includes('quantity')).toBe(!isValidQuantity(quantity));
        expect(calls.length).toBe(err === undefined ? 1 : 0);
      }),
      { numRuns: 200 },
    );
  });

  it('assert* throw a DripValidationError naming the field; a meter with a space is refused', () => {
    expect(isValidMeterName('api calls')).toBe(false);
    expect(isValidMeterName('api_calls')).toBe(true);
    expect(isValidMeterName('x'.repeat(MAX_METER_LENGTH))).toBe(true);
    expect(isValidMeterName('x'.repeat(MAX_METER_LENGTH + 1))).toBe(false);
    const e = errorOfSync(() => assertMeterName('api calls'));
    expect(e).toBeInstanceOf(DripValidationError);
    expect(e).toMatchObject({ code: 'VALIDATION_ERROR', statusCode: 422 });
    expect((e as DripValidationError).details[0]).toEqual({
      path: 'meter',
      message: 'must be 1-100 of [A-Za-z0-9_.:/-], starting with a letter or digit',
    });
    expect((e as Error).message).toBe(
      'Invalid meter: must be 1-100 of [A-Za-z0-9_.:/-], starting with a letter or digit',
    );
    expect(errorOfSync(() => assertQuantity(MAX_QUANTITY + 1, 'usage.quantity'))).toMatchObject({
      details: [{ path: 'usage.quantity', message: 'must be at most 1e15' }],
    });
    expect(errorOfSync(() => assertCustomerId('   '))).toMatchObject({
      details: [{ path: 'customerId', message: 'must not be empty' }],
    });
    expect(errorOfSync(() => assertEventType(''))).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(errorOfSync(() => assertMetadata({ n: 1n }))).toMatchObject({
      details: [{ path: 'metadata', message: 'n: must not hold a BigInt (not JSON)' }],
    });
    expect(isValidIdempotencyKey('k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH + 1))).toBe(false);
    expect(isValidCustomerId('c'.repeat(MAX_ID_LENGTH))).toBe(true);
    expect(isValidEventType('llm.call')).toBe(true);
    expect(isValidMetadata({ plan: 'pro' })).toBe(true);
    for (const ok of [
      () => assertMeterName('llm_tokens'),
      () => assertQuantity(0),
      () => assertCustomerId('c'),
    ]) {
      expect(errorOfSync(ok)).toBeUndefined();
    }
  });

  it('the public entry exports the validators the pipeline and adapters need', async () => {
    const core = await import('../src/index');
    for (const name of [
      'isValidMeterName',
      'assertMeterName',
      'isValidQuantity',
      'assertQuantity',
      'assertCustomerId',
      'assertMetadata',
      'assertEventType',
    ]) {
      expect(typeof (core as Record<string, unknown>)[name]).toBe('function');
    }
  });
});

function errorOfSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('metadata with shared references', () => {
  it('metadata may reference one object from two places (shared, not circular)', async () => {
    const created = { status: 201, body: { success: true, usageEventId: 'use_1' } };
    const { client, calls } = makeClient([created]);
    const shared = { plan: 'pro' };
    await client.trackUsage({
      customerId: 'cus_1',
      meter: 'api_calls',
      quantity: 1,
      metadata: { a: shared, b: [shared, { c: shared }] },
    });
    expect(calls).toHaveLength(1);
    expect((calls[0]!.body as { metadata: unknown }).metadata).toEqual({
      a: { plan: 'pro' },
      b: [{ plan: 'pro' }, { c: { plan: 'pro' } }],
    });
  });
});
