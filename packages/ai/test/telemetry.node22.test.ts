import * as ai from 'ai7';
import { MockLanguageModelV4 } from 'ai7/test';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { dripTelemetry } from '../src/index';
import { inRequest, requestMeter, setup } from './ai-sdk-suite';

const weather = ai.tool({
  description: 'Weather of a city',
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => `snowing in ${city}`,
});

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

  /** A model that asks for the weather tool once, then answers (the two steps of a tool loop). */
  function toolLoopModel() {
    let step = 0;
    return new MockLanguageModelV4({
      modelId: 'mock-model-7',
      doGenerate: async () => {
        step++;
        return step % 2 === 1
          ? {
              content: [
                {
                  type: 'tool-call',
                  toolCallId: `call-${step}`,
                  toolName: 'weather',
                  input: '{"city":"Oslo"}',
                },
              ],
              finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
              usage: usage(40, 10),
              warnings: [],
            }
          : {
              content: [{ type: 'text', text: 'Snowing in Oslo.' }],
              finishReason: { unified: 'stop', raw: 'stop' },
              usage: usage(60, 5),
              warnings: [],
            };
      },
    });
  }

  it('outside a request, records tool executions for the customer and run in the options, like model calls', async () => {
    const { api, errors, options } = setup();
    const run = `job-${Math.random().toString(36).slice(2)}`;
    const telemetry = dripTelemetry({ ...options, customerId: 'cus_job', run });
    await ai.generateText({
      model: toolLoopModel(),
      prompt: 'Weather in Oslo?',
      tools: { weather },
      stopWhen: ai.stepCountIs(5),
      telemetry: { integrations: [telemetry] },
    });
    await telemetry.flush(5_000);
    expect(errors).toEqual([]);
    // One run per model call and per tool execution, in the named run, positions in call order.
    const runs = [...api.runs].sort((a, b) => String(a.externalRunId).localeCompare(String(b.externalRunId)));
    expect(
      runs.map((r) => [r.customerId, r.correlationId, r.externalRunId, r.events.map((e) => e.eventType)]),
    ).toEqual([
      ['cus_job', run, `airec:cus_job:${run}:0`, ['llm.call']],
      ['cus_job', run, `airec:cus_job:${run}:1`, ['tool.call']],
      ['cus_job', run, `airec:cus_job:${run}:2`, ['llm.call']],
    ]);
    expect(runs[1]?.events[0]).toMatchObject({ name: 'weather', success: true, callIndex: 1 });
    expect(typeof runs[1]?.events[0]?.duration).toBe('number');
    expect(api.totalUsage({ customerId: 'cus_job', meter: 'llm_tokens' })).toBe(50 + 65);
  });

  it("outside a request, model calls and tools bill the customer of the call's providerOptions.drip", async () => {
    const { api, errors, options } = setup();
    const telemetry = dripTelemetry(options);
    await ai.generateText({
      model: toolLoopModel(),
      prompt: 'Weather in Oslo?',
      tools: { weather },
      stopWhen: ai.stepCountIs(5),
      providerOptions: { drip: { customerId: 'cus_call', run: 'ticket-7' } },
      telemetry: { integrations: [telemetry] },
    });
    await telemetry.flush(5_000);
    expect(errors).toEqual([]);
    // AI SDK 7 gives the call's provider options to the operation's start event only.
    expect(api.runs.map((r) => [r.customerId, r.correlationId, r.events[0]?.eventType]).sort()).toEqual([
      ['cus_call', 'ticket-7', 'llm.call'],
      ['cus_call', 'ticket-7', 'llm.call'],
      ['cus_call', 'ticket-7', 'tool.call'],
    ]);
    expect(api.totalUsage({ customerId: 'cus_call', meter: 'llm_tokens' })).toBe(50 + 65);

    // modelCalls: false (the model is metered by the middleware): the tool only.
    const toolsOnly = setup();
    const tools = dripTelemetry({ ...toolsOnly.options, modelCalls: false });
    await ai.generateText({
      model: toolLoopModel(),
      prompt: 'Weather in Oslo?',
      tools: { weather },
      stopWhen: ai.stepCountIs(5),
      providerOptions: { drip: { customerId: 'cus_call' } },
      telemetry: { integrations: [tools] },
    });
    await tools.flush(5_000);
    expect(toolsOnly.api.runs).toHaveLength(1);
    expect(toolsOnly.api.runs[0]).toMatchObject({
      customerId: 'cus_call',
      events: [{ eventType: 'tool.call', name: 'weather' }],
    });
    expect(toolsOnly.api.totalUsage({ meter: 'llm_tokens' })).toBe(0);
  });

  it('outside a request without a customer, records nothing and reports why', async () => {
    const { api, errors, options } = setup();
    const telemetry = dripTelemetry({ ...options, modelCalls: false, logger: { warn: () => undefined } });
    const { text } = await ai.generateText({
      model: toolLoopModel(),
      prompt: 'Weather in Oslo?',
      tools: { weather },
      stopWhen: ai.stepCountIs(5),
      telemetry: { integrations: [telemetry] },
    });
    expect(text).toBe('Snowing in Oslo.');
    await telemetry.flush(5_000);
    expect(api.runs).toEqual([]);
    expect(errors.map((e) => (e as Error).message)).toEqual([
      'tool call outside a request without a customer',
    ]);
  });
});
