import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDrip, type TestDrip } from '@drip/testing';
import { serve } from '@hono/node-server';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_CASES, outcomeProblems, runArrived } from '../../../tests/outcome-suite/cases';
import { sendWeb } from '../../../tests/outcome-suite/web-client';
import { routeOf } from './helpers';

const here = dirname(fileURLToPath(import.meta.url));
const CUSTOMER = 'cus_worker';

/** Bundles for a runtime without Node built-ins: a `node:` import anywhere makes this fail. */
async function bundle(entry: string): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser', 'import'],
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs) };
}

let api: TestDrip;
let bridge: ReturnType<typeof serve>;
let mf: Miniflare;

beforeAll(async () => {
  api = createTestDrip();
  // The in-memory Drip API behind a real loopback socket, so the worker's fetch leaves workerd.
  const port = await new Promise<number>((resolve) => {
    bridge = serve({ fetch: (req) => api.handle(req), hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) =>
      resolve(info.port),
    );
  });
  const { code } = await bundle(join(here, 'fixtures/worker.ts'));
  mf = new Miniflare({
    modules: true,
    script: code,
    compatibilityDate: '2026-04-01',
    bindings: { DRIP_API_URL: `http://127.0.0.1:${port}/v1`, DRIP_API_KEY: api.apiKey },
    host: '127.0.0.1',
    port: 0,
    cf: false,
  });
  await mf.ready;
});

afterAll(async () => {
  await mf?.dispose();
  await new Promise((resolve) => bridge?.close(resolve));
});

/** Waits (bounded) for the worker's background delivery, which only `waitUntil` keeps alive. */
async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for delivery from the worker');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('@drip/hono inside workerd (miniflare)', () => {
  it('the package entry bundles for a runtime without Node built-ins', async () => {
    const { inputs } = await bundle(join(here, '../src/index.ts'));
    expect(inputs.some((i) => i.startsWith('node:'))).toBe(false);
    expect(inputs.some((i) => i.includes('hono'))).toBe(true);
  });

  it('meters a request and delivers it through executionCtx.waitUntil', async () => {
    const res = await mf.dispatchFetch('http://worker.test/items/42', { headers: { 'x-user': CUSTOMER } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '42', runtime: 'Cloudflare-Workers' });
    await until(() => api.runs.length >= 1 && api.usage.length >= 1);
    api.expectUsage({ customerId: CUSTOMER, meter: 'api_calls', quantity: 1 });
    const run = api.expectRun({
      customerId: CUSTOMER,
      status: 'COMPLETED',
      events: [{ eventType: 'kv.read', key: 'item:42' }],
    });
    expect(routeOf(run)).toBe('/items/:id');
  });

  it('a handler that throws gives the same 500 and a FAILED run', async () => {
    const res = await mf.dispatchFetch('http://worker.test/fail', { headers: { 'x-user': 'cus_fail' } });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('Internal Server Error');
    await until(() => api.runs.some((r) => r.customerId === 'cus_fail'));
    const run = api.expectRun({ customerId: 'cus_fail', status: 'FAILED' });
    expect(run.errorCode).toBe('TypeError');
    expect(api.totalUsage({ customerId: 'cus_fail' })).toBe(0);
  });
});

describe('shared outcome suite on Hono inside workerd (miniflare)', () => {
  it.each(OUTCOME_CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, index) => {
    let status: number;
    if (c.clientLeaves) {
      // Miniflare's proxy in front of workerd reads every response body to the end whatever its client
      // does, so a client leaving cannot be produced from outside; the worker is the client instead.
      const res = await mf.dispatchFetch(`http://worker.test/in-worker/${index}`);
      status = ((await res.json()) as { status: number }).status;
    } else {
      const url = (await mf.ready).toString().replace(/\/$/, '');
      status = await sendWeb((req) => fetch(req), url, c);
    }
    await until(() => runArrived(c, api));
    // Delivery runs under the worker's waitUntil: let every record of the case arrive.
    await until(() => outcomeProblems(c, api, status).length === 0, 2_000).catch(() => undefined);
    expect(outcomeProblems(c, api, status)).toEqual([]);
  });
});
