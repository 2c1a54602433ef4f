import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MODEL_CALL_RUN_SLOT, type ModelCallKeyScope, modelCallKey, usageKey } from '../src/index';

const SAFE = /^[A-Za-z0-9._:-]{1,128}$/;
const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 128,
});
const meter = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$/);
const customer = fc.stringMatching(/^[A-Za-z0-9_]{1,40}$/);

describe('model-call keys (@drip/ai)', () => {
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
          const scope: ModelCallKeyScope = { kind: 'request', requestId };
          const key = modelCallKey(scope, cus, pos, m);
          expect(modelCallKey(scope, cus, pos, m)).toBe(key);
          expect(key).toMatch(SAFE);
          // A client choosing any identity header cannot make the request meter's key equal a call's key.
          expect(usageKey(cus, other, m, i)).not.toBe(key);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('differ by customer, position, meter and kind of scope', () => {
    const r: ModelCallKeyScope = { kind: 'request', requestId: 'req-1' };
    const keys = new Set([
      modelCallKey(r, 'cus_1', 0, 'llm_tokens'),
      modelCallKey(r, 'cus_2', 0, 'llm_tokens'),
      modelCallKey(r, 'cus_1', 1, 'llm_tokens'),
      modelCallKey(r, 'cus_1', 0, 'llm_input_tokens'),
      modelCallKey({ kind: 'run', runId: 'req-1' }, 'cus_1', 0, 'llm_tokens'),
      modelCallKey({ kind: 'key', key: 'req-1' }, 'cus_1', 0, 'llm_tokens'),
      modelCallKey({ kind: 'run', runId: 'req-1' }, 'cus_1', 0, MODEL_CALL_RUN_SLOT),
    ]);
    expect(keys.size).toBe(7);
  });

  it('keep the wire format @drip/ai 0.1 sent (a deployed retry must find the same keys)', () => {
    // Keys produced by @drip/ai's own key function before it moved here.
    expect(modelCallKey({ kind: 'request', requestId: 'req-1' }, 'cus_1', 0, 'llm_tokens')).toBe(
      'ai:cus_1:req-1:0:llm_tokens',
    );
    expect(modelCallKey({ kind: 'run', runId: 'job-7' }, 'cus_1', 3, 'llm_input_tokens')).toBe(
      'air:cus_1:job-7:3:llm_input_tokens',
    );
    expect(modelCallKey({ kind: 'key', key: 'ticket-981' }, 'cus_2', 0, 'llm_tokens')).toBe(
      'aik:cus_2:ticket-981:0:llm_tokens',
    );
    expect(modelCallKey({ kind: 'run', runId: 'job-7' }, 'cus_1', 2, MODEL_CALL_RUN_SLOT)).toBe(
      'airec:cus_1:job-7:2',
    );
    expect(modelCallKey({ kind: 'request', requestId: 'has space' }, 'cus_1', 1, 'llm_tokens')).toBe(
      'mw_jkstgZ7LC48afRZv3_qVTqC_qTnH8WNupCh_PZafXN8',
    );
    expect(modelCallKey({ kind: 'run', runId: 'x'.repeat(130) }, 'cus_1', 0, MODEL_CALL_RUN_SLOT)).toBe(
      'mw_lckriZYy3s6sdz74VtK5l6vMT8cWrwby-6OEU-PWmUg',
    );
  });
});
