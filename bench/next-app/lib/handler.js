import { Drip } from '@drip/core';

// Shared by every route bundle of the server process through globalThis.
const store = globalThis;
const COUNTERS = Symbol.for('drip-bench.next');
const OPTIONS = Symbol.for('drip-bench.next.options');
const FLOOR = Symbol.for('drip-bench.next.floor');
if (store[COUNTERS] === undefined) store[COUNTERS] = { served: 0, metered: 0 };
if (store[OPTIONS] === undefined) {
  // One client and meter for the metered route. bench/next-http.mjs delivers to the local Drip server
  // (DRIP_API_URL, BENCH_CUSTOMER_ID); bench/overhead.mjs to its sink (BENCH_SINK, customer cus_bench).
  const sink = process.env.BENCH_SINK;
  store[OPTIONS] = {
    client: new Drip({
      apiKey: process.env.DRIP_API_KEY || 'sk_test_build_only',
      baseUrl: sink ? `${sink}/v1` : process.env.DRIP_API_URL,
    }),
    customer: () => process.env.BENCH_CUSTOMER_ID || 'cus_bench',
  };
}
if (store[FLOOR] === undefined) {
  // The in-memory floor of bench/overhead.mjs: an event pushed into an array per request, drained every 100 ms.
  const floor = { queue: [], drained: 0 };
  const timer = setInterval(() => {
    floor.drained += floor.queue.length;
    floor.queue = [];
  }, 100);
  timer.unref();
  store[FLOOR] = floor;
}

/** Requests served (all, and metered). */
export const counters = store[COUNTERS];
/** The options of the metered route. */
export const benchOptions = store[OPTIONS];
/** The floor's queue and how many of its events were drained. */
export const floor = store[FLOOR];

/** The handler under test: a small JSON answer and one run event when metered. */
export async function handler(_request, { params }, drip) {
  const { id } = await params;
  counters.served++;
  if (drip) counters.metered++;
  drip?.run.event({ eventType: 'bench.lookup', quantity: 1 });
  return Response.json({ id, name: 'Widget', price: 42 });
}

/** The same handler with the floor's event pushed instead of metering. */
export async function floorHandler(request, context) {
  const response = await handler(request, context, undefined);
  floor.queue.push({ customerId: 'cus_bench', eventType: 'bench.lookup', quantity: 1, at: Date.now() });
  return response;
}
