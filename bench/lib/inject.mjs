// In-process driver for the HTTP app scripts (bench/http-*-app.mjs) when BENCH_INJECT is set: instead of
// listening on a socket, the app's Node request listener is called with light-my-request's fake request
// and response objects, so the only CPU in the process is the framework, the adapter, the pipeline and the
// outbox's delivery (to the local Drip server, over real HTTP). The socket, the HTTP parser and the load
// generator are out of the figure, which makes a difference of a few µs per request visible on a machine
// where the HTTP benchmarks move by ±50 µs from round to round.
//
// The requests come at a fixed rate (below what the local server can store, so the outbox never overflows
// and the figure is the steady state a real app sees), from a few concurrent callers.
// BENCH_INJECT="<warmup requests>,<rounds>,<requests per round>,<concurrency>,<requests per second>".
// Prints one JSON line:
// { cpuUs: [CPU µs per request, one per round], served, failures, stats } and exits.
import inject from 'light-my-request';

/**
 * Drives `listener` in process and reports CPU µs per request.
 * @param {(req: unknown, res: unknown) => void} listener a Node request listener (Express app, ...)
 * @param {{ served: () => number, flush?: () => Promise<unknown>, path?: string }} app
 */
export async function runInjected(listener, app) {
  const [warmup, rounds, perRound, concurrency, rate] = (process.env.BENCH_INJECT ?? '')
    .split(',')
    .map((x) => Number(x));
  const path = app.path ?? '/items/42';
  let failures = 0;
  const body = '{"id":"42","name":"Widget","price":42}';
  const interval = 1000 / (rate || 1500);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  async function run(n) {
    let left = n;
    let due = performance.now();
    async function worker() {
      while (left > 0) {
        left--;
        // The next request's slot; wait for it when ahead of the rate (waiting costs no CPU).
        due += interval;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        const res = await inject(listener, { method: 'GET', url: path });
        // The app's answer must be the handler's, whatever the adapter does.
        if (res.statusCode !== 200 || res.payload !== body) failures++;
      }
    }
    await Promise.all(Array.from({ length: concurrency || 8 }, worker));
  }
  await run(warmup || 5000);
  const cpuUs = [];
  for (let r = 0; r < (rounds || 5); r++) {
    const servedBefore = app.served();
    const before = process.cpuUsage();
    await run(perRound || 10_000);
    const used = process.cpuUsage(before);
    cpuUs.push((used.user + used.system) / (app.served() - servedBefore));
  }
  const stats = app.flush ? await app.flush() : null;
  process.stdout.write(`${JSON.stringify({ cpuUs, served: app.served(), failures, stats })}\n`);
  process.exit(0);
}
