import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_CASES, outcomeProblems, runArrived, until } from '../../../tests/outcome-suite/cases';
import { sendOverSocket } from '../../../tests/outcome-suite/node-client';
import { sendWeb } from '../../../tests/outcome-suite/web-client';
import { outcomeSetup } from './fixtures/outcome-setup';

const cases = OUTCOME_CASES.map((c) => [c.name, c] as const);

describe('shared outcome suite on Hono, web path (app.request: what Workers, Bun and Deno run)', () => {
  const { api, app } = outcomeSetup();
  afterAll(() => app.metering.meter.close(2_000));

  it.each(cases)('%s', async (_name, c) => {
    const status = await sendWeb((req) => app.request(req), 'http://app.test', c);
    await until(() => runArrived(c, api), `the run of ${c.name}`);
    await app.metering.meter.flush(5_000);
    expect(outcomeProblems(c, api, status)).toEqual([]);
  });
});

describe('shared outcome suite on Hono, @hono/node-server (a real socket)', () => {
  const { api, app } = outcomeSetup();
  let server: ReturnType<typeof serve>;
  let port: number;

  beforeAll(async () => {
    port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) =>
        resolve(info.port),
      );
    });
  });

  afterAll(async () => {
    await app.metering.meter.close(2_000);
    await new Promise((resolve) => server.close(resolve));
  });

  it.each(cases)('%s', async (_name, c) => {
    const status = await sendOverSocket(port, c);
    await until(() => runArrived(c, api), `the run of ${c.name}`);
    await app.metering.meter.flush(5_000);
    expect(outcomeProblems(c, api, status)).toEqual([]);
  });
});
