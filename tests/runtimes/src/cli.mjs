// Entry for Node, Bun and Deno: `<runtime> src/cli.mjs <step> '<target json>'`. Prints the step's result
// as one JSON line. The `shutdown` step prints `ready`, then waits for SIGTERM (or, with `exit`, lets the
// event loop empty) so the outbox's shutdown hook is what delivers.
import { coreClient, honoApp, outboxClose, outboxPending } from './scenario.mjs';

const args = /** @type {{ Deno?: { args: string[] } }} */ (globalThis).Deno?.args ?? process.argv.slice(2);
const [step, json] = args;
const target = JSON.parse(json ?? '{}');

if (step === 'hono') console.log(JSON.stringify(await honoApp(target)));
else if (step === 'core') console.log(JSON.stringify(await coreClient(target)));
else if (step === 'outbox') console.log(JSON.stringify(await outboxClose(target)));
else if (step === 'sigterm') {
  console.log(JSON.stringify(outboxPending(target)));
  // Keeps the process alive like a server would; the signal ends it.
  setInterval(() => {}, 60_000);
} else if (step === 'exit') {
  console.log(JSON.stringify(outboxPending(target)));
} else {
  throw new Error(`unknown step ${step}`);
}
