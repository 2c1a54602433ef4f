/**
 * The money invariant, end to end (issue 12): whatever the outbox options and whatever the network does,
 * after recovery the local server's database holds exactly one usage total and one run per served
 * request (a client's retry of the same request, same `Idempotency-Key`, counted once), never more,
 * never less.
 *
 * The app meters requests through `createRequestMeter` (as every adapter does) and talks to the local
 * server (`@drip/server`, embedded PGlite database, started in this process) through a fault-injecting
 * proxy on loopback. Faults are counted, not timed, and the cases come from a fixed seed, so a run is
 * reproducible; `MONEY_SEED` and `MONEY_RUNS` change them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFileOutboxStore, createOutbox, Drip } from '@drip/core/node';
import { type RunningServer, startServer } from '@drip/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppOptions, buildMeter, serveAll } from './app';
import { type Fault, type FaultProxy, startFaultProxy } from './fault-proxy';

const here = dirname(fileURLToPath(import.meta.url));
let srv: RunningServer;
let proxy: FaultProxy;

beforeAll(async () => {
  srv = await startServer({ port: 0, host: '127.0.0.1', memory: true });
  proxy = await startFaultProxy(srv.url);
});

afterAll(async () => {
  await proxy?.close();
  await srv?.close();
});

type CaseFault = Fault | 'kill';

interface Case {
  options: AppOptions;
  fault: CaseFault;
  /** How many requests the fault hits (`down`: the whole traffic phase). */
  faultCount: number;
  /** One entry per request: whether the client retried it. */
  retried: boolean[];
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    options: fc.record({
      aggregate: fc.boolean(),
      header: fc.boolean(),
      store: fc.constantFrom('memory' as const, 'file' as const),
      overflow: fc.constantFrom('drop-oldest' as const, 'drop-newest' as const, 'spill' as const),
      asyncContext: fc.boolean(),
    }),
    fault: fc.constantFrom<CaseFault>('storm', 'reset', 'lost-answer', 'down', 'kill'),
    faultCount: fc.integer({ min: 1, max: 8 }),
    retried: fc.array(fc.boolean(), { minLength: 3, maxLength: 20 }),
  })
  // kill -9 loses what only memory held, by design: the invariant covers it with the file store.
  .map((c) => (c.fault === 'kill' && c.options.store === 'memory' ? { ...c, fault: 'down' as const } : c));

let caseNo = 0;

/** Runs one case and returns what the database holds against what was served. */
async function runCase(c: Case) {
  caseNo++;
  const keys = await srv.store.createProject();
  const admin = new Drip({ apiKey: keys.apiKey, baseUrl: srv.url });
  const customer = (await admin.createCustomer({ externalCustomerId: `user-${caseNo}` })) as { id: string };
  const dir = mkdtempSync(join(tmpdir(), 'drip-money-'));
  const wiring = { apiKey: keys.apiKey, url: proxy.url, customerId: customer.id, dir };
  const prefix = `case${caseNo}`;
  try {
    if (c.fault === 'kill') {
      proxy.inject('lost-answer', c.faultCount);
      await killedAndRestarted(c, wiring, prefix);
    } else {
      proxy.inject(c.fault, c.fault === 'down' ? undefined : c.faultCount);
      const meter = buildMeter(c.options, wiring);
      serveAll(meter, prefix, c.retried);
      // Let the outbox meet the fault, then bring the API back.
      await new Promise((r) => setTimeout(r, 30));
      proxy.clear();
      const closed = await meter.close(60_000);
      expect(closed).toEqual({ delivered: true, remaining: 0 });
    }
  } finally {
    proxy.clear();
    rmSync(dir, { recursive: true, force: true });
  }
  const usage = await srv.store.listUsageEvents(keys.projectId, { customerId: customer.id });
  const runs = await srv.store.listRuns(keys.projectId, { customerId: customer.id });
  const billed = usage
    .filter((u) => u.usageType === 'api_calls')
    .reduce((sum, u) => sum + Number(u.quantity), 0);
  const retries = c.retried.filter(Boolean).length;
  // With the header a retry is the same request; without it, each attempt is a request of its own.
  const served = c.options.header ? c.retried.length : c.retried.length + retries;
  return { billed, runs: runs.length, served };
}

/** The app in a child process: killed with SIGKILL once its store has the records, restarted at once. */
async function killedAndRestarted(
  c: Case,
  wiring: { apiKey: string; url: string; customerId: string; dir: string },
  prefix: string,
) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', 'app-child.ts')], {
    cwd: join(here, '..'),
    env: { ...process.env, PLAN: JSON.stringify({ options: c.options, wiring, prefix, retried: c.retried }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app never served: ${stderr}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('served')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
  // The restarted app: an outbox over the same directory delivers what the killed one left.
  const outbox = createOutbox({
    client: new Drip({ apiKey: wiring.apiKey, baseUrl: wiring.url, maxAttempts: 1 }),
    store: createFileOutboxStore({ dir: wiring.dir, fsync: 'none' }),
    aggregate: c.options.aggregate ? { windowMs: 20 } : false,
    overflow: c.options.overflow,
    flushIntervalMs: 5,
    backoffBaseMs: 5,
    backoffCapMs: 40,
    shutdownHooks: false,
    logger: { warn: () => {} },
  });
  await outbox.ready();
  expect(outbox.stats().store).toEqual({ durable: true });
  expect(await outbox.close(60_000)).toEqual({ delivered: true, remaining: 0 });
}

describe('nothing lost, nothing doubled (issue 12)', () => {
  it('one usage total and one run per served request, over option combinations and faults', async () => {
    const seed = Number(process.env.MONEY_SEED ?? 20_261_204);
    const numRuns = Number(process.env.MONEY_RUNS ?? 40);
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const r = await runCase(c);
        seen.add(c.fault);
        seen.add(c.options.store);
        seen.add(c.options.overflow);
        expect({ billed: r.billed, runs: r.runs }).toEqual({ billed: r.served, runs: r.served });
      }),
      { seed, numRuns, endOnFailure: true },
    );
    // Every fault, store and overflow mode came up (the seed is fixed, so this is stable).
    if (numRuns >= 30) expect(seen.size).toBe(5 + 2 + 3);
  });
});
