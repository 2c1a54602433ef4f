// enqueue() cost per usage record and per run record (ns/op, in-process; nothing is sent while timing).
// Run: node bench/outbox-enqueue.mjs [--ops 200000] [--rounds 7]. Writes the "Outbox: enqueue" section of BENCHMARKS.md.
import { createOutbox } from '@drip/core';
import { calibrate, flags, machine, median, silentTransport, writeSection } from './outbox-common.mjs';

const f = flags({ ops: 200_000, rounds: 7, write: true });

async function measure(kind, aggregate) {
  const times = [];
  for (let round = 0; round < f.rounds + 1; round++) {
    // Let the previous round's outbox finish its start-up (capability probe) and go: without a turn of the
    // event loop every round's records stay reachable until the script ends, and the heap (and the GC
    // time charged to later rounds) grows with the number of rounds.
    await new Promise((resolve) => setImmediate(resolve));
    const outbox = createOutbox({
      transport: silentTransport,
      shutdownHooks: false,
      maxRecords: f.ops + 10,
      maxBytes: 2 ** 31,
      aggregate,
    });
    const event = { eventType: 'llm.call', model: 'gpt-4', inputTokens: 500, outputTokens: 1200 };
    const t0 = process.hrtime.bigint();
    if (kind === 'usage') {
      for (let i = 0; i < f.ops; i++) {
        outbox.enqueue({
          type: 'usage',
          customerId: 'cus_bench',
          meter: 'api_calls',
          quantity: 1,
          idempotencyKey: `mw:cus_bench:req.${i}:api_calls:0`,
        });
      }
    } else {
      for (let i = 0; i < f.ops; i++) {
        outbox.enqueue({
          type: 'run',
          customerId: 'cus_bench',
          workflow: 'get-items-id',
          status: 'COMPLETED',
          events: [event],
          externalRunId: `mw:cus_bench:req.${i}`,
          idempotencyKey: `mw:cus_bench:req.${i}`,
          startedAt: '2026-11-22T00:00:00.000Z',
          endedAt: '2026-11-22T00:00:00.004Z',
        });
      }
    }
    const ns = Number(process.hrtime.bigint() - t0) / f.ops;
    if (round > 0) times.push(ns); // round 0 warms up the JIT
    if (outbox.stats().enqueued !== f.ops) throw new Error('not every record was accepted');
  }
  return median(times);
}

const cal = calibrate();
const usage = await measure('usage', false);
const run = await measure('run', false);
const aggregated = await measure('usage', true);
const body = `## Outbox: enqueue

Command: \`node bench/outbox-enqueue.mjs --ops ${f.ops} --rounds ${f.rounds}\` (${machine()}).
${cal.note} Median of ${f.rounds} rounds of
${f.ops} synchronous \`enqueue()\` calls after a warm-up round (each round's outbox is released before the next); the transport never answers, so nothing is sent while timing.

| Record | ns/op |
| --- | --- |
| usage (key given) | ${usage.toFixed(0)} |
| run with one event | ${run.toFixed(0)} |
| usage, aggregation on (same customer and meter) | ${aggregated.toFixed(0)} |
`;
console.log(body);
if (f.write !== false && f.write !== 'false') writeSection('bench:outbox-enqueue', body);
