import { retryAfterFromBody } from '../retry';
import { healthUrlFor } from '../transport';
import type { ClientLike, DeliveryResponse, DeliveryTransport } from './types';

interface ErrorShape {
  statusCode?: unknown;
  code?: unknown;
  data?: unknown;
  retryAfterMs?: unknown;
  message?: unknown;
}

/** A client error (a `DripError` or anything thrown) as a delivery answer; network failures are status 0. */
export function toDeliveryResponse(err: unknown): DeliveryResponse {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorShape;
  const status = typeof e.statusCode === 'number' ? e.statusCode : 0;
  const retryAfterMs = typeof e.retryAfterMs === 'number' ? e.retryAfterMs : retryAfterFromBody(e.data);
  return {
    status,
    body: e.data,
    code: typeof e.code === 'string' ? e.code : status === 0 ? 'NETWORK_ERROR' : undefined,
    retryAfterMs,
    message: typeof e.message === 'string' ? e.message : String(err),
  };
}

/**
 * A {@link DeliveryTransport} over a `Drip` client's single transport. Every call is one HTTP attempt
 * (`maxAttempts: 1`): retries belong to the outbox (spec §7.1, outbox row), never a second layer.
 *
 * @example
 * ```ts
 * import { Drip, createClientTransport, createOutbox } from '@drip/core';
 * const outbox = createOutbox({ transport: createClientTransport(new Drip({ apiKey })) });
 * ```
 */
export function createClientTransport(client: ClientLike): DeliveryTransport {
  // A failure becomes a response: the outbox decides what to retry.
  const call = async (
    method: string,
    path: string,
    options: Parameters<ClientLike['request']>[2],
  ): Promise<DeliveryResponse> => {
    try {
      const r = await client.request<unknown>(method, path, options);
      return { status: r.status, body: r.data };
    } catch (err) {
      return toDeliveryResponse(err);
    }
  };
  return {
    post: (path, body, { timeoutMs }) =>
      call('POST', path, { body, maxAttempts: 1, timeoutMs, deadlineMs: timeoutMs + 1_000, retrySafe: true }),
    async health({ timeoutMs }) {
      const url =
        typeof client.healthUrl === 'string'
          ? client.healthUrl
          : typeof client.baseUrl === 'string'
            ? healthUrlFor(client.baseUrl)
            : undefined;
      if (url === undefined) return { status: 404, body: undefined, code: 'ROUTE_NOT_FOUND' };
      return call('GET', url, { maxAttempts: 1, timeoutMs, deadlineMs: timeoutMs + 1_000 });
    },
  };
}
