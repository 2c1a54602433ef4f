import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalJson, decimalText, formatMicros, numberToMicros } from '../util';
import { fastEventItem, fastIsoMs, fastRecordBody, fastUsageItem } from './fast-parse';
import { eventItemSchema, NAMED, recordSchema } from './run-model';
import { stripNulls, usageSchema } from './usage';

// Values that probe each limit: absent, null, wrong types, empty, at and just past the lengths.
// Mostly valid values (so whole items are often valid), plus values that probe each limit: absent,
// null, wrong types, empty, at and just past the lengths.
const text = (max: number) =>
  fc.oneof(
    { arbitrary: fc.string({ minLength: 1, maxLength: 8 }), weight: 12 },
    fc.constant(undefined),
    fc.constant(null),
    fc.constant(''),
    fc.constant('x'.repeat(max)),
    fc.constant('x'.repeat(max + 1)),
    fc.integer(),
    fc.constant({}),
  );
/** What a JSON body can hold: no `undefined` values. */
const asJson = <T>(v: T): T => JSON.parse(JSON.stringify(v));
const quantity = fc.oneof(
  { arbitrary: fc.double({ min: 0, max: 1e15, noNaN: true }), weight: 4 },
  fc.constant(undefined),
  fc.constant(null),
  fc.integer({ min: 0, max: 1000 }),
  fc.constant(-1),
  fc.constant(1e15 + 1),
  fc.constant('1'),
);
const metadata = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 6 },
  fc.constant(null),
  fc.constant([]),
  fc.constant('m'),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
  fc.constant({ a: { b: { c: { d: { e: 1 } } } } }),
  fc.constant({ a: { b: { c: { d: { e: { f: 1 } } } } } }),
  fc.constant({ big: 'y'.repeat(16 * 1024) }),
  fc.constant({ quotes: '"'.repeat(3000) }),
  fc.constant({ controls: '\u0001'.repeat(3000) }),
  fc.constant({ list: Array.from({ length: 700 }, (_, i) => i * 1e10) }),
);
const iso = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc
    .date({ min: new Date('2000-01-01'), max: new Date('2030-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constant('2026-02-30T00:00:00.000Z'),
  fc.constant('2026-01-01T00:00:00Z'),
  fc.constant('2026-01-01T00:00:00.000+02:00'),
  fc.constant('2999-01-01T00:00:00.000Z'),
  fc.constant('yesterday'),
);

const usageItem = fc.record(
  {
    customerId: text(64),
    externalCustomerId: text(255),
    usageType: text(100),
    quantity,
    units: text(50),
    description: text(500),
    metadata,
    idempotencyKey: text(128),
    ignored: fc.string(),
  },
  { requiredKeys: [] },
);

const eventItem = fc.record(
  {
    eventType: text(100),
    quantity,
    costUnits: quantity,
    units: text(50),
    outcome: fc.constantFrom('SUCCEEDED', 'FAILED', 'nope', undefined),
    actionName: text(255),
    runId: text(64),
    metadata,
    model: fc.oneof({ arbitrary: fc.string(), weight: 4 }, fc.jsonValue({ maxDepth: 6 })),
    tokens: fc.integer(),
  },
  { requiredKeys: [] },
);

const recordBody = fc.record(
  {
    customerId: text(64),
    workflow: text(100),
    status: fc.oneof(
      { arbitrary: fc.constantFrom('COMPLETED', 'FAILED'), weight: 8 },
      fc.constantFrom('RUNNING', undefined),
    ),
    events: fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.array(eventItem, { maxLength: 3 }),
      fc.constant('x'),
    ),
    errorMessage: text(2000),
    errorCode: text(100),
    externalRunId: text(255),
    correlationId: text(255),
    metadata,
    idempotencyKey: text(128),
    startedAt: iso,
    endedAt: iso,
    extra: fc.string(),
  },
  { requiredKeys: [] },
);

describe('hand-written validators of the bulk routes', () => {
  it('accept only what usageSchema accepts, and return exactly its output', () => {
    let fast = 0;
    fc.assert(
      fc.property(usageItem.map(asJson), (raw) => {
        const mine = fastUsageItem(raw);
        const ref = usageSchema.safeParse(stripNulls(raw));
        if (mine === undefined) return;
        fast++;
        expect(ref.success).toBe(true);
        expect(mine).toStrictEqual(ref.data);
      }),
      { numRuns: 3000 },
    );
    // The generator reaches the fast path often enough for the property to mean something.
    expect(fast).toBeGreaterThan(10);
  });

  it('take the common usage shape (the one the outbox sends)', () => {
    const item = {
      customerId: 'cus_1',
      usageType: 'api_calls',
      quantity: 1,
      idempotencyKey: 'mw:cus_1:abc',
      metadata: { method: 'GET', route: '/items/:id' },
    };
    expect(fastUsageItem(item)).toStrictEqual(usageSchema.parse(item));
    expect(fastUsageItem({ ...item, quantity: -1 })).toBeUndefined();
    expect(fastUsageItem({ ...item, externalCustomerId: 'e' })).toBeUndefined();
  });

  it('accept only run events eventItemSchema accepts, with the same output (extra fields kept)', () => {
    let fast = 0;
    fc.assert(
      fc.property(eventItem.map(asJson), (raw) => {
        const mine = fastEventItem(raw, NAMED);
        if (mine === undefined) return;
        fast++;
        const ref = eventItemSchema.safeParse(stripNulls(raw));
        expect(ref.success).toBe(true);
        expect(mine).toStrictEqual(ref.data);
      }),
      { numRuns: 3000 },
    );
    expect(fast).toBeGreaterThan(10);
  });

  it('accept only run bodies recordSchema accepts, with the same output', () => {
    let fast = 0;
    const now = Date.now();
    fc.assert(
      fc.property(recordBody.map(asJson), (raw) => {
        const mine = fastRecordBody(raw, now);
        if (mine === undefined) return;
        fast++;
        const ref = recordSchema.safeParse(stripNulls(raw));
        expect(ref.success).toBe(true);
        expect(mine).toStrictEqual(ref.data);
      }),
      { numRuns: 3000 },
    );
    expect(fast).toBeGreaterThan(10);
  });

  it('take the common run shape (the one the outbox sends)', () => {
    const end = Date.now();
    const run = {
      customerId: 'cus_1',
      workflow: 'get-items-id',
      status: 'COMPLETED',
      events: [{ eventType: 'llm.call', model: 'gpt', inputTokens: 3 }],
      externalRunId: 'mw:cus_1:abc',
      idempotencyKey: 'mw:cus_1:abc',
      startedAt: new Date(end - 5).toISOString(),
      endedAt: new Date(end).toISOString(),
      metadata: { method: 'GET', route: '/items/:id', status: 200 },
    };
    expect(fastRecordBody(run, end)).toStrictEqual(recordSchema.parse(run));
    expect(fastEventItem(run.events[0], NAMED)).toStrictEqual(eventItemSchema.parse(run.events[0]));
    expect(fastRecordBody({ ...run, startedAt: run.endedAt, endedAt: run.startedAt }, end)).toBeUndefined();
  });

  it('read only real calendar timestamps in UTC with milliseconds', () => {
    expect(fastIsoMs('2026-01-31T23:59:59.999Z')).toBe(Date.parse('2026-01-31T23:59:59.999Z'));
    expect(fastIsoMs('2026-02-29T00:00:00.000Z')).toBeUndefined();
    expect(fastIsoMs('2024-02-29T00:00:00.000Z')).toBe(Date.parse('2024-02-29T00:00:00.000Z'));
    expect(fastIsoMs('2026-01-01T24:00:00.000Z')).toBeUndefined();
    expect(fastIsoMs('2026-01-01T00:00:00Z')).toBeUndefined();
    const zodIso = z.iso.datetime({ offset: true });
    const two = (n: number) => String(n).padStart(2, '0');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        (y, m, d, h) => {
          const v = `${String(y).padStart(4, '0')}-${two(m)}-${two(d)}T${two(h)}:59:59.123Z`;
          // Same verdict as zod on this form, and the same instant as Date.parse when accepted.
          expect(fastIsoMs(v) !== undefined).toBe(zodIso.safeParse(v).success);
          if (fastIsoMs(v) !== undefined) expect(fastIsoMs(v)).toBe(Date.parse(v));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

/** canonicalJson as it was written first (filter, sort, map, join): the reference for the faster one. */
function referenceCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(referenceCanonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${referenceCanonical(obj[k])}`).join(',')}}`;
}

describe('fingerprint and decimal helpers', () => {
  it('canonical JSON is unchanged', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const canon = canonicalJson(v);
        expect(canon).toBe(referenceCanonical(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('decimalText is formatMicros(numberToMicros(n))', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ min: 0, max: 1e15, noNaN: true }), fc.integer({ min: 0 })), (n) => {
        expect(decimalText(n)).toBe(formatMicros(numberToMicros(n)));
      }),
      { numRuns: 2000 },
    );
    expect(decimalText(1e15)).toBe('1000000000000000.000000');
    expect(decimalText(0.30000000000000004)).toBe('0.300000');
  });
});
