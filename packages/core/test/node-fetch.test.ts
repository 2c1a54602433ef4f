import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Drip, DripError } from '../src/index';
import { createNodeFetch } from '../src/node';

const KEY = 'sk_test_node_fetch_0123456789';

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
  socket: number;
}

let server: Server | undefined;

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** A loopback server that records each request (with a number per TCP connection) and lets `answer` reply. */
async function serve(
  answer: (req: IncomingMessage, res: ServerResponse, body: string, n: number) => void,
): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  let sockets = 0;
  const ids = new WeakMap<object, number>();
  const s = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      let id = ids.get(req.socket);
      if (id === undefined) {
        id = ++sockets;
        ids.set(req.socket, id);
      }
      seen.push({ method: req.method, url: req.url, headers: req.headers, body, socket: id });
      answer(req, res, body, seen.length);
    });
  });
  server = s;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`, seen };
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('the Node HTTP transport (default on Node)', () => {
  it('a client without `fetch` sends through node:http: same request, keep-alive, one connection reused', async () => {
    const { base, seen } = await serve((_req, res) =>
      json(res, 200, {
        id: 'cus_1',
        externalCustomerId: 'ext-1',
        status: 'ACTIVE',
        createdAt: '2026-01-01T00:00:00Z',
      }),
    );
    const client = new Drip({ apiKey: KEY, baseUrl: base });
    const first = await client.createCustomer({ externalCustomerId: 'ext-1' });
    const second = await client.getCustomer('cus_1');
    expect(first.id).toBe('cus_1');
    expect(second.id).toBe('cus_1');
    expect(seen).toHaveLength(2);
    const [a, b] = seen as [Seen, Seen];
    expect(a.method).toBe('POST');
    expect(a.url).toBe('/v1/customers');
    expect(JSON.parse(a.body)).toMatchObject({ externalCustomerId: 'ext-1' });
    expect(a.headers['content-type']).toBe('application/json');
    expect(a.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(a.headers['content-length']).toBe(String(Buffer.byteLength(a.body)));
    expect(a.headers['x-drip-client']).toMatch(/^@drip\/core@/);
    // Node's http client with a keep-alive agent, not the global fetch (undici adds sec-fetch-mode).
    expect(a.headers.connection).toBe('keep-alive');
    expect(a.headers['sec-fetch-mode']).toBeUndefined();
    expect(b.method).toBe('GET');
    expect(b.url).toBe('/v1/customers/cus_1');
    expect(b.socket).toBe(a.socket);
  });

  it('multi-byte bodies keep an exact content-length', async () => {
    const { base, seen } = await serve((_req, res) =>
      json(res, 200, {
        id: 'cus_2',
        externalCustomerId: 'ext-2',
        status: 'ACTIVE',
        createdAt: '2026-01-01T00:00:00Z',
      }),
    );
    const client = new Drip({ apiKey: KEY, baseUrl: base });
    await client.createCustomer({ externalCustomerId: 'ext-2', metadata: { name: 'Zoë 東京 🚀' } });
    const [a] = seen as [Seen];
    expect(JSON.parse(a.body).metadata.name).toBe('Zoë 東京 🚀');
    expect(Number(a.headers['content-length'])).toBe(Buffer.byteLength(a.body));
  });

  it('error answers keep their status, code and request id; 5xx is retried and succeeds', async () => {
    const { base, seen } = await serve((_req, res, _body, n) => {
      if (n === 1) json(res, 404, { error: 'not found', code: 'NOT_FOUND' }, { 'x-request-id': 'req_404' });
      else if (n === 2)
        json(res, 503, { error: 'busy', code: 'SERVICE_UNAVAILABLE' }, { 'retry-after': '0' });
      else
        json(res, 200, {
          id: 'cus_3',
          externalCustomerId: 'e',
          status: 'ACTIVE',
          createdAt: '2026-01-01T00:00:00Z',
        });
    });
    const client = new Drip({ apiKey: KEY, baseUrl: base, backoffBaseMs: 1 });
    const err = await client.getCustomer('cus_missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DripError);
    expect((err as DripError).statusCode).toBe(404);
    expect((err as DripError).code).toBe('NOT_FOUND');
    expect((err as DripError).requestId).toBe('req_404');
    const ok = await client.getCustomer('cus_3');
    expect(ok.id).toBe('cus_3');
    expect(seen).toHaveLength(3);
  });

  it('a slow answer times out per attempt (TIMEOUT) and the socket is released', async () => {
    const { base } = await serve((_req, res) => {
      setTimeout(() => json(res, 200, {}), 2_000).unref();
    });
    const client = new Drip({ apiKey: KEY, baseUrl: base, timeoutMs: 100, maxAttempts: 1 });
    const started = Date.now();
    const err = await client.getCustomer('cus_slow').catch((e: unknown) => e);
    expect((err as DripError).code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('a refused connection is a NETWORK_ERROR; a body cut mid-way is an error, not a truncated success', async () => {
    const refused = new Drip({ apiKey: KEY, baseUrl: 'http://127.0.0.1:9/v1', maxAttempts: 1 });
    const err = await refused.getCustomer('cus_x').catch((e: unknown) => e);
    expect((err as DripError).code).toBe('NETWORK_ERROR');

    const { base } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"id":"cus_');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const cut = new Drip({ apiKey: KEY, baseUrl: base, maxAttempts: 1 });
    const cutErr = await cut.getCustomer('cus_y').catch((e: unknown) => e);
    expect(cutErr).toBeInstanceOf(DripError);
    expect((cutErr as DripError).code).toBe('NETWORK_ERROR');
  });

  it('createNodeFetch honours an abort signal and exposes the response headers', async () => {
    const { base } = await serve((req, res) => {
      if (req.url?.endsWith('/slow')) return; // never answers
      json(res, 201, { ok: true }, { 'x-request-id': 'req_h' });
    });
    const fetchImpl = createNodeFetch({ maxSockets: 2 });
    const res = await fetchImpl(`${base}/fast`, { method: 'POST', headers: { 'x-a': '1' }, body: '{}' });
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(res.headers.get('x-request-id')).toBe('req_h');
    expect(JSON.parse(await res.text())).toEqual({ ok: true });

    const controller = new AbortController();
    const pending = fetchImpl(`${base}/slow`, { method: 'GET', signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });
});
