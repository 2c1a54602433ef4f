import { Drip } from '@drip/core';

// Shared by every route bundle of the server process through globalThis.
const store = globalThis;
const COUNTERS = Symbol.for('drip-bench.next');
const OPTIONS = Symbol.for('drip-bench.next.options');
if (store[COUNTERS] === undefined) store[COUNTERS] = { served: 0, metered: 0 };
if (store[OPTIONS] === undefined) {
  // One client and meter for the metered route; the customer comes from BENCH_CUSTOMER_ID.
  store[OPTIONS] = {
    client: new Drip({
      apiKey: process.env.DRIP_API_KEY || 'sk_test_build_only',
      baseUrl: process.env.DRIP_API_URL,
    }),
    customer: () => process.env.BENCH_CUSTOMER_ID,
  };
}

/** Requests served (all, and metered). */
export const counters = store[COUNTERS];
/** The options of the metered route. */
export const benchOptions = store[OPTIONS];

/** The handler under test: a small JSON answer and one run event when metered. */
export async function handler(_request, { params }, drip) {
  const { id } = await params;
  counters.served++;
  if (drip) counters.metered++;
  drip?.run.event({ eventType: 'bench.lookup', quantity: 1 });
  return Response.json({ id, name: 'Widget', price: 42 });
}
