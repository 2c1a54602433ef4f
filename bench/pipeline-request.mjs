// Pipeline cost per request without a framework (µs/request): begin() + one usage() + one run event +
// finish(), which enqueues one usage record and one run record. Nothing is sent while timing.
// Run: node bench/pipeline-request.mjs [--requests 100000] [--rounds 7]. Writes the "Pipeline: per request" section.
import { createOutbox, createRequestMeter } from '@drip/core';
import { calibrate, flags, machine, median, silentTransport, writeSection } from './outbox-common.mjs';

const f = flags({ requests: 100_000, rounds: 7, write: true });

async function measure(options) {
  const times = [];
  for (let round = 0; round < f.rounds + 1; round++) {
    // Let the previous round's outbox finish its start-up (capability probe) and go: without a turn of the
    // event loop every round's records stay reachable until the script ends, and the heap (and the GC
    // time charged to later rounds) grows with the number of rounds.
    await new Promise((resolve) => setImmediate(resolve));
    const outbox = createOutbox({
      transport: silentTransport,
      shutdownHooks: false,
      maxRecords: 4 * f.requests,
      maxBytes: 2 ** 31,
    });
    const meter = createRequestMeter({
      customer: (req) => req.customerId,
      outbox: { instance: outbox },
      ...options,
    });
    const headers = { 'user-agent': 'bench' };
    const raw = { customerId: 'cus_bench' };
    const view = { method: 'GET', path: '/items/42', route: '/items/:id', header: (n) => headers[n], raw };
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < f.requests; i++) {
      const r = meter.begin(view);
      if (r.kind !== 'continue') throw new Error(`unexpected ${r.kind}`);
      r.handle.run(() => {
        r.context.run.event({ eventType: 'llm.call', model: 'gpt-4', inputTokens: 500, outputTokens: 1200 });
        r.context.usage('llm_tokens', 1700);
      });
      r.handle.finish({ status: 200 });
    }
    const us = Number(process.hrtime.bigint() - t0) / f.requests / 1000;
    if (round > 0) times.push(us);
    if (meter.stats().pipeline.metered !== f.requests) throw new Error('not every request was metered');
  }
  return median(times);
}

const cal = calibrate();
const plain = await measure({});
const noRun = await measure({ run: false });
const body = `## Pipeline: per request

Command: \`node bench/pipeline-request.mjs --requests ${f.requests} --rounds ${f.rounds}\` (${machine()}).
${cal.note} Median of ${f.rounds}
rounds after a warm-up round (each round's outbox is released before the next). One request = \`begin()\`, \`handle.run()\` with one \`run.event()\` and one \`usage()\`, then
\`finish({ status: 200 })\`, which enqueues two usage records (\`api_calls\`, \`llm_tokens\`) and one run record.
Target: at most 5 µs per request.

| Configuration | µs/request |
| --- | --- |
| usage + run with one event (default options) | ${plain.toFixed(2)} |
| usage only (\`run: false\`) | ${noRun.toFixed(2)} |
`;
console.log(body);
if (f.write !== false && f.write !== 'false') writeSection('bench:pipeline-request', body);
