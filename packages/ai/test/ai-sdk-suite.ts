/**
 * One set of tests run against the real `ai` package of each major (5, 6 and 7) with its own mock model
 * (`MockLanguageModelV2/V3/V4` from `ai/test`). Each major's test file hands its exports in; assertions
 * are on what reached the in-memory Drip API.
 */

import { Drip, type Outbox, createRequestMeter, isPromiseLike } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type DripAiOptions, dripLanguageModelMiddleware, meterModel } from '../src/index';

type Options = Record<string, unknown>;
type TokenCounts = {
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
  reasoning?: number;
};

/** The exports of one AI SDK major the suite uses, loosely typed (each major has its own types). */
export interface AiModule {
  generateText(options: never): PromiseLike<unknown>;
  streamText(options: never): unknown;
  tool(options: never): unknown;
  stepCountIs(n: number): unknown;
  simulateReadableStream(options: never): ReadableStream<unknown>;
  wrapLanguageModel(options: never): unknown;
  APICallError: new (options: {
    message: string;
    url: string;
    requestBodyValues: Record<string, unknown>;
    statusCode: number;
    isRetryable: boolean;
  }) => Error;
}

/** The suite's view of one AI SDK major. */
interface SdkUnderTest {
  name: string;
  generateText(options: Options): Promise<{ text: string; steps: readonly unknown[] }>;
  streamText(options: Options): { textStream: AsyncIterable<string> };
  tool(options: Options): unknown;
  stepCountIs(n: number): unknown;
  simulateReadableStream(options: {
    chunks: unknown[];
    initialDelayInMs?: number | null;
    chunkDelayInMs?: number | null;
  }): ReadableStream<unknown>;
  wrapLanguageModel(options: { model: unknown; middleware: unknown }): unknown;
  mockModel(options: { modelId?: string; doGenerate?: unknown; doStream?: unknown }): unknown;
  /** Usage in this major's shape (flat V2, nested V3/V4). */
  usage(counts: TokenCounts): unknown;
  finishReason(reason: string): unknown;
  /** An error the AI SDK retries (`APICallError` with `isRetryable: true`). */
  retryableError(): Error;
}

/**
 * The suite for one major: its `ai` module, its mock model class (`MockLanguageModelV2/V3/V4`) and its
 * usage shape (`flat` for LanguageModelV2, `nested` for V3 and V4).
 */
export function aiSdkSuite(
  name: string,
  ai: AiModule,
  MockModel: new (options: never) => unknown,
  shape: 'flat' | 'nested',
): void {
  const loose = ai as unknown as SdkUnderTest;
  suite({
    name,
    generateText: loose.generateText,
    streamText: loose.streamText,
    tool: loose.tool,
    stepCountIs: ai.stepCountIs,
    simulateReadableStream: loose.simulateReadableStream,
    wrapLanguageModel: loose.wrapLanguageModel,
    mockModel: (o) => new MockModel(o as never),
    usage: (c) =>
      shape === 'flat'
        ? {
            inputTokens: c.input,
            outputTokens: c.output,
            totalTokens: c.input + c.output,
            cachedInputTokens: c.cacheRead,
            reasoningTokens: c.reasoning,
          }
        : {
            inputTokens: {
              total: c.input,
              noCache: c.input - (c.cacheRead ?? 0),
              cacheRead: c.cacheRead,
              cacheWrite: c.cacheWrite,
            },
            outputTokens: { total: c.output, text: c.output - (c.reasoning ?? 0), reasoning: c.reasoning },
          },
    finishReason: (r) => (shape === 'flat' ? r : { unified: r, raw: r }),
    retryableError: () =>
      new ai.APICallError({
        message: 'overloaded',
        url: 'http://model.test',
        requestBodyValues: {},
        statusCode: 503,
        isRetryable: true,
      }),
  });
}

const PROMPT = 'Tell me about Paris in one sentence.';
const MODEL = 'mock-model-1';

export function setup(extra: DripAiOptions = {}) {
  const api = createTestDrip();
  const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
  const errors: unknown[] = [];
  const options: DripAiOptions = { client, onError: (e) => errors.push(e), ...extra };
  return { api, client, errors, options };
}

