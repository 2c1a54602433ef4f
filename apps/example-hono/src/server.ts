import type { AddressInfo } from 'node:net';
import { Drip } from '@drip/core';
import { serve } from '@hono/node-server';
import { createApp, USERS } from './app';

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
  /** Stops accepting requests, delivers what is queued, and stops. */
  close(): Promise<void>;
}

/**
 * Resolves each user's Drip customer (external id = user name), then serves the app on Node with
 * `@hono/node-server`. Customers are resolved once at start-up, not on the request path.
 */
export async function startExample(options: StartOptions): Promise<RunningExample> {
  const client = new Drip({ apiKey: options.apiKey, baseUrl: options.apiUrl });
  const customers: Record<string, string> = {};
  for (const user of USERS) {
    const customer = await client.getOrCreateCustomer(user);
    customers[user] = customer.id;
  }
  const { app, metering } = createApp({ customers, drip: { client } });
  const host = options.host ?? '127.0.0.1';
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>(
    (resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: host, port: options.port }, (info: AddressInfo) =>
        resolve({ server: s, port: info.port }),
      );
      s.once('error', reject);
    },
  );
  return {
    url: `http://${host}:${port}`,
    customers,
    flush: (timeoutMs) => metering.meter.flush(timeoutMs),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeIdleConnections' in server) server.closeIdleConnections();
      });
      await metering.meter.close(5_000);
    },
  };
}
