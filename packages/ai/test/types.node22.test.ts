import type { LanguageModelMiddleware as Middleware5 } from 'ai5';
import type { LanguageModelMiddleware as Middleware6 } from 'ai6';
import type { LanguageModelMiddleware as Middleware7, Telemetry } from 'ai7';
import { MockLanguageModelV2 } from 'ai5/test';
import { MockLanguageModelV3 } from 'ai6/test';
import { MockLanguageModelV4 } from 'ai7/test';
import { describe, expect, it } from 'vitest';
import { dripLanguageModelMiddleware, dripTelemetry, meterModel } from '../src/index';

// These assignments are the test: `tsc` (the package's typecheck) fails if one major's types stop fitting.
describe('types fit AI SDK 5, 6 and 7', () => {
  it('one middleware object is a LanguageModelMiddleware of each major', () => {
    const middleware = dripLanguageModelMiddleware();
    const m5: Middleware5 = middleware;
    const m6: Middleware6 = middleware;
    const m7: Middleware7 = middleware;
    expect([m5, m6, m7].every((m) => typeof m.wrapGenerate === 'function')).toBe(true);
  });

  it('meterModel keeps the model type of each major', () => {
    const v2: MockLanguageModelV2 = meterModel(new MockLanguageModelV2({ modelId: 'a' }));
    const v3: MockLanguageModelV3 = meterModel(new MockLanguageModelV3({ modelId: 'b' }));
    const v4: MockLanguageModelV4 = meterModel(new MockLanguageModelV4({ modelId: 'c' }));
    expect([v2.specificationVersion, v3.specificationVersion, v4.specificationVersion]).toEqual([
      'v2',
      'v3',
      'v4',
    ]);
    expect([v2.modelId, v3.modelId, v4.modelId]).toEqual(['a', 'b', 'c']);
  });

  it('dripTelemetry is a Telemetry integration of AI SDK 7', () => {
    const telemetry: Telemetry = dripTelemetry();
    expect(typeof telemetry.onToolExecutionEnd).toBe('function');
  });
});