function generateResult(sdk: SdkUnderTest, text: string, counts: TokenCounts, reason = 'stop') {
  return {
    content: [{ type: 'text', text }],
    finishReason: sdk.finishReason(reason),
    usage: sdk.usage(counts),
    warnings: [],
    response: { id: 'resp-1', modelId: MODEL, timestamp: new Date(0) },
  };
}

function streamParts(sdk: SdkUnderTest, deltas: string[], counts: TokenCounts | undefined) {
  const parts: unknown[] = [
    { type: 'stream-start', warnings: [] },
    { type: 'response-metadata', id: 'resp-1', modelId: MODEL, timestamp: new Date(0) },
    { type: 'text-start', id: 't1' },
    ...deltas.map((delta) => ({ type: 'text-delta', id: 't1', delta })),
    { type: 'text-end', id: 't1' },
  ];
  if (counts)
    parts.push({ type: 'finish', finishReason: sdk.finishReason('stop'), usage: sdk.usage(counts) });
  return parts;
}

/** Runs `fn` inside a request metered by core's pipeline (what every adapter does), then ends it. */
export async function inRequest<T>(
  meter: ReturnType<typeof createRequestMeter>,
  idempotencyKey: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const begun = meter.begin({
    method: 'POST',
    path: '/agent',
    header: (name) => (name === 'idempotency-key' ? idempotencyKey : undefined),
    raw: {},
  });
  const r = isPromiseLike(begun) ? await begun : begun;
  if (r.kind !== 'continue') throw new Error('request not metered');
  try {
    return await r.handle.run(fn);
  } finally {
    r.handle.finish({ status: 200 });
  }
}

export function requestMeter(client: Drip) {
  return createRequestMeter({
    client,
    customer: () => 'cus_req',
    idempotencyHeader: 'idempotency-key',
    meter: 'api_calls',
    outbox: { shutdownHooks: false },
  });
}

async function drain(...targets: Array<{ flush(ms?: number): Promise<unknown> } | Outbox>) {
  for (const t of targets) await t.flush(5_000);
}

