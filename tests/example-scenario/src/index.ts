// The smoke scenario shared by the example apps: each starts the local Drip server (embedded database),
// starts its app against it, sends the example routes' traffic and asserts what the server recorded.
import { startServer } from '@drip/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type LocalServer = Awaited<ReturnType<typeof startServer>>;
type Json = Record<string, unknown>;

/** What an example's `startExample()` returns. */
export interface RunningExampleLike {
  url: string;
  customers: Record<string, string>;
  flush(timeoutMs?: number): Promise<unknown>;
  close(): Promise<unknown>;
}

/** How one example differs: how it starts, and the bodies its framework gives errors. */
export interface ExampleScenario {
  name: string;
  start(options: { port: number; apiKey: string; apiUrl: string }): Promise<RunningExampleLike>;
  /** Body of `GET /api/fail` (the handler throws), as the framework renders a 500. */
  failBody: unknown;
}

/** Handles the scenario's server and app for extra tests in the same file. */
export interface ScenarioHandles {
  server(): LocalServer;
  example(): RunningExampleLike;
}

/** Reads the local server's data through its own API (with the project's secret key). */
async function readApi(server: LocalServer, path: string): Promise<Json> {
  const res = await fetch(`${server.url}/v1${path}`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

/**
 * Usage per meter that the local server recorded for one customer.
 *
 * @example
 * ```ts
 * expect(await usageTotals(server, customerId)).toEqual({ api_calls: 2 });
 * ```
 */
export async function usageTotals(server: LocalServer, customerId: string): Promise<Record<string, number>> {
  const page = await readApi(server, `/events?customerId=${customerId}&eventType=USAGE&limit=100`);
  const totals: Record<string, number> = {};
  for (const e of page.data as Json[]) {
    const meter = String(e.usageType);
    totals[meter] = (totals[meter] ?? 0) + Number(e.quantity);
  }
  return totals;
}

/**
 * Registers the example smoke test in the calling test file.
 *
 * @example
 * ```ts
 * exampleScenario({ name: 'example-express', start: startExample, failBody: { error: 'internal_error' } });
 * ```
 */
export function exampleScenario(scenario: ExampleScenario): ScenarioHandles {
  let server: LocalServer;
  let example: RunningExampleLike;

  beforeAll(async () => {
    server = await startServer({ port: 0, memory: true });
    example = await scenario.start({ port: 0, apiKey: server.apiKey, apiUrl: server.url });
  });

  afterAll(async () => {
    await example?.close();
    await server?.close();
  });

  const api = (path: string) => readApi(server, path);
  const usageOf = (customerId: string) => usageTotals(server, customerId);

  async function call(
    path: string,
    key?: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
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

  async function runsOf(customerId: string): Promise<Json[]> {
    return (await api(`/runs?customerId=${customerId}&limit=100`)).data as Json[];
  }

  describe(`${scenario.name} against the local Drip server`, () => {
    it('resolved one Drip customer per user at start-up', () => {
      expect(Object.keys(example.customers).sort()).toEqual(['acme', 'globex', 'initech']);
      expect(new Set(Object.values(example.customers)).size).toBe(3);
    });

    it('serves the routes, meters them per customer and records the runs', async () => {
      expect(await call('/health')).toEqual({ status: 200, body: { status: 'ok' } });
      expect((await call('/api/items/1')).status).toBe(401);
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

      expect(await call('/api/fail', 'key_initech')).toEqual({ status: 500, body: scenario.failBody });

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
      const tool = byType['tool.call'] as { attributes: Json } | undefined;
      expect(tool?.attributes.duration).toBeGreaterThan(0);

      expect(await runsOf(globex)).toHaveLength(2);
      // The route template, never the concrete path, is what the records carry.
      const globexUsage = (await api(`/events?customerId=${globex}&eventType=USAGE&limit=100`))
        .data as Json[];
      expect(globexUsage.map((e) => (e.metadata as Json | undefined)?.route)).toEqual([
        '/api/items/:id',
        '/api/items/:id',
      ]);
      const initechRuns = await runsOf(initech);
      expect(initechRuns).toHaveLength(1);
      expect(initechRuns[0]).toMatchObject({ status: 'FAILED', errorCode: 'Error' });
    });
  });

  return { server: () => server, example: () => example };
}
