/**
 * The client side of the outcome suite for web-standard runners (Hono's `app.request`, Bun, Deno,
 * workerd, Next route handlers): one `Request` per case; a client that leaves reads the first body
 * chunk, then cancels the body and aborts the request (over a socket, that closes the connection).
 */

import {
  type Applied,
  customerOf,
  OUTCOME_CASES,
  type OutcomeCase,
  outcomeProblems,
  pathOf,
  runArrived,
  until,
} from './cases';

/** Anything that answers a `Request`: `app.fetch`, `app.request`, a route handler, the global `fetch`. */
export type FetchLike = (request: Request) => Response | Promise<Response>;

/** Sends the case's request through `fetch` at `base`; resolves with the status, once the client is done. */
export async function sendWeb(fetch: FetchLike, base: string, c: OutcomeCase): Promise<number> {
  const controller = new AbortController();
  const res = await fetch(
    new Request(`${base}${pathOf(c)}`, {
      headers: { 'x-customer-id': customerOf(c) },
      signal: controller.signal,
    }),
  );
  if (c.clientLeaves && res.body !== null) {
    const reader = res.body.getReader();
    await reader.read();
    await reader.cancel();
    controller.abort();
  } else {
    await res.arrayBuffer();
  }
  return res.status;
}

/**
 * Runs the whole table outside a test framework (the runtime script on Bun, Deno and workerd): each
 * case is sent, its run awaited, delivery flushed, and the API's records compared with the table.
 * Returns one entry per case with its problems (empty when it passed).
 */
export async function runOutcomeTable(runner: {
  send(c: OutcomeCase): Promise<number>;
  applied(): Applied;
  flush(): Promise<unknown>;
}): Promise<Array<{ name: string; problems: string[] }>> {
  const results: Array<{ name: string; problems: string[] }> = [];
  for (const c of OUTCOME_CASES) {
    try {
      const status = await runner.send(c);
      await until(() => runArrived(c, runner.applied()), `the run of ${c.name}`);
      await runner.flush();
      results.push({ name: c.name, problems: outcomeProblems(c, runner.applied(), status) });
    } catch (err) {
      results.push({ name: c.name, problems: [String(err)] });
    }
  }
  return results;
}
