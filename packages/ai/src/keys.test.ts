import { usageKey } from '@drip/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type KeyScope, RUN_SLOT, callKey, nextPosition } from './keys';

const SAFE = /^[A-Za-z0-9._:-]{1,128}$/;
const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 128,
});
const meter = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$/);
const customer = fc.stringMatching(/^[A-Za-z0-9_]{1,40}$/);

describe('call keys', () => {
  it('are deterministic, always sendable, and never a request-metering key, whatever the identity', () => {
    fc.assert(
      fc.property(
        customer,
        printable,
        fc.nat(1000),
        meter,
        printable,
        fc.nat(5),
        (cus, requestId, pos, m, other, i) => {
          const scope: KeyScope = { kind: 'request', requestId };
          const key = callKey(scope, cus, pos, m);
          expect(callKey(scope, cus, pos, m)).toBe(key);
          expect(key).toMatch(SAFE);
          // A client choosing any identity header cannot make the request meter's key equal a call's key.
          expect(usageKey(cus, other, m, i)).not.toBe(key);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('differ by customer, position, meter and kind of scope', () => {
    const r: KeyScope = { kind: 'request', requestId: 'req-1' };
    const keys = new Set([
      callKey(r, 'cus_1', 0, 'llm_tokens'),
      callKey(r, 'cus_2', 0, 'llm_tokens'),
      callKey(r, 'cus_1', 1, 'llm_tokens'),
      callKey(r, 'cus_1', 0, 'llm_input_tokens'),
      callKey({ kind: 'run', runId: 'req-1' }, 'cus_1', 0, 'llm_tokens'),
      callKey({ kind: 'key', key: 'req-1' }, 'cus_1', 0, 'llm_tokens'),
      callKey({ kind: 'run', runId: 'req-1' }, 'cus_1', 0, RUN_SLOT),
    ]);
    expect(keys.size).toBe(7);
    expect(callKey(r, 'cus_1', 0, 'llm_tokens')).toBe('ai:cus_1:req-1:0:llm_tokens');
  });

  it('hash identities that cannot be sent as they are', () => {
    const key = callKey({ kind: 'request', requestId: 'has space' }, 'cus_1', 0, 'llm_tokens');
    expect(key).toMatch(/^mw_[A-Za-z0-9_-]{43}$/);
    expect(callKey({ kind: 'request', requestId: 'x'.repeat(128) }, 'cus_1', 0, 'llm_tokens')).toMatch(
      /^mw_/,
    );
  });

  it('count positions per request object and per run, shared by every wrapper', () => {
    const request = {};
    expect([nextPosition(request), nextPosition(request), nextPosition({})]).toEqual([0, 1, 0]);
    const run = `run-${Math.random()}`;
    expect([nextPosition(run), nextPosition(run)]).toEqual([0, 1]);
  });
});
