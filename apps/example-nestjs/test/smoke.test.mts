import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '@drip/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningExample, startExample } from '../src/server.js';

type LocalServer = Awaited<ReturnType<typeof startServer>>;
type Json = Record<string, unknown>;

let server: LocalServer;
let example: RunningExample;

beforeAll(async () => {
  server = await startServer({ port: 0, memory: true });
  example = await startExample({ port: 0, apiKey: server.apiKey, apiUrl: server.url });
});

afterAll(async () => {
  await example?.close();
  await server?.close();
});

/** Reads the local server's data through its own API. */
async function api(path: string): Promise<Json> {
  const res = await fetch(`${server.url}/v1${path}`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

async function call(path: string, key?: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers['x-api-key'] = key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${example.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function usageOf(customerId: string): Promise<Record<string, number>> {
  const page = await api(`/events?customerId=${customerId}&eventType=USAGE&limit=100`);
  const totals: Record<string, number> = {};
  for (const e of page.data as Json[]) {
    const meter = String(e.usageType);
    totals[meter] = (totals[meter] ?? 0) + Number(e.quantity);
  }
  return totals;
}

async function runsOf(customerId: string): Promise<Json[]> {
  return (await api(`/runs?customerId=${customerId}&limit=100`)).data as Json[];
}

describe('example-nestjs against the local Drip server', () => {
  it('resolved one Drip customer per user at start-up', () => {
    expect(Object.keys(example.customers).sort()).toEqual(['acme', 'globex', 'initech']);
    expect(new Set(Object.values(example.customers)).size).toBe(3);
  });

  it('serves the routes, meters them per customer and records the runs', async () => {
    expect(await call('/health')).toEqual({ status: 200, body: { status: 'ok' } });
    const unauthorised = await call('/api/items/1');
    expect(unauthorised).toEqual({
      status: 401,
      body: { error: 'unauthorized', message: 'Send a valid x-api-key header.' },
    });
    expect((await call('/api/items/1', 'key_nobody')).status).toBe(401);

    expect(await call('/api/items/42', 'key_acme')).toEqual({
      status: 200,
      body: { id: '42', name: 'Item 42' },
    });
    expect((await call('/api/items/7', 'key_globex')).status).toBe(200);
    expect((await call('/api/items/8', 'key_globex')).status).toBe(200);

    const prompt = 'What is the weather in Paris today?'; // 35 chars: input 9 + 8 = 17, output 34
    const agent = await call('/api/agent', 'key_acme', { prompt });
    expect(agent.status).toBe(200);
    expect(agent.body).toMatchObject({ usage: { inputTokens: 17, outputTokens: 34 } });

    const failed = await call('/api/fail', 'key_initech');
    expect(failed).toEqual({
      status: 500,
      body: { statusCode: 500, message: 'Internal server error' },
    });

    await example.flush(10_000);
    const { acme, globex, initech } = example.customers as Record<'acme' | 'globex' | 'initech', string>;

    expect(await usageOf(acme)).toEqual({ api_calls: 2, llm_tokens: 51 });
    expect(await usageOf(globex)).toEqual({ api_calls: 2 });
    expect(await usageOf(initech)).toEqual({}); // a failed request is not billed by default

    const acmeRuns = await runsOf(acme);
    expect(acmeRuns).toHaveLength(2);
    expect(acmeRuns.every((r) => r.status === 'COMPLETED')).toBe(true);
    const agentRun = acmeRuns.find((r) => r.eventCount === 2);
    expect(agentRun).toBeDefined();
    const events = (await api(`/events?runId=${String(agentRun?.id)}&limit=100`)).data as Json[];
    const byType = Object.fromEntries(events.map((e) => [e.eventType, e]));
    expect(byType['llm.call']).toMatchObject({
      attributes: { model: 'gpt-4o-mini', inputTokens: 17, outputTokens: 34 },
    });
    expect(byType['tool.call']).toMatchObject({ attributes: { name: 'web-search' } });
    expect(((byType['tool.call'] as Json).attributes as Json).duration).toBeGreaterThan(0);

    expect(await runsOf(globex)).toHaveLength(2);
    const initechRuns = await runsOf(initech);
    expect(initechRuns).toHaveLength(1);
    expect(initechRuns[0]).toMatchObject({ status: 'FAILED', errorCode: 'Error' });
  });
});

describe('the tsc build (node dist/main.js, configured from the environment)', () => {
  it('starts, meters a call, and flushes it on SIGTERM', async () => {
    const appDir = fileURLToPath(new URL('..', import.meta.url));
    if (!existsSync(join(appDir, 'dist', 'main.js'))) {
      // turbo builds it before the tests; build here only when it is missing.
      const tsc = createRequire(join(appDir, 'package.json')).resolve('typescript/bin/tsc');
      const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
        cwd: appDir,
        encoding: 'utf8',
      });
      expect(built.status, built.stdout).toBe(0);
    }
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: appDir,
      env: { ...process.env, PORT: '0', DRIP_API_KEY: server.apiKey, DRIP_API_URL: server.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr?.on('data', (d) => {
      output += d;
    });
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(`${code} ${signal}`)),
    );
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dist/main.js did not start: ${output}`)), 60_000);
      child.stdout?.on('data', (d) => {
        output += d;
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', () => reject(new Error(`dist/main.js exited: ${output}`)));
    });
    const { initech } = example.customers as Record<'initech', string>;
    const before = (await usageOf(initech)).api_calls ?? 0;
    const res = await fetch(`${url}/api/items/99`, { headers: { 'x-api-key': 'key_initech' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '99', name: 'Item 99' });
    child.kill('SIGTERM'); // DripModule flushes what is queued before the process exits
    expect(await exited, output).toBe('0 null');
    expect((await usageOf(initech)).api_calls).toBe(before + 1);
  });
});
