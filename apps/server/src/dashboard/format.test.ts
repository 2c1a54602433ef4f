import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeHtml, formatDuration, formatQuantity, formatUsdc, jsonForScript } from './format';
import { bucketSecondsFor } from './queries';

describe('formatUsdc', () => {
  it('shows micro-USDC with exactly six decimals', () => {
    expect(formatUsdc('0')).toBe('0.000000');
    expect(formatUsdc('1000')).toBe('0.001000');
    expect(formatUsdc('100000000')).toBe('100.000000');
    expect(formatUsdc('-2500')).toBe('-0.002500');
  });

  it('round-trips every integer, including amounts beyond 2^53', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n }), (micros) => {
        const text = formatUsdc(micros.toString());
        expect(text).toMatch(/^-?\d+\.\d{6}$/);
        expect(BigInt(text.replace('.', ''))).toBe(micros);
      }),
      { numRuns: 300 },
    );
  });
});

describe('formatQuantity', () => {
  it('drops trailing zeros and groups thousands', () => {
    expect(formatQuantity('1200.000000')).toBe('1,200');
    expect(formatQuantity('0.500000')).toBe('0.5');
    expect(formatQuantity('1234567.000100')).toBe('1,234,567.0001');
    expect(formatQuantity(null)).toBe('');
  });
});

describe('formatDuration', () => {
  it('picks a readable unit', () => {
    expect(formatDuration(40)).toBe('40 ms');
    expect(formatDuration(1250)).toBe('1.25 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatDuration(null)).toBe('—');
  });
});

describe('escaping', () => {
  it('leaves no markup characters in escaped HTML', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(escapeHtml(s)).not.toMatch(/[<>"']/);
      }),
      { numRuns: 300 },
    );
  });

  it('serialises JSON that parses back and never contains "<"', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = jsonForScript(v);
        expect(text).not.toContain('<');
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('bucketSecondsFor', () => {
  it('keeps the chart at 120 buckets or fewer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 * 86_400_000 }), (span) => {
        const s = bucketSecondsFor(span);
        expect(span / 1000 / s).toBeLessThanOrEqual(120);
      }),
    );
    expect(bucketSecondsFor(10_000)).toBe(1);
    expect(bucketSecondsFor(20 * 60_000)).toBe(10);
  });
});
