/**
 * End to end: an Express app (`@drip/express`) and a Next route handler (`@drip/nextjs`, called with
 * `new Request()`) call metered models inside metered requests; records go to the local Drip server on
 * its embedded database, and the assertions read that database.
 */

import { Drip, type Outbox, createOutbox } from '@drip/core';
import { dripMiddleware } from '@drip/express';
import { withDrip } from '@drip/nextjs';
import { type RunningServer, startServer } from '@drip/server';
import { generateText, simulateReadableStream, streamText } from 'ai6';
import { MockLanguageModelV3 } from 'ai6/test';
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meterModel } from '../src/index';

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

/** A model that answers with these counts, every time. */
function mockModel(modelId: string, input: number, output: number) {
  return new MockLanguageModelV3({
    modelId,
    doGenerate: async () => ({
      content: [{ type: 'text', text: `answer of ${modelId}` }],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: usage(input, output),
      warnings: [],
    }),
    doStream: async () => ({
      stream: simulateReadableStream({
        chunks: [
          { type: 'text-start', id: 't' },
          { type: 'text-delta', id: 't', delta: `streamed by ${modelId}` },
          { type: 'text-end', id: 't' },
          { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: usage(input, output) },
        ],
      }),
    }),
  });
}

let srv: RunningServer;
let outbox: Outbox;
let app: Server;
let appUrl: string;
let nextPost: (request: Request) => Promise<Response>;
const ids: Record<string, string> = {};

beforeAll(async () => {
  srv = await startServer({ port: 0, host: '127.0.0.1', memory: true });
  const client = new Drip({ apiKey: srv.apiKey, baseUrl: `${srv.url}/v1` });
  for (const name of ['acme', 'globex'])
    ids[name] = (await client.createCustomer({ externalCustomerId: name })).id;
  // One queue for the adapters' records and the models' records.
  outbox = createOutbox({ client, shutdownHooks: false });
  const modelA = meterModel(mockModel('model-a', 100, 20), { outbox });
  const modelB = meterModel(mockModel('model-b', 300, 50), { outbox });

  const web = express();
  web.use(
    dripMiddleware({
      client,
      customer: (req) => ids[req.header('x-customer') ?? ''],
      idempotencyHeader: 'idempotency-key',
      outbox: { instance: outbox },
    }),
  );
  web.post('/agent', async (_req, res) => {
    const first = await generateText({ model: modelA, prompt: 'plan' });
    const second = streamText({ model: modelB, prompt: 'write' });
    let text = '';
    for await (const t of second.textStream) text += t;
    res.json({ first: first.text, second: text });
  });
  app = await new Promise<Server>((resolve) => {
    const s = web.listen(0, '127.0.0.1', () => resolve(s));
  });
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;

  nextPost = withDrip(
    async () => {
      const { text } = await generateText({ model: modelB, prompt: 'summarise' });
      return Response.json({ text });
    },
    {
      client,
      customer: (request) => ids[request.headers.get('x-customer') ?? ''],
      idempotencyHeader: 'idempotency-key',
      outbox: { instance: outbox },
      route: '/api/agent',
      waitUntil: () => undefined,
    },
  ) as unknown as (request: Request) => Promise<Response>;
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => app?.close(resolve));
  await outbox?.close(5_000);
  await srv?.close();
});

async function callExpress(customer: string, key: string) {
  const res = await fetch(`${appUrl}/agent`, {
    method: 'POST',
    headers: { 'x-customer': customer, 'idempotency-key': key },
  });
  return (await res.json()) as { first: string; second: string };
}

async function callNext(customer: string, key: string) {
  const res = await nextPost(
    new Request('http://localhost/api/agent', {
      method: 'POST',
      headers: { 'x-customer': customer, 'idempotency-key': key },
    }),
  );
  return (await res.json()) as { text: string };
}

describe('Express and Next handlers calling metered models, into the local server', () => {
  it('tokens per customer and model are exact, one llm.call per call, nothing doubled on retried requests', async () => {
    expect(await callExpress('acme', 'order-1')).toEqual({
      first: 'answer of model-a',
      second: 'streamed by model-b',
    });
    await outbox.flush(5_000);
    // The client did not see the answer and retried the same request: billed once.
    await callExpress('acme', 'order-1');
    await callExpress('acme', 'order-2');
    expect(await callNext('globex', 'job-1')).toEqual({ text: 'answer of model-b' });
    await outbox.flush(5_000);
    await callNext('globex', 'job-1');
    await outbox.flush(5_000);

    const events = await srv.store.listUsageEvents(srv.projectId);
    const tokens = new Map<string, number>();
    for (const e of events) {
      const meta = (e.metadata ?? {}) as { model?: string };
      if (e.usageType !== 'llm_tokens') continue;
      const key = `${e.customerId}/${meta.model}`;
      tokens.set(key, (tokens.get(key) ?? 0) + Number(e.quantity));
    }
    expect(Object.fromEntries(tokens)).toEqual({
      // Two distinct requests (order-1 once, order-2), each: model-a 120 + model-b 350.
      [`${ids.acme}/model-a`]: 240,
      [`${ids.acme}/model-b`]: 700,
      // One distinct request (job-1), model-b 350.
      [`${ids.globex}/model-b`]: 350,
    });

    const runs = await srv.store.listRuns(srv.projectId);
    expect(runs).toHaveLength(3);
    const calls: string[] = [];
    for (const run of runs) {
      const runEvents = await srv.store.listRunEvents(run.id);
      for (const e of runEvents.filter((x) => x.eventType === 'llm.call')) {
        const a = (e.attributes ?? {}) as { model?: string; inputTokens?: number; outputTokens?: number };
        calls.push(
          `${run.customerId === ids.acme ? 'acme' : 'globex'}:${a.model}:${a.inputTokens}+${a.outputTokens}`,
        );
      }
    }
    expect(calls.sort()).toEqual(
      [
        'acme:model-a:100+20',
        'acme:model-a:100+20',
        'acme:model-b:300+50',
        'acme:model-b:300+50',
        'globex:model-b:300+50',
      ].sort(),
    );
    // No usage record was refused (a key reused with other counts would be).
    expect(outbox.deadLetters().filter((d) => d.record.kind === 'usage')).toEqual([]);
  }, 30_000);
});
