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

      // The agent route runs the AI SDK over the examples' fake model (one token per 4 characters it
      // reads or writes), metered by @drip/ai. For this 35-character prompt, with the 63-character
      // system prompt: step 1 reads 98 characters (25 tokens) and calls web-search with
      // {"query":"<prompt>"} (47 characters, 12 tokens); step 2 also reads that call and the
      // 97-character result (242 characters, 61 tokens) and answers in 65 characters (17 tokens).
      const prompt = 'What is the weather in Paris today?';
      const agent = await call('/api/agent', 'key_acme', { prompt });
      expect(agent.status).toBe(200);
      expect(agent.body).toMatchObject({ usage: { inputTokens: 25 + 61, outputTokens: 12 + 17 } });

      expect(await call('/api/fail', 'key_initech')).toEqual({ status: 500, body: scenario.failBody });

      await example.flush(10_000);
      const { acme, globex, initech } = example.customers as Record<'acme' | 'globex' | 'initech', string>;

      expect(await usageOf(acme)).toEqual({ api_calls: 2, llm_tokens: 25 + 12 + 61 + 17 });
      expect(await usageOf(globex)).toEqual({ api_calls: 2 });
      expect(await usageOf(initech)).toEqual({}); // a failed request is not billed by default

      const acmeRuns = await runsOf(acme);
      expect(acmeRuns).toHaveLength(2);
      expect(acmeRuns.every((r) => r.status === 'COMPLETED')).toBe(true);
      const agentRun = acmeRuns.find((r) => r.eventCount === 3);
      expect(agentRun).toBeDefined();
      const events = (await api(`/events?runId=${String(agentRun?.id)}&limit=100`)).data as Json[];
      // One llm.call per model call (the tool loop's two steps), in order, and the tool's own event.
      const calls = events
        .filter((e) => e.eventType === 'llm.call')
        .map((e) => e.attributes as Json)
        .sort((a, b) => Number(a.callIndex) - Number(b.callIndex));
      expect(calls).toMatchObject([
        {
          model: 'fake-4o-mini',
          provider: 'fake',
          inputTokens: 25,
          outputTokens: 12,
          finishReason: 'tool-calls',
        },
        { model: 'fake-4o-mini', provider: 'fake', inputTokens: 61, outputTokens: 17, finishReason: 'stop' },
      ]);
      expect(calls.map((c) => c.callIndex)).toEqual([0, 1]);
      const tools = events.filter((e) => e.eventType === 'tool.call');
      expect(tools).toHaveLength(1);
      expect(tools[0]).toMatchObject({ attributes: { name: 'web-search' } });
      expect(Number((tools[0]?.attributes as Json | undefined)?.duration)).toBeGreaterThan(0);
      // The tokens are billed per model call, with the model in the usage metadata.
      const acmeTokens = (await api(`/events?customerId=${acme}&eventType=USAGE&limit=100`)).data as Json[];
      expect(
        acmeTokens
          .filter((e) => e.usageType === 'llm_tokens')
          .map((e) => [Number(e.quantity), (e.metadata as Json | undefined)?.model])
          .sort((a, b) => Number(a[0]) - Number(b[0])),
      ).toEqual([
        [37, 'fake-4o-mini'],
        [78, 'fake-4o-mini'],
      ]);

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
