/** The app under test: a request meter of `@drip/core` as an adapter drives it, one metered request per call. */
import { Drip, type RequestMeter, createFileOutboxStore, createRequestMeter } from '@drip/core/node';

/** One combination of options (what the property test varies). */
export interface AppOptions {
  aggregate: boolean;
  header: boolean;
  store: 'memory' | 'file';
  overflow: 'drop-oldest' | 'drop-newest' | 'spill';
  asyncContext: boolean;
}

export interface Wiring {
  apiKey: string;
  /** Origin of the API as the app sees it (the fault proxy). */
  url: string;
  customerId: string;
  /** Directory of the file store. */
  dir: string;
}

export interface Req {
  headers: Record<string, string>;
}

export function buildMeter(o: AppOptions, w: Wiring): RequestMeter<Req> {
  const client = new Drip({ apiKey: w.apiKey, baseUrl: w.url, maxAttempts: 1 });
  return createRequestMeter<Req>({
    client,
    customer: () => w.customerId,
    idempotencyHeader: o.header ? 'Idempotency-Key' : undefined,
    asyncContext: o.asyncContext,
    logger: { warn: () => {} },
    outbox: {
      aggregate: o.aggregate ? { windowMs: 20 } : false,
      store: o.store === 'file' ? createFileOutboxStore({ dir: w.dir, fsync: 'none' }) : undefined,
      overflow: o.overflow,
      // Small enough that `spill` really spills; the drop modes keep the default bound (nothing to drop).
      maxRecords: o.overflow === 'spill' ? 8 : 10_000,
      flushIntervalMs: 5,
      backoffBaseMs: 5,
      backoffCapMs: 40,
      timeoutMs: 5_000,
      shutdownHooks: false,
    },
  });
}

/**
 * Serves request `i` of a run: the client's `Idempotency-Key` is `<prefix>-<i>` (sent only with the
 * header option), so a client's retry of the same request carries the same key.
 */
export function serve(meter: RequestMeter<Req>, prefix: string, i: number): void {
  const req: Req = { headers: { 'idempotency-key': `${prefix}-${i}` } };
  const begun = meter.begin({
    method: 'POST',
    path: '/chat',
    route: '/chat',
    header: (name) => req.headers[name.toLowerCase()],
    raw: req,
  });
  if ('then' in begun || begun.kind !== 'continue') throw new Error('the request was not metered');
  begun.handle.run(() => undefined);
  begun.handle.finish({ status: 200, route: '/chat' });
}

/** Serves every request of a plan (with the client's retries right after the first attempt). */
export function serveAll(meter: RequestMeter<Req>, prefix: string, retried: readonly boolean[]): void {
  retried.forEach((again, i) => {
    serve(meter, prefix, i);
    if (again) serve(meter, prefix, i);
  });
}
