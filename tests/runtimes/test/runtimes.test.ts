import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDrip, type TestDrip } from '@drip/testing';
import { serve } from '@hono/node-server';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const tools = join(pkg, '..', '..', '.tools');

/** How to start each process runtime (the workerd one runs in Miniflare below). */
const PROCESS_RUNTIMES: Record<string, string[]> = {
  // The Node that runs vitest: the test command runs this project under each Node of the matrix.
  node: [process.execPath],
  bun: [join(tools, 'bun/node_modules/.bin/bun'), 'run'],
  deno: [join(tools, 'deno/node_modules/.bin/deno'), 'run', '-A', '--node-modules-dir=manual'],
};
const ALL = [...Object.keys(PROCESS_RUNTIMES), 'workerd'];
// DRIP_TEST_RUNTIMES=bun,deno picks runtimes (the test command runs them as separate steps).
const chosen = (process.env.DRIP_TEST_RUNTIMES ?? ALL.join(',')).split(',').filter(Boolean);
for (const name of chosen) {
  if (!ALL.includes(name)) throw new Error(`DRIP_TEST_RUNTIMES: unknown runtime ${name} (known: ${ALL})`);
}

let api: TestDrip;
let apiServer: ReturnType<typeof serve>;
let apiUrl = '';

beforeAll(async () => {
  api = createTestDrip();
  // The in-memory Drip API behind a real loopback socket: every runtime's requests cross a real network stack.
  const port = await new Promise<number>((resolve) => {
    apiServer = serve(
      { fetch: (req) => api.handle(req), hostname: '127.0.0.1', port: 0 },
      (info: AddressInfo) => resolve(info.port),
    );
  });
  apiUrl = `http://127.0.0.1:${port}/v1`;
});
afterAll(async () => {
  await new Promise((resolve) => apiServer?.close(resolve));
});

interface Started {
  child: ChildProcess;
  firstLine: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function start(runtime: string, step: string, customer: string): Started {
  const [bin, ...args] = PROCESS_RUNTIMES[runtime]!;
  if (!existsSync(bin!)) throw new Error(`${bin} is missing: run scripts/runtimes.sh`);
  const target = JSON.stringify({ apiUrl, apiKey: api.apiKey, customer });
  const child = spawn(bin!, [...args, 'src/cli.mjs', step, target], {
    cwd: pkg,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
  });
  let out = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      // The step prints its result as one JSON line; the SDK's own log lines (info, warnings) may come first.
      const line = out.split('\n').find((l, i, all) => i < all.length - 1 && l.startsWith('{'));
      if (line !== undefined) resolve(line);
    });
    child.on('exit', () =>
      reject(new Error(`${runtime} ${step} printed no JSON result line; stderr:\n${stderr}`)),
    );
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void exited.then(() => clearTimeout(timer));
  return { child, firstLine, exited };
}

/** Runs one step to completion and returns its JSON result. */
async function runStep(runtime: string, step: string, customer: string): Promise<Record<string, unknown>> {
  const started = start(runtime, step, customer);
  const [line, end] = await Promise.all([started.firstLine, started.exited]);
  expect(end.code, end.stderr).toBe(0);
  return JSON.parse(line) as Record<string, unknown>;
}

/** What every runtime must have delivered for the Hono step (same assertions for all). */
function expectHonoDelivered(customer: string, result: Record<string, unknown>): void {
  expect(result.statuses).toEqual([200, 200, 500]);
  expect(result.closed).toMatchObject({ remaining: 0 });
  // Two metered requests (the failing one is not billed), each with its own 5 tokens.
  expect(api.totalUsage({ customerId: customer, meter: 'api_calls' })).toBe(2);
  expect(api.totalUsage({ customerId: customer, meter: 'tokens' })).toBe(10);
  const runs = api.runs.filter((r) => r.customerId === customer);
  expect(runs.map((r) => r.status).sort()).toEqual(['COMPLETED', 'COMPLETED', 'FAILED']);
  expect(runs.find((r) => r.status === 'FAILED')?.errorCode).toBe('TypeError');
}

function expectCoreDelivered(customer: string, result: Record<string, unknown>): void {
  expect(result).toMatchObject({ success: true, verified: true });
  expect(api.totalUsage({ customerId: customer, meter: 'direct_calls' })).toBe(3);
}

