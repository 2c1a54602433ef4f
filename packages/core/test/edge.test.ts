import { readFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { EdgeRuntime } from 'edge-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, '..', 'dist', 'index.js');

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
const seen: Seen[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.on('data', (c: Buffer) => {
    body += c.toString();
  });
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    res.setHeader('content-type', 'application/json');
    res.setHeader('x-request-id', 'req_edge');
    if (req.url === '/health') {
      res.end(JSON.stringify({ status: 'healthy', timestamp: 1 }));
      return;
    }
    res.statusCode = 201;
    const parsed = JSON.parse(body) as { customerId: string; usageType: string; quantity: number };
    res.end(
      JSON.stringify({
        success: true,
        usageEventId: 'use_edge',
        ...parsed,
        isInternal: false,
        message: 'ok',
      }),
    );
  });
});
let origin = '';

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

/** Bundles the built default entry for a neutral platform: fails if it needs any `node:` module. */
async function bundleDefaultEntry(format: 'iife' | 'esm') {
  return build({
    entryPoints: [entry],
    bundle: true,
    platform: 'neutral',
    format,
    globalName: format === 'iife' ? 'DripCore' : undefined,
    write: false,
    logLevel: 'silent',
    metafile: true,
  });
}

describe('the default entry runs on an edge runtime', () => {
  it('imports no node: module (static check of the built files and a neutral-platform bundle)', async () => {
    const result = await bundleDefaultEntry('esm');
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.startsWith('node:'))).toBe(false);
    // The built files themselves (comments stripped: doc examples may mention node: modules).
    for (const file of inputs) {
      const text = readFileSync(join(process.cwd(), file), 'utf8').replace(
        /\/\*[\s\S]*?\*\/|\/\/[^\n]*/g,
        '',
      );
      expect(text).not.toMatch(/(?:from\s*|import\s*\(|require\()\s*["']node:/);
    }
  });

  it('loads the built package inside edge-runtime, starts no timer at import, and makes a real call', async () => {
    const bundled = await bundleDefaultEntry('iife');
    const code = bundled.outputFiles[0]!.text;
    const initialCode = `
      let __timers = 0;
      const __setTimeout = globalThis.setTimeout;
      globalThis.setTimeout = (...args) => { __timers += 1; return __setTimeout(...args); };
      ${code}
      const __timersAtImport = __timers;
      addEventListener('fetch', (event) => {
        event.respondWith((async () => {
          const url = new URL(event.request.url);
          const client = new DripCore.Drip({ apiKey: 'sk_test_edge0123456789', baseUrl: url.searchParams.get('api') });
          const tracked = await client.trackUsage({ customerId: 'cus_edge', meter: 'edge_calls', quantity: 3 });
          const ping = await client.ping();
          const sig = await DripCore.generateWebhookSignature('{}', 'whsec_x', 100);
          const verified = await DripCore.verifyWebhookSignature('{}', sig, 'whsec_x', { now: 100 });
          return Response.json({
            timersAtImport: __timersAtImport,
            hasProcess: typeof process !== 'undefined',
            tracked, ping: ping.ok, verified,
            clientHeader: client.clientHeader,
          });
        })().catch((e) => Response.json({ error: String(e), code: e && e.code }, { status: 500 })));
      });
    `;
    const runtime = new EdgeRuntime({ initialCode });
    const res = await runtime.dispatchFetch(`http://edge.local/?api=${encodeURIComponent(origin)}`);
    const out = (await res.json()) as Record<string, unknown>;
    expect(out.error).toBeUndefined();
    expect(out.timersAtImport).toBe(0);
    expect(out.tracked).toMatchObject({ success: true, usageEventId: 'use_edge', quantity: 3 });
    expect(out.ping).toBe(true);
    expect(out.verified).toBe(true);
    expect(out.clientHeader).toMatch(/^@drip\/core@[\d.]+; runtime=edge$/);
    const usage = seen.find((s) => s.url === '/v1/usage/internal');
    expect(usage?.method).toBe('POST');
    expect(JSON.parse(usage!.body)).toMatchObject({
      customerId: 'cus_edge',
      usageType: 'edge_calls',
      quantity: 3,
    });
    expect(JSON.parse(usage!.body).idempotencyKey).toMatch(/^track_[a-z2-7]{16}_1$/);
    expect(usage?.headers.authorization).toBe('Bearer sk_test_edge0123456789');
  });
});
