import { startExample } from './server';

// Configuration from the environment: PORT, DRIP_API_KEY, DRIP_API_URL (the local server's origin).
async function main(): Promise<void> {
  const running = await startExample({
    port: Number(process.env.PORT ?? 3004),
    host: process.env.HOST ?? '127.0.0.1',
    apiKey: process.env.DRIP_API_KEY,
    apiUrl: process.env.DRIP_API_URL,
  });
  console.log(`example-nestjs listening on ${running.url}`);
  console.log(`customers: ${JSON.stringify(running.customers)}`);
  let stopping = false;
  // `on`, not `once`: while this handler is closing the app, @drip/core's own signal hook (which flushes and
  // re-raises the signal when nobody else listens) must still see a listener and leave the exit to us.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      running.close().then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
    });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
