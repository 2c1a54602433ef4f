// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright locators, where innerText is the rendered text a person reads
// The token panel and a run's call lines in headless Chromium (issue 14): model calls of two customers and
// two models go through the real HTTP API of a running server, by every route that writes run events
// (`/runs/record` sent twice with one idempotency key, `/runs/record/bulk`, `/run-events`), shaped as
// `@drip/ai` records them; then the page must show the exact sums and each call's tokens and latency.
// One browser for the file (a launch costs about a second); screenshots go to test-results/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/index';
import { launchChromium } from './chromium';

type Json = Record<string, unknown>;

const ARTIFACTS = new URL('../test-results/', import.meta.url).pathname;

let server: RunningServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const ids: Record<string, string> = {};
let alphaRun = '';

async function api(method: string, path: string, body?: unknown): Promise<Json> {
  const res = await fetch(`${server.url}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Json;
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** An `llm.call` event with the fields `@drip/ai` sends (counts not given are 0). */
function llm(model: string, fields: Json): Json {
  return {
    eventType: 'llm.call',
    model,
    provider: model.startsWith('claude') ? 'anthropic' : 'openai',
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    ...fields,
  };
}

async function sendCalls(): Promise<void> {
  for (const name of ['alpha', 'beta']) {
    ids[name] = String((await api('POST', '/customers', { externalCustomerId: name })).id);
  }
  const started = Date.now() - 10_000;
  const recorded = await api('POST', '/runs/record', {
    customerId: ids.alpha,
    workflow: 'agent',
    status: 'COMPLETED',
    startedAt: new Date(started).toISOString(),
    endedAt: new Date(started + 3000).toISOString(),
    idempotencyKey: 'tokens-alpha-1',
    events: [
      llm('gpt-4o', {
        inputTokens: 1000,
        outputTokens: 250,
        cachedInputTokens: 400,
        reasoningTokens: 50,
        latencyMs: 820,
        timeToFirstTokenMs: 140,
        finishReason: 'stop',
        callIndex: 0,
      }),
      { eventType: 'tool.call', name: 'web-search', duration: 300, success: true },
      llm('claude-sonnet-4', { inputTokens: 300, outputTokens: 120, latencyMs: 1500, callIndex: 1 }),
    ],
  });
  alphaRun = String((recorded.run as Json).id);
  // beta: an aborted stream (estimated counts) and a small call; the client retries the record.
  const beta = {
    customerId: ids.beta,
    workflow: 'agent',
    status: 'CANCELLED',
    idempotencyKey: 'tokens-beta-1',
    events: [
      llm('claude-sonnet-4', {
        inputTokens: 2000,
        outputTokens: 800,
        latencyMs: 2100,
        estimated: true,
        aborted: true,
      }),
      llm('gpt-4o', { inputTokens: 10, outputTokens: 5, latencyMs: 90 }),
    ],
  };
  await api('POST', '/runs/record', beta);
  const replay = await api('POST', '/runs/record', beta);
  expect(replay.isDuplicate).toBe(true);
  // the outbox's bulk route, and a single event on an open run
  await api('POST', '/runs/record/bulk', {
    runs: [
      {
        customerId: ids.alpha,
        workflow: 'agent',
        status: 'COMPLETED',
        events: [llm('gpt-4o', { inputTokens: 60, outputTokens: 30, latencyMs: 130 })],
      },
    ],
  });
  const open = await api('POST', '/runs', { customerId: ids.beta, workflowId: 'agent' });
  await api('POST', '/run-events', {
    runId: open.id,
    idempotencyKey: 'tokens-beta-event',
    ...llm('gpt-4o', { inputTokens: 40, outputTokens: 20, latencyMs: 110 }),
  });
}

beforeAll(async () => {
  server = await startServer({ port: 0, memory: true });
  await sendCalls();
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(msg.text());
  });
  const res = await fetch(`${server.url}/dashboard/login-links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  await page.goto(String(((await res.json()) as Json).url));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** The cells of a panel row, as a person reads them. */
async function cells(selector: string): Promise<string[]> {
  return page
    .locator(`${selector} td`)
    .evaluateAll((tds) => tds.map((td) => (td as HTMLElement).innerText.trim()));
}

describe('token panel in Chromium', () => {
  it('shows the tokens of each model and each customer, exactly once per call', async () => {
    const panel = page.locator('[data-testid="tokens"]');
    await expect(panel.getAttribute('data-period')).resolves.toBe('7d');
    const heads = await panel
      .locator('table')
      .first()
      .locator('th')
      .evaluateAll((ths) => ths.map((th) => (th as HTMLElement).innerText.trim()));
    expect(heads).toEqual([
      'Model',
      'Calls',
      'Estimated',
      'Input',
      'of which cached',
      'Output',
      'of which reasoning',
      'Total',
      'Avg latency',
    ]);
    // gpt-4o: 1000 + 10 + 60 + 40 in, 250 + 5 + 30 + 20 out; latency (820 + 90 + 130 + 110) / 4
    expect(await cells('[data-testid="token-model"][data-model="gpt-4o"]')).toEqual([
      'gpt-4o',
      '4',
      '0',
      '1,110',
      '400',
      '305',
      '50',
      '1,415',
      '288 ms',
    ]);
    // claude: one of the two calls estimated (the aborted stream), counted once despite the retry
    expect(await cells('[data-testid="token-model"][data-model="claude-sonnet-4"]')).toEqual([
      'claude-sonnet-4',
      '2',
      '1',
      '2,300',
      '0',
      '920',
      '0',
      '3,220',
      '1.80 s',
    ]);
    // beta (2 875 tokens) before alpha (1 760)
    const customers = await page
      .locator('[data-testid="token-customer"]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-customer')));
    expect(customers).toEqual(['beta', 'alpha']);
    expect((await cells('[data-testid="token-customer"][data-customer="alpha"]')).slice(2)).toEqual([
      '3',
      '0',
      '1,360',
      '400',
      '400',
      '50',
      '1,760',
      '817 ms',
    ]);
    expect(await cells('[data-testid="token-pair"][data-customer="beta"][data-model="gpt-4o"]')).toEqual([
      '',
      'gpt-4o',
      '2',
      '0',
      '50',
      '0',
      '25',
      '0',
      '75',
      '100 ms',
    ]);
    expect(await page.locator('[data-testid="tokens-total"]').innerText()).toBe(
      '6 calls of 2 models for 2 customers: 3,410 input and 1,225 output tokens (1 estimated).',
    );
    await panel.screenshot({ path: join(ARTIFACTS, 'dashboard-tokens.png') });
  });

  it('switches the period with its links', async () => {
    await page.click('[data-testid="tokens"] a[data-period="24h"]');
    await page.waitForSelector('[data-testid="tokens"][data-period="24h"]');
    expect(new URL(page.url()).search).toBe('?tokens=24h');
    await expect(page.locator('[data-testid="tokens-total"]').innerText()).resolves.toMatch(/^6 calls /);
  });

  it("lists each call's tokens and latency on the run's timeline", async () => {
    await page.goto(`${server.url}/dashboard/runs/${alphaRun}`);
    const lines = await page
      .locator('[data-testid="run-event"] .call')
      .evaluateAll((els) => els.map((e) => (e as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
    expect(lines).toEqual([
      'gpt-4o openai · 1,000 in (400 cached) → 250 out (50 reasoning) · 820 ms · first token after 140 ms · finish: stop',
      'web-search · 300 ms',
      'claude-sonnet-4 anthropic · 300 in → 120 out · 1.50 s',
    ]);
    expect(await page.locator('[data-testid="run-tokens"]').innerText()).toBe('1,300 in → 370 out');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-run-calls.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
