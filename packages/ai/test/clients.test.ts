import Anthropic from '@anthropic-ai/sdk';
import { Drip, type Outbox, createOutbox } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DripAiOptions, meterAnthropic, meterOpenAI } from '../src/index';
import { type FakeProvider, startFakeProvider } from './fake-provider';

let provider: FakeProvider;
beforeAll(async () => {
  provider = await startFakeProvider();
});
afterAll(async () => {
  await provider.close();
});

const TEXT = 'Paris is the capital of France.';
const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }];

function setup() {
  const api = createTestDrip();
  const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
  const errors: unknown[] = [];
  const outbox = createOutbox({ client, shutdownHooks: false });
  current = outbox;
  const options: DripAiOptions = { outbox, customerId: 'cus_1', onError: (e) => errors.push(e) };
  const openai = meterOpenAI(
    new OpenAI({ apiKey: 'sk-test', baseURL: `${provider.url}/v1`, maxRetries: 2 }),
    options,
  );
  const anthropic = meterAnthropic(
    new Anthropic({ apiKey: 'sk-ant-test', baseURL: provider.url, maxRetries: 2 }),
    options,
  );
  return { api, openai, anthropic, errors, client };
}

let current: Outbox | undefined;

/** Delivers what the test's calls enqueued (both wrappers share the test's outbox). */
async function delivered(api: ReturnType<typeof createTestDrip>, n: number): Promise<void> {
  await current?.flush(5_000);
  expect(api.runs).toHaveLength(n);
}

function streamChatWithUsage(openai: OpenAI) {
  return openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
}

describe('meterOpenAI (real openai client, fake server)', () => {
  it('chat completion: exact counts with cached and reasoning tokens; the response is untouched', async () => {
    const { api, openai, errors } = setup();
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(completion.choices[0]?.message.content).toBe(TEXT);
    await delivered(api, 1);
    expect(api.usage).toEqual([
      expect.objectContaining({
        customerId: 'cus_1',
        meter: 'llm_tokens',
        quantity: 160,
        metadata: { model: 'gpt-4o-mini-2024-07-18', provider: 'openai' },
      }),
    ]);
    expect(api.runs[0]?.events[0]).toMatchObject({
      eventType: 'llm.call',
      model: 'gpt-4o-mini-2024-07-18',
      provider: 'openai',
      inputTokens: 120,
      outputTokens: 40,
      cachedInputTokens: 100,
      reasoningTokens: 16,
      finishReason: 'stop',
    });
    expect(errors).toEqual([]);
  });

  it('withResponse() of the SDK promise still works through the proxy', async () => {
    const { api, openai } = setup();
    const { data, response } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data.choices[0]?.message.content).toBe(TEXT);
    await delivered(api, 1);
    expect(api.totalUsage({ customerId: 'cus_1' })).toBe(160);
  });

  it('streamed chat with include_usage: exact counts and time to first token', async () => {
    const { api, openai } = setup();
    const stream = await streamChatWithUsage(openai);
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe(TEXT);
    await delivered(api, 1);
    expect(api.totalUsage({ customerId: 'cus_1' })).toBe(160);
    const event = api.runs[0]?.events[0];
    expect(event).toMatchObject({ inputTokens: 120, outputTokens: 40, reasoningTokens: 16 });
    expect(event?.estimated).toBeUndefined();
    expect(typeof event?.timeToFirstTokenMs).toBe('number');
  });

  it('streamed chat without usage: counted from the deltas, marked estimated', async () => {
    const { api, openai } = setup();
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
    for await (const _chunk of stream) {
      // read to the end
    }
    await delivered(api, 1);
    const event = api.runs[0]?.events[0];
    expect(event).toMatchObject({ estimated: true, outputTokens: Math.ceil(TEXT.length / 4) });
    expect(event?.inputTokens).toBe(Math.ceil(messages[0]!.content.length / 4));
  });

  it('responses API, plain and streamed', async () => {
    const { api, openai } = setup();
    const response = await openai.responses.create({ model: 'o4-mini', input: 'Capital of France?' });
    expect(response.output_text).toBe(TEXT);
    const stream = await openai.responses.create({
      model: 'o4-mini',
      input: 'Capital of France?',
      stream: true,
    });
    for await (const _event of stream) {
      // read to the end
    }
    await delivered(api, 2);
    expect(api.totalUsage({ customerId: 'cus_1' })).toBe(220);
    expect(api.runs.map((r) => r.events[0]?.cachedInputTokens)).toEqual([64, 64]);
    expect(api.runs.map((r) => r.events[0]?.reasoningTokens)).toEqual([12, 12]);
  });

  it('a 500 the SDK retries is billed once', async () => {
    const { api, openai } = setup();
    const before = provider.hits.length;
    provider.failNext(1);
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(completion.choices[0]?.message.content).toBe(TEXT);
    expect(provider.hits.length - before).toBe(2);
    await delivered(api, 1);
    expect(api.usage).toHaveLength(1);
    expect(api.totalUsage({ customerId: 'cus_1' })).toBe(160);
  });

  it('a stream cut mid-way: the caller sees the error as before; input and streamed output are billed, estimated', async () => {
    const { api, openai } = setup();
    provider.cutNextStream();
    const stream = await streamChatWithUsage(openai);
    let text = '';
    await expect(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      })(),
    ).rejects.toThrow();
    await delivered(api, 1);
    const event = api.runs[0]?.events[0];
    expect(event).toMatchObject({ estimated: true, aborted: true, outputTokens: Math.ceil(text.length / 4) });
    expect(text.length).toBeGreaterThan(0);
    expect(api.runs[0]?.status).toBe('CANCELLED');
  });
});

