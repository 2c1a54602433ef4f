import * as ai from 'ai7';
import { MockLanguageModelV4 } from 'ai7/test';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { dripTelemetry } from '../src/index';
import { inRequest, requestMeter, setup } from './ai-sdk-suite';

const usage = (input: number, output: number, cacheRead = 0) => ({
  inputTokens: { total: input, noCache: input - cacheRead, cacheRead, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

describe('dripTelemetry (AI SDK 7 telemetry integration)', () => {
  it('fits the Telemetry interface of AI SDK 7', () => {
    const telemetry: ai.Telemetry = dripTelemetry();
    expect(typeof telemetry.onLanguageModelCallEnd).toBe('function');
  });

  it('records every model call and each tool execution on the request run', async () => {
    const { api, client } = setup();
    const meter = requestMeter(client);
    let step = 0;
    const model = new MockLanguageModelV4({
      modelId: 'mock-model-7',
      doGenerate: async () => {
        step++;
        return step === 1
          ? {
              content: [
                { type: 'tool-call', toolCallId: 'call-1', toolName: 'weather', input: '{"city":"Oslo"}' },
              ],
              finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
              usage: usage(90, 15, 64),
              warnings: [],
            }
          : {
              content: [{ type: 'text', text: 'Snowing in Oslo.' }],
              finishReason: { unified: 'stop', raw: 'stop' },
              usage: usage(120, 6),
              warnings: [],
            };
      },
    });
    const telemetry = dripTelemetry({ outbox: meter.outbox });
    const text = await inRequest(meter, undefined, async () => {
      const result = await ai.generateText({
        model,
        prompt: 'Weather in Oslo?',
        tools: {
          weather: ai.tool({
            description: 'Weather of a city',
            inputSchema: z.object({ city: z.string() }),
            execute: async ({ city }) => `snowing in ${city}`,
          }),
        },
        stopWhen: ai.stepCountIs(5),
        telemetry: { integrations: [telemetry] },
      });
      return result.text;
    });
    expect(text).toBe('Snowing in Oslo.');
    await meter.flush(5_000);
    expect(api.runs).toHaveLength(1);
    const events = api.runs[0]?.events ?? [];
    expect(events.map((e) => e.eventType)).toEqual(['llm.call', 'tool.call', 'llm.call']);
    expect(events[0]).toMatchObject({
      model: 'mock-model-7',
      inputTokens: 90,
      outputTokens: 15,
      cachedInputTokens: 64,
    });
    expect(events[1]).toMatchObject({ name: 'weather', success: true });
    expect(typeof events[1]?.duration).toBe('number');
    expect(api.totalUsage({ customerId: 'cus_req', meter: 'llm_tokens' })).toBe(231);
  });

  it('with modelCalls: false it records tool calls only (no double billing beside the middleware)', async () => {
    const { api, client } = setup();
    const meter = requestMeter(client);
    const model = new MockLanguageModelV4({
      modelId: 'mock-model-7',
      doGenerate: {
        content: [{ type: 'text', text: 'hi' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: usage(5, 1),
        warnings: [],
      },
    });
    await inRequest(meter, undefined, () =>
      ai.generateText({
        model,
        prompt: 'hi',
        telemetry: { integrations: [dripTelemetry({ outbox: meter.outbox, modelCalls: false })] },
      }),
    );
    await meter.flush(5_000);
    expect(api.totalUsage({ meter: 'llm_tokens' })).toBe(0);
    expect(api.runs[0]?.events ?? []).toEqual([]);
  });
});
