import { Drip } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addExtra,
  extraBeforeReturn,
  extraOf,
  OUTCOME_CASES,
  type OutcomeKind,
  outcomeProblems,
  runArrived,
  until,
  webBody,
} from '../../../tests/outcome-suite/cases';
import { sendWeb } from '../../../tests/outcome-suite/web-client';
import { type DripNextOptions, dripMeter, withDrip } from '../src/index';

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
