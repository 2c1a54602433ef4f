import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Drip, type DripRequestContext } from '@drip/core';
import { createTestDrip } from '@drip/testing';
import {
  Controller,
  Get,
  type INestApplication,
  Param,
  Req,
  Res,
  StreamableFile,
  UseInterceptors,
} from '@nestjs/common';

/** The part of the request the handler uses: Express's and Fastify's requests both have `originalUrl`. */
interface PlatformRequest {
  originalUrl: string;
}
/**
 * The parts of the response the handler uses: Express's response and Fastify's reply both set the status
 * and type; a body written before the handler returns goes through Express's `write` or Fastify's `raw`.
 */
interface PlatformResponse {
  status(code: number): PlatformResponse;
  type(contentType: string): PlatformResponse;
  write?(chunk: string): boolean;
  raw?: {
    writeHead(status: number, headers: Record<string, string>): unknown;
    write(chunk: string): boolean;
  };
}

/** Sends the status, a text type and the first body chunk, leaving the response open (either platform). */
function writeFirstChunk(res: PlatformResponse): void {
  if (res.raw) {
    res.raw.writeHead(200, { 'content-type': 'text/plain' });
    res.raw.write(suite.FIRST_CHUNK);
    return;
  }
  res.status(200).type('text/plain');
  res.write?.(suite.FIRST_CHUNK);
}
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as suite from '../../../tests/outcome-suite/cases';
import { sendOverSocket } from '../../../tests/outcome-suite/node-client';
import { DripInterceptor, DripModule, DripRun } from '../src/index';
import { boot, meterOf, type Platform } from './fixtures';

/** A promise that never settles: the response stays open until the client leaves. */
const OPEN = new Promise<never>(() => {});

@Controller('outcome')
@UseInterceptors(DripInterceptor)
class OutcomeController {
  @Get(':kind')
  handle(
    @Param('kind') kind: suite.OutcomeKind,
    @Req() req: PlatformRequest,
    @Res({ passthrough: true }) res: PlatformResponse,
    @DripRun() drip?: DripRequestContext,
  ): unknown {
    const extra = suite.extraOf(req.originalUrl);
    if (suite.extraBeforeReturn(kind)) suite.addExtra(drip, extra);
    switch (kind) {
      case 'completed':
        return { ok: true };
      case 'client-error':
        res.status(400);
        return { error: 'bad input' };
      case 'server-error':
        res.status(503);
        return { error: 'upstream down' };
      case 'thrown':
        throw new Error('boom');
      case 'aborted-mid-body':
        writeFirstChunk(res);
        return OPEN;
      case 'streamed-completed':
        return new StreamableFile(
          Readable.from(
            (async function* () {
              for (let i = 0; i < suite.STREAM_CHUNKS.length; i++) {
                if (i === 1) suite.addExtra(drip, extra);
                yield suite.STREAM_CHUNKS[i] as string;
              }
            })(),
          ),
        );
      case 'streamed-cancelled':
        return new StreamableFile(
          Readable.from(
            (async function* () {
              suite.addExtra(drip, extra);
              yield suite.FIRST_CHUNK;
              await OPEN;
            })(),
          ),
        );
    }
    return { unknown: kind };
  }
}

describe.each<Platform>(['express', 'fastify'])(
  'shared outcome suite on Nest (a real app on %s, supertest and a real socket)',
  (platform) => {
    const api = createTestDrip();
    let app: INestApplication;
    let port: number;

    beforeAll(async () => {
      const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch });
      app = await boot(
        platform,
        DripModule.forRoot({
          client,
          customer: (req) => req.headers['x-customer-id'] as string | undefined,
          logger: { warn: () => {} },
          // Deliver at once: each case waits for its run to arrive.
          outbox: { shutdownHooks: false, flushIntervalMs: 1 },
        }),
        [OutcomeController],
      );
      await app.listen(0, '127.0.0.1');
      port = (app.getHttpServer().address() as AddressInfo).port;
    });

    afterAll(async () => {
      app.getHttpServer().closeAllConnections();
      await app.close();
    });

    it.each(suite.OUTCOME_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      let status: number;
      if (c.clientLeaves) status = await sendOverSocket(port, c);
      else
        status = (
          await supertest(app.getHttpServer()).get(suite.pathOf(c)).set('x-customer-id', suite.customerOf(c))
        ).status;
      await suite.until(() => suite.runArrived(c, api), `the run of ${c.name}`);
      await meterOf(app).flush(5_000);
      expect(suite.outcomeProblems(c, api, status)).toEqual([]);
    });
  },
);
