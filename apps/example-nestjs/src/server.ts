import 'reflect-metadata';
import { Drip } from '@drip/core';
import { DRIP_REQUEST_METER } from '@drip/nestjs';
import type { RequestMeter } from '@drip/core';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { USERS } from './auth.guard';

export interface StartOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Drip API key (the local server prints one at start). */
  apiKey?: string | undefined;
  /** Drip API origin, e.g. `http://127.0.0.1:3001` (the local server). */
  apiUrl?: string | undefined;
}

export interface RunningExample {
  url: string;
  /** Drip customer id per user name, resolved at start-up. */
  customers: Readonly<Record<string, string>>;
  /** Delivers everything still queued (what a SIGTERM handler does). */
  flush(timeoutMs?: number): Promise<unknown>;
  /** Stops accepting requests, delivers what is queued (DripModule's shutdown hook), and stops. */
  close(): Promise<void>;
}

/**
 * Resolves each user's Drip customer (external id = user name), then serves the Nest app on the Express
 * platform. Customers are resolved once at start-up, not on the request path.
 */
export async function startExample(options: StartOptions): Promise<RunningExample> {
  const client = new Drip({ apiKey: options.apiKey, baseUrl: options.apiUrl });
  const customers: Record<string, string> = {};
  for (const user of USERS) {
    const customer = await client.getOrCreateCustomer(user);
    customers[user] = customer.id;
  }
  const app: INestApplication = await NestFactory.create(AppModule.register(customers, { client }), {
    logger: ['error', 'warn'],
  });
  const host = options.host ?? '127.0.0.1';
  await app.listen(options.port, host);
  const address = app.getHttpServer().address() as { port: number };
  const meter = app.get<RequestMeter>(DRIP_REQUEST_METER);
  return {
    url: `http://${host}:${address.port}`,
    customers,
    flush: (timeoutMs) => meter.flush(timeoutMs),
    close: () => app.close(),
  };
}
