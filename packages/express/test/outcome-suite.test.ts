import type { AddressInfo } from 'node:net';
import { Drip } from '@drip/core';
import { createTestDrip, type TestDrip } from '@drip/testing';
import express5, { type Request, type Response } from 'express';
import express4 from 'express4';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addExtra,
  customerOf,
  extraBeforeReturn,
  extraOf,
  FIRST_CHUNK,
  OUTCOME_CASES,
  type OutcomeKind,
  outcomeProblems,
  pathOf,
  runArrived,
  STREAM_CHUNKS,
  until,
} from '../../../tests/outcome-suite/cases';
import { sendOverSocket } from '../../../tests/outcome-suite/node-client';
import { dripErrorHandler, dripMiddleware } from '../src/index';

type ExpressFactory = typeof express5;

/** The outcome suite's handler in Express terms (writes to the Node response). */
function handler(req: Request, res: Response): void {
  const kind = req.params.kind as OutcomeKind;
  const extra = extraOf(req.originalUrl);
  if (extraBeforeReturn(kind)) addExtra(req.drip, extra);
  switch (kind) {
    case 'completed':
      res.json({ ok: true });
      return;
    case 'client-error':
      res.status(400).json({ error: 'bad input' });
      return;
    case 'server-error':
      res.status(503).json({ error: 'upstream down' });
      return;
    case 'thrown':
      throw new Error('boom');
    case 'aborted-mid-body':
      res.status(200).type('text/plain');
      res.write(FIRST_CHUNK); // and stays open until the client leaves
      return;
    case 'streamed-completed': {
      res.status(200).type('text/plain');
      let i = 0;
      const next = () => {
        if (i === 1) addExtra(req.drip, extra);
        const chunk = STREAM_CHUNKS[i++];
        if (chunk === undefined) res.end();
        else {
          res.write(chunk);
          setImmediate(next);
        }
      };
      next();
      return;
    }
    case 'streamed-cancelled':
      res.status(200).type('text/event-stream');
      res.write(FIRST_CHUNK);
      addExtra(req.drip, extra);
      return;
  }
}

describe.each([
  ['Express 5', express5],
  ['Express 4', express4 as unknown as ExpressFactory],
])('shared outcome suite on %s (supertest and a real socket)', (_label, express) => {
  let api: TestDrip;
  let metering: ReturnType<typeof dripMiddleware>;
  let server: ReturnType<ReturnType<ExpressFactory>['listen']>;
  let port: number;

  beforeAll(async () => {
    api = createTestDrip();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
    metering = dripMiddleware({
      client,
      customer: (req) => req.header('x-customer-id'),
      logger: { warn: () => {} },
      // Deliver at once: each case waits for its run to arrive.
      outbox: { shutdownHooks: false, flushIntervalMs: 1 },
    });
    const app = express();
    app.use(metering);
    app.get('/outcome/:kind', handler);
    app.use(dripErrorHandler());
    await new Promise<void>((resolve) => {
      server = app.listen(0, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await metering.meter.close(2_000);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each(OUTCOME_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    let status: number;
    if (c.clientLeaves) status = await sendOverSocket(port, c);
    else status = (await supertest(server).get(pathOf(c)).set('x-customer-id', customerOf(c))).status;
    await until(() => runArrived(c, api), `the run of ${c.name}`);
    await metering.meter.flush(5_000);
    expect(outcomeProblems(c, api, status)).toEqual([]);
  });
});
