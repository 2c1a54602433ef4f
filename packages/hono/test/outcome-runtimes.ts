/**
 * The shared outcome suite for @drip/hono in the runtime that runs this file (Bun, Deno, or Node), on
 * the runtime's own web-standard path: in process (`app.fetch`) and over a real socket served by the
 * runtime's own server (`Bun.serve`, `Deno.serve`, @hono/node-server on Node). Exits non-zero when a case
 * fails. Run on Bun and Deno by tests/runtimes/test/outcome.test.ts (`npm test -- --runtime bun`); needs `@drip/core` built.
 */

import type { OutcomeCase } from '../../../tests/outcome-suite/cases';
import { runOutcomeTable, sendWeb } from '../../../tests/outcome-suite/web-client';
import { outcomeSetup } from './fixtures/outcome-setup';

type Fetch = (request: Request) => Response | Promise<Response>;
interface Served {
  url: string;
  close(): Promise<void>;
}

const g = globalThis as unknown as {
  Bun?: {
    version: string;
    serve(o: { port: number; hostname: string; fetch: Fetch }): { port: number; stop(force?: boolean): void };
  };
  Deno?: {
    version: { deno: string };
    serve(
      o: { port: number; hostname: string; onListen?: () => void },
      handler: Fetch,
    ): { addr: { port: number }; shutdown(): Promise<void> };
    exit(code: number): never;
  };
  process?: { versions?: { node?: string }; exit(code: number): never };
};

const runtime = g.Bun
  ? `bun ${g.Bun.version}`
  : g.Deno
    ? `deno ${g.Deno.version.deno}`
    : `node ${g.process?.versions?.node}`;

async function serveOn(fetch: Fetch): Promise<Served> {
  if (g.Bun) {
    const server = g.Bun.serve({ port: 0, hostname: '127.0.0.1', fetch });
    return { url: `http://127.0.0.1:${server.port}`, close: async () => server.stop(true) };
  }
  if (g.Deno) {
    const server = g.Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: () => {} }, fetch);
    return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
  }
  const { serve } = await import('@hono/node-server');
  return new Promise((resolve) => {
    const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    );
  });
}

async function mode(
  name: string,
  send: (app: ReturnType<typeof outcomeSetup>['app'], c: OutcomeCase) => Promise<number>,
  serve = false,
): Promise<number> {
  const { api, app } = outcomeSetup();
  const served = serve ? await serveOn((req) => app.fetch(req)) : undefined;
  const results = await runOutcomeTable({
    send: (c) => (served ? sendWeb((req) => fetch(req), served.url, c) : send(app, c)),
    applied: () => api,
    flush: () => app.metering.meter.flush(5_000),
  });
  await served?.close();
  await app.metering.meter.close(2_000);
  let failed = 0;
  for (const r of results) {
    if (r.problems.length === 0) continue;
    failed++;
    console.log(`  FAIL [${name}] ${r.name}: ${r.problems.join('; ')}`);
  }
  console.log(`${runtime} ${name}: ${results.length - failed} passed, ${failed} failed`);
  return failed;
}

const failed =
  (await mode('in process (app.fetch)', (app, c) => sendWeb((req) => app.fetch(req), 'http://app.test', c))) +
  (await mode("real socket (the runtime's own server)", async () => 0, true));
if (failed > 0) {
  if (g.Deno) g.Deno.exit(1);
  g.process?.exit(1);
}