function suite(sdk: SdkUnderTest): void {
  describe(`${sdk.name}: token metering`, () => {
    it('generateText outside a request bills input + output to the named customer, with one llm.call', async () => {
      const { api, options, errors } = setup({ customerId: 'cus_1', run: 'job-1' });
      const middleware = dripLanguageModelMiddleware(options);
      const model = sdk.wrapLanguageModel({
        model: sdk.mockModel({
          modelId: MODEL,
          doGenerate: generateResult(sdk, 'Paris is the capital of France.', {
            input: 120,
            output: 30,
            cacheRead: 100,
            reasoning: 12,
          }),
        }),
        middleware,
      });
      const { text } = await sdk.generateText({ model, prompt: PROMPT });
      expect(text).toBe('Paris is the capital of France.');
      await middleware.flush(5_000);
      expect(api.usage).toHaveLength(1);
      expect(api.usage[0]).toMatchObject({
        customerId: 'cus_1',
        meter: 'llm_tokens',
        quantity: 150,
        metadata: { model: MODEL, provider: 'mock-provider' },
      });
      expect(api.runs).toHaveLength(1);
      expect(api.runs[0]?.correlationId).toBe('job-1');
      expect(api.runs[0]?.events).toHaveLength(1);
      expect(api.runs[0]?.events[0]).toMatchObject({
        eventType: 'llm.call',
        model: MODEL,
        provider: 'mock-provider',
        inputTokens: 120,
        outputTokens: 30,
        cachedInputTokens: 100,
        reasoningTokens: 12,
        finishReason: 'stop',
      });
      expect(api.runs[0]?.events[0]?.estimated).toBeUndefined();
      expect(typeof api.runs[0]?.events[0]?.latencyMs).toBe('number');
      expect(errors).toEqual([]);
    });

    it('inside a metered request the call joins the request run and bills its customer', async () => {
      const { api, client, errors } = setup();
      const meter = requestMeter(client);
      const model = meterModel(
        sdk.mockModel({
          modelId: MODEL,
          doGenerate: generateResult(sdk, 'Bonjour', { input: 40, output: 2 }),
        }) as never,
        { outbox: meter.outbox, onError: (e) => errors.push(e) },
      );
      const text = await inRequest(
        meter,
        undefined,
        async () => (await sdk.generateText({ model, prompt: PROMPT })).text,
      );
      expect(text).toBe('Bonjour');
      await drain(meter);
      expect(api.usage.filter((u) => u.meter === 'llm_tokens')).toEqual([
        expect.objectContaining({
          customerId: 'cus_req',
          quantity: 42,
          metadata: { model: MODEL, provider: 'mock-provider' },
        }),
      ]);
      expect(api.totalUsage({ customerId: 'cus_req', meter: 'api_calls' })).toBe(1);
      expect(api.runs).toHaveLength(1);
      expect(api.runs[0]?.events.map((e) => [e.eventType, e.inputTokens, e.outputTokens])).toEqual([
        ['llm.call', 40, 2],
      ]);
      expect(errors).toEqual([]);
    });

    it('streamText bills the counts of the finish part and records time to first token', async () => {
      const { api, options } = setup({ customerId: 'cus_1' });
      const middleware = dripLanguageModelMiddleware(options);
      const model = sdk.wrapLanguageModel({
        model: sdk.mockModel({
          modelId: MODEL,
          doStream: {
            stream: sdk.simulateReadableStream({
              chunks: streamParts(sdk, ['Paris ', 'is ', 'lovely.'], { input: 50, output: 7 }),
            }),
          },
        }),
        middleware,
      });
      const result = sdk.streamText({ model, prompt: PROMPT });
      let text = '';
      for await (const t of result.textStream) text += t;
      expect(text).toBe('Paris is lovely.');
      await middleware.flush(5_000);
      expect(api.totalUsage({ customerId: 'cus_1', meter: 'llm_tokens' })).toBe(57);
      const event = api.runs[0]?.events[0];
      expect(event).toMatchObject({
        eventType: 'llm.call',
        inputTokens: 50,
        outputTokens: 7,
        finishReason: 'stop',
      });
      expect(typeof event?.timeToFirstTokenMs).toBe('number');
      expect(event?.estimated).toBeUndefined();
    });

    it('an aborted stream bills estimated input and the output streamed so far, marked estimated', async () => {
      const { api, options } = setup({ customerId: 'cus_1' });
      const middleware = dripLanguageModelMiddleware(options);
      // 40 characters per delta = 10 estimated tokens each; the finish part never arrives.
      const delta = 'x'.repeat(40);
      const model = sdk.wrapLanguageModel({
        model: sdk.mockModel({
          modelId: MODEL,
          doStream: {
            stream: sdk.simulateReadableStream({
              chunks: streamParts(sdk, [delta, delta, delta, delta, delta, delta], {
                input: 999,
                output: 999,
              }),
              chunkDelayInMs: 30,
            }),
          },
        }),
        middleware,
      });
      const controller = new AbortController();
      const result = sdk.streamText({ model, prompt: PROMPT, abortSignal: controller.signal });
      let received = 0;
      try {
        for await (const t of result.textStream) {
          received += t.length;
          if (received >= 80) controller.abort();
        }
      } catch {
        // Some majors surface the abort as an error; the metering is what this test checks.
      }
      expect(received).toBeGreaterThanOrEqual(80);
      await middleware.flush(5_000);
      expect(api.runs).toHaveLength(1);
      const event = api.runs[0]?.events[0];
      expect(event).toMatchObject({ eventType: 'llm.call', estimated: true, aborted: true });
      const streamedTokens = event?.outputTokens as number;
      // At least the two deltas read before the abort, never the 999 the finish part would have said.
      expect(streamedTokens).toBeGreaterThanOrEqual(20);
      expect(streamedTokens).toBeLessThan(60);
      expect(event?.inputTokens).toBe(Math.ceil(PROMPT.length / 4));
      expect(api.usage).toEqual([
        expect.objectContaining({
          quantity: streamedTokens + Math.ceil(PROMPT.length / 4),
          metadata: expect.objectContaining({ estimated: true }),
        }),
      ]);
    });

    it('a multi-step tool loop bills every step', async () => {
      const { api, options } = setup({ customerId: 'cus_1', run: 'loop-1' });
      const middleware = dripLanguageModelMiddleware(options);
      let step = 0;
      const mock = sdk.mockModel({
        modelId: MODEL,
        doGenerate: async () => {
          step++;
          if (step === 1) {
            return {
              content: [
                { type: 'tool-call', toolCallId: 'call-1', toolName: 'weather', input: '{"city":"Paris"}' },
              ],
              finishReason: sdk.finishReason('tool-calls'),
              usage: sdk.usage({ input: 100, output: 20 }),
              warnings: [],
            };
          }
          return generateResult(sdk, 'It is sunny in Paris.', { input: 150, output: 10 });
        },
      });
      const model = sdk.wrapLanguageModel({ model: mock, middleware });
      const result = await sdk.generateText({
        model,
        prompt: 'Weather in Paris?',
        tools: {
          weather: sdk.tool({
            description: 'Weather of a city',
            inputSchema: z.object({ city: z.string() }),
            execute: async ({ city }: { city: string }) => `sunny in ${city}`,
          }),
        },
        stopWhen: sdk.stepCountIs(5),
      });
      expect(result.text).toBe('It is sunny in Paris.');
      expect(result.steps).toHaveLength(2);
      await middleware.flush(5_000);
      expect(api.totalUsage({ customerId: 'cus_1', meter: 'llm_tokens' })).toBe(280);
      const events = api.runs.flatMap((r) => r.events);
      expect(events.map((e) => [e.inputTokens, e.outputTokens, e.finishReason])).toEqual([
        [100, 20, 'tool-calls'],
        [150, 10, 'stop'],
      ]);
    });

    it('a call the AI SDK retries after a failure is billed once', async () => {
      const { api, options } = setup({ customerId: 'cus_1', run: 'retry-1' });
      const middleware = dripLanguageModelMiddleware(options);
      let attempts = 0;
      const model = sdk.wrapLanguageModel({
        model: sdk.mockModel({
          modelId: MODEL,
          doGenerate: async () => {
            attempts++;
            if (attempts === 1) throw sdk.retryableError();
            return generateResult(sdk, 'ok', { input: 10, output: 1 });
          },
        }),
        middleware,
      });
      const { text } = await sdk.generateText({ model, prompt: PROMPT, maxRetries: 1 });
      expect(text).toBe('ok');
      expect(attempts).toBe(2);
      await middleware.flush(5_000);
      expect(api.usage).toHaveLength(1);
      expect(api.totalUsage({ customerId: 'cus_1' })).toBe(11);
      expect(api.runs.flatMap((r) => r.events)).toHaveLength(1);
    });

    it('a client retrying the whole request with its idempotency header is billed once', async () => {
      const { api, client } = setup();
      const meter = requestMeter(client);
      const model = meterModel(
        sdk.mockModel({
          modelId: MODEL,
          doGenerate: generateResult(sdk, 'ok', { input: 30, output: 5 }),
        }) as never,
        { outbox: meter.outbox },
      );
      const handler = async () => {
        await sdk.generateText({ model, prompt: PROMPT });
        await sdk.generateText({ model, prompt: PROMPT });
      };
      await inRequest(meter, 'client-key-1', handler);
      await drain(meter);
      await inRequest(meter, 'client-key-1', handler);
      await drain(meter);
      expect(api.totalUsage({ customerId: 'cus_req', meter: 'llm_tokens' })).toBe(70);
      expect(api.usage.filter((u) => u.meter === 'llm_tokens')).toHaveLength(2);
      expect(api.runs).toHaveLength(1);
      expect(api.runs[0]?.events.filter((e) => e.eventType === 'llm.call')).toHaveLength(2);
      // A different request (new key) is billed again.
      await inRequest(meter, 'client-key-2', handler);
      await drain(meter);
      expect(api.totalUsage({ customerId: 'cus_req', meter: 'llm_tokens' })).toBe(140);
    });

    it('an SDK retry inside a request, then a client retry of the request, bill each call once', async () => {
      const { api, client } = setup();
      const meter = requestMeter(client);
      let attempts = 0;
      const model = meterModel(
        sdk.mockModel({
          modelId: MODEL,
          doGenerate: async () => {
            attempts++;
            // Only the very first attempt fails: the retried request's calls all succeed at once.
            if (attempts === 1) throw sdk.retryableError();
            return generateResult(sdk, 'ok', { input: 8, output: 2 });
          },
        }) as never,
        { outbox: meter.outbox },
      );
      const handler = async () => {
        await sdk.generateText({ model, prompt: PROMPT, maxRetries: 1 });
        await sdk.generateText({ model, prompt: PROMPT, maxRetries: 1 });
      };
      await inRequest(meter, 'client-key-9', handler);
      await inRequest(meter, 'client-key-9', handler);
      await drain(meter);
      expect(attempts).toBe(5);
      expect(api.totalUsage({ customerId: 'cus_req', meter: 'llm_tokens' })).toBe(20);
      expect(meter.outbox.deadLetters().filter((d) => d.record.kind === 'usage')).toEqual([]);
    });

    it('metering failures never reach the model call', async () => {
      const { api, options, errors } = setup({
        customerId: 'cus_1',
        context: () => {
          throw new Error('context lookup failed');
        },
      });
      const middleware = dripLanguageModelMiddleware(options);
      const model = sdk.wrapLanguageModel({
        model: sdk.mockModel({
          modelId: MODEL,
          doGenerate: generateResult(sdk, 'still fine', { input: 3, output: 2 }),
        }),
        middleware,
      });
      const { text } = await sdk.generateText({ model, prompt: PROMPT });
      expect(text).toBe('still fine');
      await middleware.flush(5_000);
      expect(errors.map((e) => (e as Error).message)).toContain('context lookup failed');
      // The customer named in the options still pays.
      expect(api.totalUsage({ customerId: 'cus_1' })).toBe(5);
    });

    it('a price table adds cost; a model missing from it is flagged, never priced at zero', async () => {
      const { api, options } = setup({
        customerId: 'cus_1',
        prices: { [MODEL]: { input: 2, output: 8, cachedInput: 1 } },
        meters: { input: 'llm_input_tokens', output: 'llm_output_tokens' },
      });
      const middleware = dripLanguageModelMiddleware(options);
      const priced = sdk.wrapLanguageModel({
        model: sdk.mockModel({
          modelId: MODEL,
          doGenerate: generateResult(sdk, 'a', { input: 1_000_000, output: 500_000, cacheRead: 400_000 }),
        }),
        middleware,
      });
      const unknownModel = sdk.wrapLanguageModel({
        model: sdk.mockModel({
          modelId: 'other-model',
          doGenerate: {
            ...generateResult(sdk, 'b', { input: 10, output: 10 }),
            response: { modelId: 'other-model' },
          },
        }),
        middleware,
      });
      await sdk.generateText({ model: priced, prompt: PROMPT });
      await sdk.generateText({ model: unknownModel, prompt: PROMPT });
      await middleware.flush(5_000);
      const events = api.runs.flatMap((r) => r.events);
      // 600k plain input at $2, 400k cached at $1, 500k output at $8 per million.
      expect(events[0]).toMatchObject({ model: MODEL, costUnits: 1.2 + 0.4 + 4 });
      expect(events[1]).toMatchObject({ model: 'other-model', priced: false });
      expect(events[1]?.costUnits).toBeUndefined();
      expect(api.totalUsage({ meter: 'llm_input_tokens' })).toBe(1_000_010);
      expect(api.totalUsage({ meter: 'llm_output_tokens' })).toBe(500_010);
      expect(api.totalUsage({ meter: 'llm_tokens' })).toBe(0);
      expect(api.usage.find((u) => u.metadata?.model === 'other-model')?.metadata).toMatchObject({
        priced: false,
      });
    });
  });
}
