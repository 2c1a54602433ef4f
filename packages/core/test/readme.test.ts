/**
 * The README's Quick start examples are executed (spec §9 row 25): each ```ts block of the "Quick start"
 * section runs against a local HTTP server on 127.0.0.1, importing the built package.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(join(here, '..', 'README.md'), 'utf8');
const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('### Methods'));
const blocks = [...quickStart.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const distUrl = pathToFileURL(join(here, '..', 'dist', 'index.js')).href;

const NOW = '2026-03-01T12:00:00.000Z';
const seen: string[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on('end', () => {
    const route = `${req.method} ${req.url}`;
    seen.push(route);
    res.setHeader('content-type', 'application/json');
    res.statusCode = 201;
    let body: unknown = { error: 'no route', code: 'ROUTE_NOT_FOUND' };
    if (route === 'POST /v1/customers')
      body = {
        id: 'cus_1',
        externalCustomerId: 'user_42',
        isInternal: false,
        status: 'ACTIVE',
        createdAt: NOW,
      };
    else if (route === 'POST /v1/usage/internal')
      body = {
        success: true,
        usageEventId: 'use_1',
        customerId: 'cus_1',
        usageType: 'api_calls',
        quantity: 1,
      };
    else if (route === 'POST /v1/usage')
      body = {
        success: true,
        usageEventId: 'use_2',
        isDuplicate: false,
        charge: { id: 'chg_1', amountUsdc: '0.842000', amountToken: '842000', status: 'CONFIRMED' },
      };
    else if (route === 'POST /v1/runs/record')
      body = {
        run: { id: 'run_1', workflowId: 'wf_1', workflowName: 'Summarise', status: 'COMPLETED' },
        events: { created: 2, duplicates: 0 },
        summary: 'ok',
      };
    else res.statusCode = 404;
    res.end(JSON.stringify(body));
  });
});
let origin = '';
const saved = { key: process.env.DRIP_API_KEY, url: process.env.DRIP_API_URL };

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.DRIP_API_KEY = 'sk_test_readme0123456789';
  process.env.DRIP_API_URL = origin;
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('drip.client')];
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  for (const [k, v] of [
    ['DRIP_API_KEY', saved.key],
    ['DRIP_API_URL', saved.url],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('drip.client')];
});

describe('README Quick start runs as written', () => {
  it('has the examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
  });

  it('every Quick start block completes against a local server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drip-readme-'));
    try {
      for (const [i, block] of blocks.entries()) {
        // The README passes baseUrl only through the environment, so it runs against hosted Drip as written.
        const source = block.replaceAll("from '@drip/core'", `from '${distUrl}'`);
        const { code } = await transform(source, { loader: 'ts', format: 'esm' });
        const file = join(dir, `block-${i}.mjs`);
        writeFileSync(file, code);
        await import(pathToFileURL(file).href);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(seen).toEqual([
      'POST /v1/customers',
      'POST /v1/usage/internal',
      'POST /v1/usage',
      'POST /v1/runs/record',
      'POST /v1/usage/internal',
    ]);
  });
});
