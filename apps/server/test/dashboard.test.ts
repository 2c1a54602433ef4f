// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright locators, where innerText is the rendered text a person reads
// The dashboard in headless Chromium: traffic goes through the real API of a running server, then the
// page must show the right customers, totals, chart series and a run's events. Screenshots are written
// to test-results/ (gitignored) as artifacts.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/index';

type Json = Record<string, unknown>;

const ARTIFACTS = new URL('../test-results/', import.meta.url).pathname;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let server: RunningServer;
let receiver: Server;
let receiverUrl = '';
let browser: Browser;
const ids: Record<string, string> = {};
let agentRunId = '';

async function api(method: string, path: string, body?: unknown): Promise<Json> {
  const res = await fetch(`${server.url}/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Json;
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function sendTraffic(): Promise<void> {
  for (const name of ['acme', 'globex', 'initech']) {
    ids[name] = String((await api('POST', '/customers', { externalCustomerId: name })).id);
  }
  let n = 0;
  const key = () => `dash-test-${++n}`;
  // acme: three API calls and 1 700 tokens, metered without a charge (what the adapters send)
  for (let i = 0; i < 3; i++) {
    await api('POST', '/usage/internal', {
      customerId: ids.acme,
      usageType: 'api_calls',
      quantity: 1,
      idempotencyKey: key(),
    });
  }
  await api('POST', '/usage/internal', {
    customerId: ids.acme,
    usageType: 'llm_tokens',
    quantity: 1700,
    idempotencyKey: key(),
  });
  // a replay must not count twice
  await api('POST', '/usage/internal', {
    customerId: ids.acme,
    usageType: 'llm_tokens',
    quantity: 1700,
    idempotencyKey: `dash-test-${n}`,
  });
  // globex: two API calls through the batch route
  for (let i = 0; i < 2; i++) {
    await api('POST', '/usage/internal/batch', {
      customerId: ids.globex,
      usageType: 'api_calls',
      quantity: 1,
      idempotencyKey: key(),
    });
  }
  // acme buys two premium reports: a charge of 2 × 0.001 USDC (default test price) against the balance
  await api('POST', '/usage', {
    customerId: ids.acme,
    usageType: 'premium_report',
    quantity: 2,
    idempotencyKey: key(),
  });

  const started = Date.now() - 5000;
  const recorded = await api('POST', '/runs/record', {
    customerId: ids.acme,
    workflow: 'research-agent',
    status: 'COMPLETED',
    startedAt: new Date(started).toISOString(),
    endedAt: new Date(started + 1500).toISOString(),
    events: [
      { eventType: 'llm.call', model: 'gpt-4', inputTokens: 500, outputTokens: 1200 },
      { eventType: 'tool.call', name: 'web-search', duration: 1500 },
    ],
  });
  agentRunId = String((recorded.run as Json).id);
  await api('POST', '/runs/record', {
    customerId: ids.globex,
    workflow: 'research-agent',
    status: 'FAILED',
    errorCode: 'Error',
    errorMessage: 'The agent crashed (on purpose).',
    events: [],
  });
  const run = await api('POST', '/runs', { customerId: ids.initech, workflowId: 'research-agent' });
  await api('POST', '/run-events', {
    runId: run.id,
    eventType: 'tool.call',
    name: 'calculator',
    idempotencyKey: key(),
  });

  const hook = await api('POST', '/webhooks', { url: receiverUrl, events: ['*'] });
  await api('POST', `/webhooks/${String(hook.id)}/test`, {});
  await server.runWorker();
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/drip`;
  server = await startServer({ port: 0, memory: true });
  await sendTraffic();
  mkdirSync(ARTIFACTS, { recursive: true });
  // launch() gives Chromium a fresh profile of its own; each context below is a separate visitor.
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

async function loginLink(): Promise<string> {
  const res = await fetch(`${server.url}/dashboard/login-links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  expect(res.status).toBe(201);
  return String(((await res.json()) as Json).url);
}

function cell(page: Page, customer: string, selector: string) {
  return page.locator(`[data-testid="customer-row"][data-customer="${customer}"] ${selector}`);
}

describe('dashboard in Chromium', () => {
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    // CSP violations and failed loads (a missing script, a favicon 404) show up as console errors
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
    await page.goto(await loginLink());
  });

  it('opens with the one-time login link and shows the project', async () => {
    expect(new URL(page.url()).pathname).toBe('/');
    await expect(page.locator('[data-testid="project"]').textContent()).resolves.toBe('Default project');
  });

  it('shows each customer with usage per meter, balance and charges', async () => {
    await expect(page.locator('[data-testid="kpi-customers"]').textContent()).resolves.toBe('3');
    await expect(cell(page, 'acme', 'td[data-meter="api_calls"]').textContent()).resolves.toBe('3');
    await expect(cell(page, 'acme', 'td[data-meter="llm_tokens"]').textContent()).resolves.toBe('1,700');
    await expect(cell(page, 'acme', 'td[data-meter="premium_report"]').textContent()).resolves.toBe('2');
    await expect(cell(page, 'globex', 'td[data-meter="api_calls"]').textContent()).resolves.toBe('2');
    await expect(cell(page, 'initech', 'td[data-meter="api_calls"]').textContent()).resolves.toBe('0');
    await expect(cell(page, 'acme', 'td[data-col="balance"]').textContent()).resolves.toBe('99.998000');
    expect(await cell(page, 'acme', 'td[data-col="charged"]').innerText()).toMatch(/^0\.002000\s+1 charge$/);
    await expect(cell(page, 'globex', 'td[data-col="balance"]').textContent()).resolves.toBe('100.000000');
    // 3 + 1 + 2 + 1 usage events (the replayed key counted once)
    await expect(page.locator('[data-testid="kpi-usage-events"]').textContent()).resolves.toBe('7');
    await expect(page.locator('[data-testid="kpi-charged"]').textContent()).resolves.toBe('0.002000');
  });

  it('draws the usage chart per customer for the chosen meter', async () => {
    const series = () =>
      page.evaluate(() => {
        const chart = (
          globalThis as unknown as {
            Chart: {
              getChart(id: string): { data: { datasets: { label: string; data: number[] }[] } } | undefined;
            };
          }
        ).Chart.getChart('usage-chart');
        return chart?.data.datasets.map((d) => ({
          label: d.label,
          total: d.data.reduce((a, b) => a + b, 0),
        }));
      });
    await page.selectOption('#meter', 'api_calls');
    expect(await series()).toEqual([
      { label: 'acme', total: 3 },
      { label: 'globex', total: 2 },
    ]);
    await page.selectOption('#meter', 'llm_tokens');
    expect(await series()).toEqual([{ label: 'acme', total: 1700 }]);
    await page.selectOption('#meter', 'api_calls');
  });

  it('lists recent runs with status and duration, and webhook deliveries', async () => {
    const rows = page.locator('[data-testid="run-row"]');
    await expect(rows.count()).resolves.toBe(3);
    const agentRow = page.locator(`[data-testid="run-row"][data-run-id="${agentRunId}"]`);
    expect(await agentRow.innerText()).toMatch(/acme\s+Research Agent\s+COMPLETED\s+1\.50 s\s+2/);
    expect(await page.locator('[data-testid="runs-failed"]').innerText()).toMatch(/FAILED\s+1/);
    expect(await page.locator('[data-testid="runs-running"]').innerText()).toMatch(/RUNNING\s+1/);
    const delivery = page.locator('[data-testid="delivery-row"]').filter({ hasText: 'webhook.test' });
    expect(await delivery.innerText()).toContain('DELIVERED');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-overview.png'), fullPage: true });
  });

  it("opens a run's timeline with the events' own fields", async () => {
    await page.click(`a[href="/dashboard/runs/${agentRunId}"]`);
    await page.waitForSelector('[data-testid="run-id"]');
    await expect(page.locator('[data-testid="run-id"]').textContent()).resolves.toBe(agentRunId);
    const events = page.locator('[data-testid="run-event"]');
    // in the order they were sent, though one request gave them the same timestamp
    expect(await events.evaluateAll((els) => els.map((e) => e.getAttribute('data-event-type')))).toEqual([
      'llm.call',
      'tool.call',
    ]);
    const llm = page.locator('[data-testid="run-event"][data-event-type="llm.call"]');
    await expect(llm.locator('[data-attr="model"]').innerText()).resolves.toBe('model gpt-4');
    await expect(llm.locator('[data-attr="inputTokens"]').innerText()).resolves.toBe('inputTokens 500');
    await expect(llm.locator('[data-attr="outputTokens"]').innerText()).resolves.toBe('outputTokens 1,200');
    const tool = page.locator('[data-testid="run-event"][data-event-type="tool.call"]');
    await expect(tool.locator('[data-attr="name"]').innerText()).resolves.toBe('name web-search');
    expect(await page.locator('dl.facts').innerText()).toMatch(/Duration\s+1\.50 s/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-run.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('lets a link in once, and asks anyone else for the secret key', async () => {
    const link = await loginLink();
    const first = await (await browser.newContext()).newPage();
    await first.goto(link);
    await first.waitForSelector('[data-testid="kpi-customers"]');
    expect(new URL(first.url()).pathname).toBe('/');
    const second = await (await browser.newContext()).newPage();
    await second.goto(link);
    expect(await second.locator('h1').innerText()).toBe('This login link no longer works');
    await second.goto(`${server.url}/`);
    await second.fill('#key', server.publicKey);
    await second.click('button[type="submit"]');
    expect(await second.locator('[role="alert"]').innerText()).toContain('public key');
    await second.fill('#key', server.apiKey);
    await second.click('button[type="submit"]');
    await second.waitForSelector('[data-testid="kpi-customers"]');
    await expect(second.locator('[data-testid="kpi-customers"]').textContent()).resolves.toBe('3');
  });
});

describe('dashboard against other sites in Chromium', () => {
  let attacker: Server;
  let attackerOrigin = '';
  let pages: Record<string, string> = {};

  beforeAll(async () => {
    const other = await server.store.createProject({ name: 'Attacker project' });
    const link = await fetch(`${server.url}/dashboard/login-links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.apiKey}` },
    });
    const otherLink = String(((await link.json()) as Json).url);
    // Pages of another site (localhost is a different site from 127.0.0.1) that post the
    // dashboard's own forms as soon as they load, or link to a login link of the attacker's project.
    const autoPost = (action: string, fields: Record<string, string>) =>
      `<!doctype html><form method="post" action="${server.url}${action}">${Object.entries(fields)
        .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
        .join('')}</form><script>document.forms[0].submit()</script>`;
    pages = {
      '/login': autoPost('/login', { key: other.apiKey }),
      '/logout': autoPost('/logout', {}),
      '/link': `<!doctype html><a id="go" href="${otherLink}">free credits</a>`,
    };
    attacker = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(pages[req.url ?? ''] ?? '');
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerOrigin = `http://localhost:${(attacker.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()));
  });

  async function loggedIn(): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/`);
    await page.fill('#key', server.apiKey);
    await page.click('button[type="submit"]');
    await page.waitForSelector('[data-testid="kpi-customers"]');
    return page;
  }
  const project = (page: Page) => page.locator('[data-testid="project"]').textContent();

  it('logs in with the form and out with the button on its own page', async () => {
    const page = await loggedIn();
    await expect(project(page)).resolves.toBe('Default project');
    await page.click('form.logout button');
    await page.waitForSelector('#key');
    await page.goto(`${server.url}/`);
    await expect(page.locator('#key').count()).resolves.toBe(1);
  });

  it('a cross-site form can neither log the visitor out nor into another project', async () => {
    const page = await loggedIn();
    await page.goto(`${attackerOrigin}/logout`);
    await page.waitForURL(`${server.url}/logout`);
    expect(await page.locator('h1').innerText()).toBe('Cross-site request refused');
    await page.goto(`${server.url}/`);
    await expect(project(page)).resolves.toBe('Default project');

    await page.goto(`${attackerOrigin}/login`);
    await page.waitForURL(`${server.url}/login`);
    expect(await page.locator('h1').innerText()).toBe('Cross-site request refused');
    await page.goto(`${server.url}/`);
    await expect(project(page)).resolves.toBe('Default project');

    // A visitor without a session is not logged into the attacker's project either.
    const fresh = await (await browser.newContext()).newPage();
    await fresh.goto(`${attackerOrigin}/login`);
    await fresh.waitForURL(`${server.url}/login`);
    await fresh.goto(`${server.url}/`);
    await expect(fresh.locator('#key').count()).resolves.toBe(1);
  });

  it('a login link followed from another site asks first, and works on a click', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${attackerOrigin}/link`);
    await page.click('#go');
    await page.waitForSelector('[data-testid="confirm-login"]');
    await page.goto(`${server.url}/`);
    await expect(page.locator('#key').count()).resolves.toBe(1);
    await page.goBack();
    await page.click('[data-testid="confirm-login"]');
    await page.waitForSelector('[data-testid="kpi-customers"]');
    await expect(project(page)).resolves.toBe('Attacker project');
  });
});
