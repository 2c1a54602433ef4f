// The local Drip server in its own process for the server benchmarks. Prints one JSON line
// `{ url, apiKey, projectId, database }` when ready; SIGTERM closes it gracefully.
// Usage: node bench/server-child.mjs [--data-dir DIR | --database-url URL]
import { startServer } from '@drip/server';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const databaseUrl = flag('--database-url');
const dataDir = flag('--data-dir');
const srv = await startServer({
  port: 0,
  host: '127.0.0.1',
  databaseUrl,
  dataDir,
  memory: !databaseUrl && !dataDir,
  poolSize: 10,
  logLevel: 'error',
});
process.stdout.write(
  `${JSON.stringify({ url: srv.url, apiKey: srv.apiKey, projectId: srv.projectId, database: srv.database })}\n`,
);
process.once('SIGTERM', () => {
  srv.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
