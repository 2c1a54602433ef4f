import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, decimalToMicros, formatMicros, multiplyMicros, newId, numberToMicros } from './util';

describe('money and quantities (spec §2.9)', () => {
  it('parses decimals into micros, rounding half up beyond 6 decimals', () => {
    expect(decimalToMicros('0.001')).toBe(1000n);
    expect(decimalToMicros('1.0000005')).toBe(1000001n);
    expect(decimalToMicros('1.0000004999')).toBe(1000000n);
    expect(decimalToMicros('-2.5')).toBe(-2500000n);
    expect(decimalToMicros('1e-7')).toBe(0n);
    expect(decimalToMicros('5e-7')).toBe(1n);
    expect(decimalToMicros('1.5e3')).toBe(1500000000n);
    expect(decimalToMicros('abc')).toBeUndefined();
    expect(decimalToMicros('1.2.3')).toBeUndefined();
    expect(decimalToMicros('')).toBeUndefined();
    expect(numberToMicros(0.30000000000000004)).toBe(300000n);
  });

  it('formats micros with exactly 6 decimals and round-trips', () => {
    expect(formatMicros(1000n)).toBe('0.001000');
    expect(formatMicros(-1n)).toBe('-0.000001');
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), (m) => {
        const text = formatMicros(m);
        expect(text).toMatch(/^-?\d+\.\d{6}$/);
        expect(decimalToMicros(text)).toBe(m);
      }),
      { numRuns: 500 },
    );
  });

  it('charges quantity × price rounded half up to the micro', () => {
    expect(multiplyMicros(1_500_000_000n, 1000n)).toBe(1_500_000n);
    expect(multiplyMicros(300000n, 2n)).toBe(1n); // 0.3 × 0.000002 = 0.0000006 → 0.000001
    expect(multiplyMicros(200000n, 2n)).toBe(0n); // 0.0000004 → 0
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 21n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        (q, p) => {
          const exact = q * p; // in 1e-12 units
          const got = multiplyMicros(q, p) * 1_000_000n;
          expect(got - exact).toBeLessThanOrEqual(500_000n);
          expect(exact - got).toBeLessThan(500_000n);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('ids and canonical JSON', () => {
  it('issues prefixed base32 ids without collisions', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = newId('use');
      expect(id).toMatch(/^use_[a-z2-7]{24}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(20_000);
  });

  it('canonical JSON ignores key order and undefined, keeps array order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
        expect(JSON.parse(canonicalJson(obj))).toEqual(JSON.parse(JSON.stringify(obj)));
      }),
      { numRuns: 300 },
    );
    expect(canonicalJson({ b: 1, a: [2, 1], c: undefined })).toBe('{"a":[2,1],"b":1}');
  });
});