function expectOutboxDelivered(customer: string, result: Record<string, unknown>): void {
  expect(result.closed).toMatchObject({ delivered: true, remaining: 0 });
  expect(api.totalUsage({ customerId: customer, meter: 'outbox_units' })).toBe(1 + 2 + 3 + 4);
}

const processRuntimes = chosen.filter((r) => r !== 'workerd');

if (processRuntimes.length > 0)
  describe.each(processRuntimes)('on %s', (runtime) => {
    it('a Hono app metered by @drip/hono delivers usage and runs, and a throwing handler gives a FAILED run', async () => {
      const customer = `cus_${runtime}_hono`;
      const result = await runStep(runtime, 'hono', customer);
      expect(String(result.runtime)).toMatch(new RegExp(`^${runtime}/`));
      expectHonoDelivered(customer, result);
    });

    it("core's default entry tracks usage and verifies a webhook signature", async () => {
      const customer = `cus_${runtime}_core`;
      const result = await runStep(runtime, 'core', customer);
      expectCoreDelivered(customer, result);
      expect(result.clientHeader).toMatch(new RegExp(`^@drip/core@[\\d.]+; runtime=${runtime}/`));
    });

    it("the outbox's close() delivers every queued record before it resolves", async () => {
      const customer = `cus_${runtime}_outbox`;
      expectOutboxDelivered(customer, await runStep(runtime, 'outbox', customer));
    });

    it('SIGTERM: the shutdown hook delivers the queued records, then the process exits', async () => {
      const customer = `cus_${runtime}_sigterm`;
      const started = start(runtime, 'sigterm', customer);
      expect(JSON.parse(await started.firstLine)).toMatchObject({ queued: 3 });
      expect(api.totalUsage({ customerId: customer })).toBe(0);
      started.child.kill('SIGTERM');
      const end = await started.exited;
      expect(end.code === null ? end.signal : end.code, end.stderr).not.toBe('SIGKILL');
      expect(api.totalUsage({ customerId: customer, meter: 'shutdown_units' })).toBe(10 + 20 + 30);
    });

    it('an event loop that empties: the beforeExit hook delivers the queued records', async () => {
      const customer = `cus_${runtime}_exit`;
      const result = await runStep(runtime, 'exit', customer);
      expect(result).toMatchObject({ queued: 3 });
      expect(api.totalUsage({ customerId: customer, meter: 'shutdown_units' })).toBe(10 + 20 + 30);
    });
  });

// Defined only when chosen: a runtime left out is not run, rather than reported as skipped.
if (chosen.includes('workerd'))
  describe('on workerd (Miniflare)', () => {
    let mf: Miniflare;
    beforeAll(async () => {
      // A neutral-platform bundle of the built packages: a `node:` import anywhere fails here.
      const bundled = await build({
        entryPoints: [join(pkg, 'src/worker.mjs')],
        bundle: true,
        format: 'esm',
        platform: 'neutral',
        mainFields: ['module', 'main'],
        conditions: ['workerd', 'worker', 'import'],
        target: 'es2022',
        write: false,
        logLevel: 'silent',
      });
      mf = new Miniflare({
        modules: true,
        script: bundled.outputFiles[0]!.text,
        compatibilityDate: '2026-04-01',
        bindings: { DRIP_API_URL: apiUrl, DRIP_API_KEY: api.apiKey },
        host: '127.0.0.1',
        port: 0,
        cf: false,
      });
      await mf.ready;
    });
    afterAll(async () => {
      await mf?.dispose();
    });

    async function call(step: string, customer: string): Promise<Record<string, unknown>> {
      const res = await mf.dispatchFetch(`http://worker.test/${step}?customer=${customer}`);
      const text = await res.text();
      expect(res.status, text).toBe(200);
      return JSON.parse(text) as Record<string, unknown>;
    }

    it('a Hono app metered by @drip/hono delivers usage and runs, and a throwing handler gives a FAILED run', async () => {
      const result = await call('hono', 'cus_workerd_hono');
      expect(result.runtime).toBe('edge');
      expectHonoDelivered('cus_workerd_hono', result);
    });

    it("core's default entry tracks usage and verifies a webhook signature", async () => {
      expectCoreDelivered('cus_workerd_core', await call('core', 'cus_workerd_core'));
    });

    it("the outbox's close() delivers every queued record before it resolves", async () => {
      expectOutboxDelivered('cus_workerd_outbox', await call('outbox', 'cus_workerd_outbox'));
    });
  });