describe('meterAnthropic (real @anthropic-ai/sdk client, fake server)', () => {
  it('message: input includes cache reads and writes; the response is untouched', async () => {
    const { api, anthropic } = setup();
    const message = await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages,
    });
    expect(message.content[0]).toMatchObject({ type: 'text', text: TEXT });
    await delivered(api, 1);
    expect(api.runs[0]?.events[0]).toMatchObject({
      provider: 'anthropic',
      model: 'claude-sonnet-4-5-20250929',
      inputTokens: 1225,
      outputTokens: 60,
      cachedInputTokens: 1000,
      cacheWriteTokens: 200,
      finishReason: 'end_turn',
    });
    expect(api.totalUsage({ customerId: 'cus_1' })).toBe(1285);
  });

  it('streamed with create({ stream: true }) and with messages.stream(): exact counts, once each', async () => {
    const { api, anthropic } = setup();
    const stream = await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages,
      stream: true,
    });
    for await (const _event of stream) {
      // read to the end
    }
    const helper = anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages });
    expect(await helper.finalText()).toBe(TEXT);
    await delivered(api, 2);
    expect(api.runs).toHaveLength(2);
    expect(api.totalUsage({ customerId: 'cus_1' })).toBe(2 * 1285);
    expect(api.runs.map((r) => r.events[0]?.estimated)).toEqual([undefined, undefined]);
  });

  it('a stream cut mid-way bills the input Anthropic sent first plus estimated output', async () => {
    const { api, anthropic } = setup();
    provider.cutNextStream();
    const stream = await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages,
      stream: true,
    });
    let text = '';
    await expect(
      (async () => {
        for await (const event of stream) {
          if (event.type === 'content_block_delta' && event.delta.type === 'text_delta')
            text += event.delta.text;
        }
      })(),
    ).rejects.toThrow();
    await delivered(api, 1);
    expect(api.runs[0]?.events[0]).toMatchObject({
      inputTokens: 1225,
      cachedInputTokens: 1000,
      outputTokens: Math.ceil(text.length / 4),
      estimated: true,
    });
  });

  it('a 500 the SDK retries is billed once', async () => {
    const { api, anthropic } = setup();
    provider.failNext(1);
    await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages });
    await delivered(api, 1);
    expect(api.usage).toHaveLength(1);
    expect(api.totalUsage({ customerId: 'cus_1' })).toBe(1285);
  });
});
