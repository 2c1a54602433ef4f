import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '@drip/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type LocalServer = Awaited<ReturnType<typeof startServer>>;
type Json = Record<string, unknown>;

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const nextBin = createRequire(join(appDir, 'package.json')).resolve('next/dist/bin/next');
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };

let server: LocalServer;
let next: ChildProcess | undefined;
let base: string;
let output = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  // turbo runs `next build` before the tests; build here only when the output is missing.
  if (!existsSync(join(appDir, '.next', 'BUILD_ID'))) {
    const build = spawnSync(process.execPath, [nextBin, 'build'], { cwd: appDir, env, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`next build failed:\n${build.stdout}\n${build.stderr}`);
  }
  server = await startServer({ port: 0, memory: true });
  const port = await freePort();
  next = spawn(process.execPath, [nextBin, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: appDir,
    env: { ...env, NODE_ENV: 'production', DRIP_API_KEY: server.apiKey, DRIP_API_URL: server.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  next.stdout?.on('data', (d) => {
    output += d;
  });
  next.stderr?.on('data', (d) => {
    output += d;
  });
  base = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    const up = await fetch(`${base}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (attempt >= 120 || next.exitCode !== null) throw new Error(`next start did not answer:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
});

afterAll(async () => {
  if (next && next.exitCode === null) {
    const exited = new Promise((resolve) => next?.once('exit', resolve));
    next.kill('SIGTERM');
    await exited;
  }
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

async function call(
  path: string,
  key?: string,
  body?: unknown,
): Promise<{ status: number; body: unknown; type: string | null }> {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers['x-api-key'] = key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const type = res.headers.get('content-type');
  return { status: res.status, type, body: type?.includes('json') ? JSON.parse(text) : text };
}

async function customerId(name: string): Promise<string> {
  const page = await api(`/customers?externalCustomerId=${name}`);
  const id = (page.data as Json[])[0]?.id;
  expect(typeof id).toBe('string');
  return id as string;
}

async function usageOf(id: string): Promise<Record<string, number>> {
  const page = await api(`/events?customerId=${id}&eventType=USAGE&limit=100`);
  const totals: Record<string, number> = {};
  for (const e of page.data as Json[]) {
    const meter = String(e.usageType);
    totals[meter] = (totals[meter] ?? 0) + Number(e.quantity);
  }
  return totals;
}

async function runsOf(id: string): Promise<Json[]> {
  return (await api(`/runs?customerId=${id}&limit=100`)).data as Json[];
}

/** Delivery happens after each response (after()); wait, bounded, until the server has it all. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 240 && !done(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    value = await read();
  }
  return value;
}

describe('example-nextjs built with next build, served by next start', () => {
  it('answers /health and refuses unauthenticated calls before metering', async () => {
    expect(await call('/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
    const unauthorized = { error: 'unauthorized', message: 'Send a valid x-api-key header.' };
    expect(await call('/api/items/1')).toMatchObject({ status: 401, body: unauthorized });
    expect(await call('/api/agent', 'key_nobody', { prompt: 'x' })).toMatchObject({
      status: 401,
      body: unauthorized,
    });
    expect(await call('/api/legacy/items/1')).toMatchObject({ status: 401, body: unauthorized });
  });

  it('meters the Node route, the Edge route and the Pages route per customer, after unchanged responses', async () => {
    expect(await call('/api/items/42', 'key_acme')).toMatchObject({
      status: 200,
      body: { id: '42', name: 'Item 42' },
    });
    // The AI SDK over the examples' fake model, metered by @drip/ai: two model calls (web search, then
    // the answer) of 25 + 12 and 61 + 17 tokens for this prompt (see tests/example-scenario).
    const prompt = 'What is the weather in Paris today?';
    const agent = await call('/api/agent', 'key_acme', { prompt });
    expect(agent.status).toBe(200);
    expect(agent.body).toMatchObject({
      answer: expect.stringContaining('What is the weather'),
      usage: { inputTokens: 25 + 61, outputTokens: 12 + 17 },
    });
    expect(await call('/api/legacy/items/7', 'key_globex')).toMatchObject({
      status: 200,
      body: { id: '7', name: 'Item 7', router: 'pages' },
    });
    // HEAD is answered by the GET handler; Next never reads the body, the after() callback ends the request.
    const head = await fetch(`${base}/api/items/5`, {
      method: 'HEAD',
      headers: { 'x-api-key': 'key_globex' },
    });
    expect(head.status).toBe(200);
    const failed = await call('/api/fail', 'key_initech');
    expect(failed.status).toBe(500);

    const [acme, globex, initech] = await Promise.all(['acme', 'globex', 'initech'].map(customerId));
    const acmeUsage = await eventually(
      () => usageOf(acme as string),
      (u) => u.api_calls === 2 && u.llm_tokens === 115,
    );
    expect(acmeUsage).toEqual({ api_calls: 2, llm_tokens: 25 + 12 + 61 + 17 });
    expect(
      await eventually(
        () => usageOf(globex as string),
        (u) => u.api_calls === 2,
      ),
    ).toEqual({ api_calls: 2 });

    const acmeRuns = await eventually(
      () => runsOf(acme as string),
      (r) => r.length === 2,
    );
    expect(acmeRuns).toHaveLength(2);
    expect(acmeRuns.every((r) => r.status === 'COMPLETED')).toBe(true);
    // Route templates from the app's routes (Node, Edge), not the concrete paths.
    expect(acmeRuns.map((r) => r.workflowName).sort()).toEqual(['Get Api Items Id', 'Post Api Agent']);
    const acmeRecords = (await api(`/events?customerId=${acme}&eventType=USAGE&limit=100`)).data as Json[];
    const described = acmeRecords.map((e) => {
      const meta = e.metadata as Json;
      return e.usageType === 'llm_tokens'
        ? `llm_tokens ${Number(e.quantity)} ${String(meta.model)}`
        : `${String(e.usageType)} ${String(meta.method)} ${String(meta.route)}`;
    });
    expect(described.sort()).toEqual([
      'api_calls GET /api/items/[id]',
      'api_calls POST /api/agent',
      'llm_tokens 37 fake-4o-mini',
      'llm_tokens 78 fake-4o-mini',
    ]);

    // The Edge route's run: one llm.call per model call, and the tool's tool.call.
    const agentRun = acmeRuns.find((r) => r.eventCount === 3);
    expect(agentRun).toBeDefined();
    const events = (await api(`/events?runId=${String(agentRun?.id)}&limit=100`)).data as Json[];
    const calls = events
      .filter((e) => e.eventType === 'llm.call')
      .map((e) => e.attributes as Json)
      .sort((a, b) => Number(a.callIndex) - Number(b.callIndex));
    expect(calls).toMatchObject([
      { model: 'fake-4o-mini', inputTokens: 25, outputTokens: 12, callIndex: 0 },
      { model: 'fake-4o-mini', inputTokens: 61, outputTokens: 17, callIndex: 1 },
    ]);
    expect(events.filter((e) => e.eventType === 'tool.call')).toMatchObject([
      { attributes: { name: 'web-search' } },
    ]);

    const globexRuns = await eventually(
      () => runsOf(globex as string),
      (r) => r.length === 2,
    );
    expect(globexRuns.every((r) => r.status === 'COMPLETED')).toBe(true);
    expect(globexRuns.map((r) => r.workflowName).sort()).toEqual([
      'Get Api Legacy Items Id',
      'Head Api Items Id',
    ]);
    const globexRecords = (await api(`/events?customerId=${globex}&eventType=USAGE&limit=100`))
      .data as Json[];
    expect(
      globexRecords
        .map((e) => `${String((e.metadata as Json).method)} ${String((e.metadata as Json).route)}`)
        .sort(),
    ).toEqual(['GET /api/legacy/items/[id]', 'HEAD /api/items/[id]']);

    const initechRuns = await eventually(
      () => runsOf(initech as string),
      (r) => r.length === 1,
    );
    expect(initechRuns[0]).toMatchObject({ status: 'FAILED' });
    expect(await usageOf(initech as string)).toEqual({}); // a failed request is not billed by default
  });
});
