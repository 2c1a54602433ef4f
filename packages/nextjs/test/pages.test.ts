import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Drip } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DripPagesOptions, dripMeter, withDripPages } from '../src/index';

const api = createTestDrip();
const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });

type ApiReq = IncomingMessage & { query: Record<string, string | string[] | undefined> };
type ApiRes = ServerResponse & { status(code: number): ApiRes; json(body: unknown): void };

let server: Server | undefined;

/** Serves one Pages API handler the way Next's API resolver does: `req.query` = params + query string. */
async function serve(
  handler: (req: ApiReq, res: ApiRes) => Promise<void>,
  params: Record<string, string>,
): Promise<string> {
  server = createServer((req, res) => {
    const search = new URL(req.url ?? '/', 'http://x').searchParams;
    const apiReq = Object.assign(req, { query: { ...Object.fromEntries(search), ...params } }) as ApiReq;
    const apiRes = Object.assign(res, {
      status(code: number) {
        res.statusCode = code;
        return apiRes;
      },
      json(body: unknown) {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      },
    }) as ApiRes;
    handler(apiReq, apiRes).catch(() => {
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(() => api.reset());
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

function options(extra: Partial<DripPagesOptions<ApiReq>> = {}): DripPagesOptions<ApiReq> {
  return {
    client,
    customer: (req) => (req.headers['x-customer'] as string | undefined) ?? undefined,
    ...extra,
  };
}

describe('withDripPages (Pages API routes)', () => {
  it('meters the call when the response ends, with the template rebuilt from req.query', async () => {
    const opts = options();
    const url = await serve(
      withDripPages((req: ApiReq, res: ApiRes, drip) => {
        drip?.run.event({ eventType: 'db.lookup' });
        res.status(201).json({ id: req.query.id, q: req.query.q });
      }, opts),
      { id: '42' },
    );
    const res = await fetch(`${url}/api/pages/42?q=x`, { headers: { 'x-customer': 'cus_p' } });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ id: '42', q: 'x' });
    await dripMeter(opts).flush(5_000);
    api.expectUsage({ customerId: 'cus_p', meter: 'api_calls', quantity: 1 });
    const run = api.expectRun({
      customerId: 'cus_p',
      status: 'COMPLETED',
      events: [{ eventType: 'db.lookup' }],
    });
    expect(JSON.stringify(run)).toContain('/api/pages/[id]');
  });

  it('records a thrown error as a failed run and rethrows it to Next', async () => {
    const opts = options();
    const url = await serve(
      withDripPages(() => {
        throw new RangeError('bad');
      }, opts),
      {},
    );
    const res = await fetch(`${url}/api/pages/fail`, { headers: { 'x-customer': 'cus_e' } });
    expect(res.status).toBe(500);
    await dripMeter(opts).flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_e' })).toBe(0);
    api.expectRun({ customerId: 'cus_e', status: 'FAILED' });
  });

  it('records a request the client abandoned as aborted', async () => {
    const opts = options();
    let closed: () => void = () => {};
    const gone = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const url = await serve(
      withDripPages(async (_req: ApiReq, res: ApiRes) => {
        res.once('close', () => closed());
        res.write('partial');
        await gone;
      }, opts),
      {},
    );
    const controller = new AbortController();
    const res = await fetch(`${url}/api/pages/slow`, {
      headers: { 'x-customer': 'cus_ab' },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    controller.abort();
    await gone;
    await dripMeter(opts).flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_ab' })).toBe(0);
    const run = api.expectRun({ customerId: 'cus_ab' });
    expect(run.status).toBe('CANCELLED');
  });

  it("answers with the pipeline's status and JSON under the reject policy, without calling the handler", async () => {
    const opts = options({ unidentified: 'reject' });
    let called = false;
    const url = await serve(
      withDripPages((_req: ApiReq, res: ApiRes) => {
        called = true;
        res.status(200).json({ served: true });
      }, opts),
      {},
    );
    const res = await fetch(`${url}/api/pages/anon`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toMatchObject({ code: 'CUSTOMER_REQUIRED' });
    expect(called).toBe(false);
  });
});
