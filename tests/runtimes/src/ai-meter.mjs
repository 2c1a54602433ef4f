// @drip/ai's meterModel on the runtime that runs this file (Node, Bun, Deno): a hand-written AI SDK 6
// language model (specification v3, the shape every provider returns) wrapped with meterModel, called
// inside a request metered by core's pipeline and outside one (customer and run in the options), by
// generate, by a stream read to its end and by a stream cancelled half-way. Records go to @drip/testing's
// in-memory Drip API through the real client and outbox; the script prints, as one JSON line, what that
// API recorded, for tests/runtimes/test/ai.test.ts to check.
import { meterModel } from '@drip/ai';
import { createOutbox, createRequestMeter, Drip } from '@drip/core';
import { createTestDrip } from '@drip/testing';

/** @param {number} input @param {number} output */
const usage = (input, output) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

/** A model that answers 'hello world' with 12 input and 5 output tokens, generated or streamed. */
const model = {
  specificationVersion: 'v3',
  provider: 'hand-written',
  modelId: 'tiny-1',
  supportedUrls: {},
  /** @param {{ prompt: unknown }} _options */
  async doGenerate(_options) {
    return {
      content: [{ type: 'text', text: 'hello world' }],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: usage(12, 5),
      warnings: [],
    };
  },
  /** @param {{ prompt: unknown }} _options */
  async doStream(_options) {
    const parts = [
      { type: 'stream-start', warnings: [] },
      { type: 'text-start', id: 't' },
      { type: 'text-delta', id: 't', delta: 'hello ' },
      { type: 'text-delta', id: 't', delta: 'world' },
      { type: 'text-end', id: 't' },
      { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: usage(12, 5) },
    ];
    return {
      stream: new ReadableStream({
        pull(controller) {
          const part = parts.shift();
          if (part === undefined) controller.close();
          else controller.enqueue(part);
        },
      }),
    };
  },
};

const prompt = [{ role: 'user', content: [{ type: 'text', text: 'Say hello to the whole world' }] }];
const call = { prompt };

/** @param {ReadableStream<unknown>} stream */
async function readAll(stream) {
  const reader = stream.getReader();
  for (;;) if ((await reader.read()).done) return;
}

const api = createTestDrip();
const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
const outbox = createOutbox({ client, shutdownHooks: false });

// Inside a request metered by core's pipeline (what every adapter does): the request's run and customer.
const meter = createRequestMeter({ client, customer: () => 'cus_req', outbox: { instance: outbox } });
const begun = await meter.begin({ method: 'POST', path: '/agent', header: () => undefined, raw: {} });
if (begun.kind !== 'continue') throw new Error('request not metered');
const inRequest = meterModel(model, { outbox, context: () => begun.context });
await inRequest.doGenerate(call);
await readAll((await inRequest.doStream(call)).stream);
begun.handle.finish({ status: 200 });

// Outside a request: the customer and run named in the options.
const job = meterModel(model, { outbox, customerId: 'cus_job', run: 'job-1' });
await job.doGenerate(call);
const cut = (await job.doStream(call)).stream.getReader();
await cut.read(); // stream-start
await cut.read(); // text-start
await cut.read(); // 'hello '
await cut.cancel('client went away'); // no finish part: billed from the prompt and the streamed text

await outbox.flush(5_000);
await outbox.close(5_000);
console.log(
  JSON.stringify({
    usage: api.usage.map((u) => ({
      customerId: u.customerId,
      meter: u.meter,
      quantity: Number(u.quantity),
      idempotencyKey: u.idempotencyKey,
      metadata: u.metadata,
    })),
    runs: api.runs.map((r) => ({
      customerId: r.customerId,
      correlationId: r.correlationId,
      status: r.status,
      events: r.events.map(({ id: _id, runId: _runId, ...e }) => e),
    })),
  }),
);
