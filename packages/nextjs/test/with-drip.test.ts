import { Drip } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import { notFound, redirect } from 'next/navigation';
import { beforeEach, describe, expect, it } from 'vitest';
import { type DripNextOptions, dripMeter, getDripContext, withDrip } from '../src/index';

const api = createTestDrip();
const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });

/** A fresh options object per test: its own meter, sharing the in-memory API. */
function options(extra: Partial<DripNextOptions> = {}): DripNextOptions {
  return {
    client,
    customer: (req: Request) => req.headers.get('x-customer') ?? undefined,
    ...extra,
  };
}

function get(path: string, customer?: string, init: RequestInit = {}): Request {
  const headers = new Headers(init.headers);
  if (customer !== undefined) headers.set('x-customer', customer);
  return new Request(`http://app.test${path}`, { ...init, headers });
}

type ItemsContext = { params: Promise<{ id: string }> };
const ctx = (id: string): ItemsContext => ({ params: Promise.resolve({ id }) });

beforeEach(() => api.reset());

describe('withDrip (App Router handlers)', () => {
  it('returns the handler response unchanged and bills the customer after it', async () => {
    const opts = options();
    const GET = withDrip(async (_req, { params }: ItemsContext, drip) => {
      const { id } = await params;
      drip?.run.event({ eventType: 'db.lookup', table: 'items' });
      return Response.json({ id, customer: drip?.customerId }, { status: 203, headers: { 'x-app': 'yes' } });
    }, opts);

    const res = await GET(get('/api/items/42', 'cus_a'), ctx('42'));
    expect(res.status).toBe(203);
    expect(res.headers.get('x-app')).toBe('yes');
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ id: '42', customer: 'cus_a' });

    await dripMeter(opts).flush(5_000);
    api.expectUsage({ customerId: 'cus_a', meter: 'api_calls', quantity: 1, records: 1 });
    const run = api.expectRun({
      customerId: 'cus_a',
      status: 'COMPLETED',
      events: [{ eventType: 'db.lookup' }],
    });
    expect(JSON.stringify(run)).toContain('/api/items/[id]');
  });

  it('takes the route template from the option when given', async () => {
    const opts = options({ route: '/api/things/[thing]' });
    const GET = withDrip(async () => new Response('ok'), opts);
    await (await GET(get('/api/things/9', 'cus_r'), ctx('9'))).text();
    await dripMeter(opts).flush(5_000);
    const run = api.expectRun({ customerId: 'cus_r' });
    expect(JSON.stringify(run)).toContain('/api/things/[thing]');
    expect(JSON.stringify(run)).not.toContain('/api/items/[id]');
  });

  it('lets the handler add usage and events through its context', async () => {
    const opts = options();
    const POST = withDrip(async (req: Request, _ctx: unknown, drip) => {
      const { prompt } = (await req.json()) as { prompt: string };
      drip?.run.event({
        eventType: 'llm.call',
        model: 'gpt-4o-mini',
        inputTokens: prompt.length,
        outputTokens: 10,
      });
      drip?.usage('llm_tokens', prompt.length + 10);
      return Response.json({ ok: true });
    }, opts);
    const res = await POST(
      get('/api/agent', 'cus_b', { method: 'POST', body: JSON.stringify({ prompt: 'hello' }) }),
      {},
    );
    expect(res.status).toBe(200);
    // The request ends when its body has been sent (read), as Next does.
    expect(await res.json()).toEqual({ ok: true });
    await dripMeter(opts).flush(5_000);
    api.expectUsage({ customerId: 'cus_b', meter: 'llm_tokens', quantity: 15 });
    api.expectUsage({ customerId: 'cus_b', meter: 'api_calls', quantity: 1 });
    api.expectRun({
      customerId: 'cus_b',
      status: 'COMPLETED',
      events: [{ eventType: 'llm.call', model: 'gpt-4o-mini', inputTokens: 5, outputTokens: 10 }],
    });
  });

  it('makes the context reachable from deep code through getDripContext()', async () => {
    const opts = options();
    // Deep code: no request or context passed in.
    async function webSearch(query: string): Promise<string[]> {
      await new Promise((resolve) => setTimeout(resolve, 1));
      getDripContext()?.run.event({ eventType: 'tool.call', name: 'web-search', query });
      getDripContext()?.usage('searches', 1);
      return [query];
    }
    const GET = withDrip(async () => Response.json(await webSearch('paris')), opts);
    expect(getDripContext()).toBeUndefined();
    expect(await (await GET(get('/api/search', 'cus_deep'), {})).json()).toEqual(['paris']);
    expect(getDripContext()).toBeUndefined();
    await dripMeter(opts).flush(5_000);
    api.expectUsage({ customerId: 'cus_deep', meter: 'searches', quantity: 1 });
    api.expectRun({
      customerId: 'cus_deep',
      events: [{ eventType: 'tool.call', name: 'web-search', query: 'paris' }],
    });
  });

  it('waits for an async customer resolver', async () => {
    const opts = options({
      customer: async (req: Request) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return req.headers.get('x-tenant');
      },
    });
    const GET = withDrip(
      async (_req: Request, _ctx: unknown, drip) => Response.json({ c: drip?.customerId }),
      opts,
    );
    const res = await GET(get('/api/items/1', undefined, { headers: { 'x-tenant': 'cus_async' } }), ctx('1'));
    expect(await res.json()).toEqual({ c: 'cus_async' });
    await dripMeter(opts).flush(5_000);
    api.expectUsage({ customerId: 'cus_async', meter: 'api_calls', quantity: 1 });
  });

  it('answers before delivery and hands the delivery to waitUntil', async () => {
    const pending: Promise<unknown>[] = [];
    const opts = options({ waitUntil: (p) => pending.push(p) });
    const GET = withDrip(async () => Response.json({ fast: true }), opts);
    const res = await GET(get('/api/items/1', 'cus_w'), ctx('1'));
    expect(await res.json()).toEqual({ fast: true });
    expect(pending).toHaveLength(1);
    await Promise.all(pending);
    await dripMeter(opts).flush(5_000);
    api.expectUsage({ customerId: 'cus_w', meter: 'api_calls', quantity: 1 });
  });

  it('meters a streamed body when the stream ends, not when the handler returns', async () => {
    const opts = options();
    let push: (chunk: string) => void = () => {};
    let end: () => void = () => {};
    const GET = withDrip(async () => {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          const enc = new TextEncoder();
          push = (chunk) => controller.enqueue(enc.encode(chunk));
          end = () => controller.close();
        },
      });
      return new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
    }, opts);
    const res = await GET(get('/api/stream', 'cus_s'), {});
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    push('data: 1\n\n');
    const reading = res.text();
    await dripMeter(opts).flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_s' })).toBe(0);
    push('data: 2\n\n');
    end();
    expect(await reading).toBe('data: 1\n\ndata: 2\n\n');
    await dripMeter(opts).flush(5_000);
    api.expectUsage({ customerId: 'cus_s', meter: 'api_calls', quantity: 1 });
    api.expectRun({ customerId: 'cus_s', status: 'COMPLETED' });
  });

  it('records a cancelled stream as aborted (not billed, run not completed)', async () => {
    const opts = options();
    const GET = withDrip(
      async () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              controller.enqueue(new TextEncoder().encode('tick\n'));
            },
          }),
        ),
      opts,
    );
    const res = await GET(get('/api/stream', 'cus_c'), {});
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel('client went away');
    await dripMeter(opts).flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_c' })).toBe(0);
    const run = api.expectRun({ customerId: 'cus_c' });
    expect(run.status).toBe('CANCELLED');
  });

  it('rethrows handler errors unchanged and records a failed run without billing', async () => {
    const opts = options();
    const boom = new TypeError('boom');
    const GET = withDrip(async () => {
      throw boom;
    }, opts);
    await expect(GET(get('/api/fail', 'cus_f'), {})).rejects.toBe(boom);
    await dripMeter(opts).flush(5_000);
    expect(api.totalUsage({ customerId: 'cus_f' })).toBe(0);
    api.expectRun({ customerId: 'cus_f', status: 'FAILED' });
  });

  it("passes Next's redirect() and notFound() through untouched", async () => {
    const opts = options();
    let thrown: unknown;
    const GET = withDrip(async (req: Request) => {
      try {
        if (req.url.endsWith('/old')) redirect('/new');
        notFound();
      } catch (error) {
        thrown = error;
        throw error;
      }
    }, opts);
    const redirected = await GET(get('/old', 'cus_n'), {}).catch((e: unknown) => e);
    expect(redirected).toBe(thrown);
    expect(String((redirected as { digest?: string }).digest)).toMatch(/^NEXT_REDIRECT/);
    const missing = await GET(get('/missing', 'cus_n'), {}).catch((e: unknown) => e);
    expect(missing).toBe(thrown);
    await dripMeter(opts).flush(5_000);
    // A redirect is a completed request; neither is a handler failure.
    const runs = api.runs.filter((r) => r.customerId === 'cus_n');
    expect(runs).toHaveLength(2);
    expect(
      runs.some((r) => r.status === 'FAILED' && r.errorCode !== undefined && r.errorCode !== 'HTTP_404'),
    ).toBe(false);
  });

  it('runs the handler unmetered when no customer is identified (default policy)', async () => {
    const opts = options();
    let seen: unknown = 'unset';
    const GET = withDrip(async (_req: Request, _ctx: unknown, drip) => {
      seen = drip;
      return new Response('anonymous');
    }, opts);
    const res = await GET(get('/api/items/1'), {});
    expect(await res.text()).toBe('anonymous');
    expect(seen).toBeUndefined();
    await dripMeter(opts).flush(5_000);
    expect(api.usage).toHaveLength(0);
    expect(api.runs).toHaveLength(0);
  });

  it("answers with the pipeline's response under the reject policy, without calling the handler", async () => {
    const opts = options({ unidentified: 'reject' });
    let called = false;
    const GET = withDrip(async () => {
      called = true;
      return new Response('no');
    }, opts);
    const res = await GET(get('/api/items/1'), {});
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toMatchObject({ code: 'CUSTOMER_REQUIRED' });
    expect(called).toBe(false);
  });

  it('never fails the request when the API is unreachable', async () => {
    const opts = options();
    api.down();
    const GET = withDrip(async () => Response.json({ up: true }), opts);
    const res = await GET(get('/api/items/1', 'cus_d'), ctx('1'));
    expect(await res.json()).toEqual({ up: true });
    api.up();
    await dripMeter(opts).flush(10_000);
    api.expectUsage({ customerId: 'cus_d', meter: 'api_calls', quantity: 1 });
  });

  it('keeps requests working when the customer resolver throws', async () => {
    const opts = options({
      customer: () => {
        throw new Error('resolver down');
      },
    });
    const GET = withDrip(async () => new Response('still here'), opts);
    const res = await GET(get('/api/items/1', 'cus_x'), ctx('1'));
    expect(await res.text()).toBe('still here');
  });
});
