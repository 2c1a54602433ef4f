// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright locators, where innerText is the rendered text a person reads
// The dashboard's problems panel in headless Chromium (issue 15): requests the API refused (an unknown key,
// an unknown customer, refused items of a bulk request) must show by code, key prefix and customer, and
// the secret key itself must never appear on the page.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/index';
import { launchChromium } from './chromium';

let server: RunningServer;
let browser: Browser;

async function post(path: string, body: unknown, key = server.apiKey): Promise<number> {
  const res = await fetch(`${server.url}/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  server = await startServer({ port: 0, memory: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function overviewText(): Promise<{ panel: string; page: string; rows: number }> {
  const link = await fetch(`${server.url}/dashboard/login-links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  const url = String(((await link.json()) as { url: string }).url);
  const page = await (await browser.newContext()).newPage();
  await page.goto(url);
  const panel = await page.locator('[data-testid="problems"]').innerText();
  const rows = await page.locator('[data-testid="problem-row"]').count();
  const all = await page.locator('body').innerText();
  await page.close();
  return { panel, page: all, rows };
}

describe('problems panel', () => {
  it('says there is nothing refused on a fresh server', async () => {
    const { panel, rows } = await overviewText();
    expect(rows).toBe(0);
    expect(panel).toContain('None: every request in the last 24 hours was accepted.');
  });

  it('shows refused requests by code, key prefix and customer, never the secret', async () => {
    const wrongKey = 'sk_test_WRONGkeyWRONGkeyWRONGkeyWRONGk';
    expect(
      await post('/usage/internal', { customerId: 'cus_1', usageType: 'm', idempotencyKey: 'p1' }, wrongKey),
    ).toBe(401);
    expect(
      await post('/usage/internal', { customerId: 'cus_1', usageType: 'm', idempotencyKey: 'p2' }, wrongKey),
    ).toBe(401);
    expect(
      await post('/usage/internal', { externalCustomerId: 'alice', usageType: 'm', idempotencyKey: 'p3' }),
    ).toBe(404);
    const bulk = {
      events: [
        { customerId: 'cus_missing', usageType: 'm', quantity: 1, idempotencyKey: 'p4' },
        { customerId: 'cus_missing', usageType: 'm', quantity: 1, idempotencyKey: 'p5' },
      ],
    };
    expect(await post('/usage/internal/bulk', bulk)).toBe(200);
    // The panel is written after the answer: wait until the rows are in.
    let view = await overviewText();
    for (let i = 0; i < 20 && view.rows < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      view = await overviewText();
    }
    expect(view.rows).toBe(3);
    expect(view.panel).toContain('5 refused');
    expect(view.panel).toMatch(
      /401 UNAUTHORIZED\s+Unknown API key\s+sk_test_WRON…\s+—\s+\/usage\/internal\s+2/,
    );
    expect(view.panel).toMatch(
      /404 CUSTOMER_NOT_FOUND\s+Customer not found\s+sk_test_\S+…\s+alice\s+\/usage\/internal\s+1/,
    );
    expect(view.panel).toMatch(
      /404 CUSTOMER_NOT_FOUND\s+Customer not found\s+sk_test_\S+…\s+cus_missing\s+\/usage\/internal\/bulk\s+2/,
    );
    expect(view.page).not.toContain(wrongKey);
    expect(view.page).not.toContain(server.apiKey);
  });
});
