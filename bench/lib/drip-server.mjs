// The local Drip server in its own process for the HTTP benchmarks: prints `{ url, apiKey }` when ready.
import { startServer } from '@drip/server';

const server = await startServer({ port: 0, memory: true });
process.stdout.write(`${JSON.stringify({ url: server.url, apiKey: server.apiKey })}\n`);
process.once('SIGTERM', () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
