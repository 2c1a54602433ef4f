import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Drip } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addExtra,
  extraBeforeReturn,
  extraOf,
  FIRST_CHUNK,
  OUTCOME_CASES,
  type OutcomeKind,
  outcomeProblems,
  runArrived,
  until,
  webBody,
} from '../../../tests/outcome-suite/cases';
import { sendOverSocket } from '../../../tests/outcome-suite/node-client';
import { sendWeb } from '../../../tests/outcome-suite/web-client';
import {
  type DripNextOptions,
  type DripPagesOptions,
  dripMeter,
  withDrip,
  withDripPages,
} from '../src/index';

type OutcomeContext = { params: Promise<{ kind: string }> };

const api = createTestDrip();
const options: DripNextOptions = {
  client: new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch }),
  customer: (req) => req.headers.get('x-customer-id') ?? undefined,
  logger: { warn: () => {} },
  // Deliver at once: each case waits for its run to arrive.
  outbox: { shutdownHooks: false, flushIntervalMs: 1 },
};

/** `app/outcome/[kind]/route.ts` of the outcome suite. */
const GET = withDrip(async (req: Request, { params }: OutcomeContext, drip) => {
  const kind = (await params).kind as OutcomeKind;
  const extra = extraOf(req.url);
  if (extraBeforeReturn(kind)) addExtra(drip, extra);
  switch (kind) {
    case 'completed':
      return Response.json({ ok: true });
    case 'client-error':
      return Response.json({ error: 'bad input' }, { status: 400 });
    case 'server-error':
      return Response.json({ error: 'upstream down' }, { status: 503 });
    case 'thrown':
      throw new Error('boom');
    case 'aborted-mid-body':
      return new Response(webBody(kind, drip, extra), { headers: { 'content-type': 'text/plain' } });
    default:
      return new Response(webBody(kind, drip, extra), { headers: { 'content-type': 'text/event-stream' } });
  }
}, options);

/** Calls the route handler as Next does (`new Request()`, params from the path); a throw is Next's 500. */
async function next(req: Request): Promise<Response> {
  const kind = new URL(req.url).pathname.split('/')[2] ?? '';
  try {
    return await GET(req, { params: Promise.resolve({ kind }) });
  } catch {
    return new Response('Internal Server Error', { status: 500 });
  }
}

describe('shared outcome suite on Next route handlers (new Request())', () => {
  afterAll(() => dripMeter(options).close(2_000));

  it.each(OUTCOME_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const status = await sendWeb(next, 'http://app.test', c);
    await until(() => runArrived(c, api), `the run of ${c.name}`);
    await dripMeter(options).flush(5_000);
    expect(outcomeProblems(c, api, status)).toEqual([]);
  });
});

/** What Next's API resolver hands a Pages API route: Node's request and response with its helpers. */
type PagesReq = IncomingMessage & { query: Record<string, string | string[] | undefined> };
type PagesRes = ServerResponse & { status(code: number): PagesRes; json(body: unknown): void };

// Its own in-memory API: the cases' customers are the same as the route handlers' above.
const pagesApi = createTestDrip();
const pagesOptions: DripPagesOptions<PagesReq> = {
  client: new Drip({ apiKey: pagesApi.apiKey, baseUrl: pagesApi.baseUrl, fetch: pagesApi.fetch }),
  customer: (req) => req.headers['x-customer-id'] as string | undefined,
  logger: { warn: () => {} },
  outbox: { shutdownHooks: false, flushIntervalMs: 1 },
};

/** `pages/api/outcome/[kind].ts` of the outcome suite. */
const pagesRoute = withDripPages(async (req: PagesReq, res: PagesRes, drip) => {
  const kind = req.query.kind as OutcomeKind;
  const extra = extraOf(req.url ?? '');
  if (extraBeforeReturn(kind)) addExtra(drip, extra);
  switch (kind) {
    case 'completed':
      return res.status(200).json({ ok: true });
    case 'client-error':
      return res.status(400).json({ error: 'bad input' });
    case 'server-error':
      return res.status(503).json({ error: 'upstream down' });
    case 'thrown':
      throw new Error('boom');
    case 'aborted-mid-body':
      res.setHeader('content-type', 'text/plain');
      res.write(FIRST_CHUNK);
      // Open until the client leaves.
      return new Promise<void>((resolve) => res.once('close', resolve));
    default:
      res.setHeader('content-type', 'text/event-stream');
      // A client that leaves closes the response, which cancels the body (pipeline's teardown).
      return pipeline(
        Readable.fromWeb(webBody(kind, drip, extra) as NodeReadableStream<Uint8Array>),
        res,
      ).catch(() => {});
  }
}, pagesOptions);

/**
 * A Node server that calls the route as Next's API resolver does: `req.query` holds the query string and
 * the dynamic `[kind]` param, `res` has `status()` and `json()`, and an error the route throws is a 500.
 */
function pagesServer(): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://app.test');
    const kind = url.pathname.split('/')[2] ?? '';
    const query = { ...Object.fromEntries(url.searchParams), kind };
    const apiReq = Object.assign(req, { query }) as PagesReq;
    const apiRes = Object.assign(res, {
      status: (code: number) => {
        res.statusCode = code;
        return apiRes;
      },
      json: (body: unknown) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      },
    }) as PagesRes;
    pagesRoute(apiReq, apiRes).catch(() => {
      if (!res.headersSent) res.statusCode = 500;
      res.end('Internal Server Error');
    });
  });
}

describe('shared outcome suite on Next Pages API routes (withDripPages on a real socket)', () => {
  const server = pagesServer();
  let port = 0;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await dripMeter(pagesOptions).close(2_000);
  });

  it.each(OUTCOME_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const status = await sendOverSocket(port, c);
    await until(() => runArrived(c, pagesApi), `the run of ${c.name}`);
    await dripMeter(pagesOptions).flush(5_000);
    expect(outcomeProblems(c, pagesApi, status)).toEqual([]);
  });
});
