import * as nextServer from 'next/server';

/**
 * Hands a promise to the platform so the function instance stays alive until it settles.
 *
 * @example
 * ```ts
 * const waitUntil: WaitUntil = (promise) => ctx.waitUntil(promise);
 * export const GET = withDrip(handler, { waitUntil });
 * ```
 */
export type WaitUntil = (promise: Promise<unknown>) => void;

/** The per-request bridge between `RequestHandle.finish` and Next's `after()` / the platform's `waitUntil`. */
export interface Delivery {
  /** Passed to `finish`: receives the outbox's delivery promise. */
  readonly waitUntil: WaitUntil | undefined;
  /** Releases the registered callback when `finish` gave it nothing to wait for. */
  settle(): void;
  /**
   * True when Next's `after()` took the callback: it runs once the response is over (sent in full, or
   * the client left), so the request can end there without watching the body.
   */
  readonly afterResponse: boolean;
  /**
   * Passed to `finish`: whether the promise handed to `waitUntil` starts a send now (a platform that may
   * freeze the function after the response) or waits for the outbox's own schedule (a long-running server).
   */
  readonly flush: boolean;
}

const NONE: Delivery = { waitUntil: undefined, settle: () => {}, afterResponse: false, flush: true };

interface RequestContextStore {
  get?: () => { waitUntil?: WaitUntil } | undefined;
}

/** `waitUntil` of the hosting platform (Vercel and compatible runtimes publish it under this symbol). */
function platformWaitUntil(): WaitUntil | undefined {
  const store = (globalThis as Record<symbol, unknown>)[Symbol.for('@next/request-context')] as
    | RequestContextStore
    | undefined;
  const ctx = typeof store?.get === 'function' ? store.get() : undefined;
  return typeof ctx?.waitUntil === 'function' ? ctx.waitUntil.bind(ctx) : undefined;
}

/**
 * Registers, while still inside Next's request scope, one callback that lasts until the request's
 * records are handed to the outbox and delivered: `options.waitUntil` when given, else Next's `after()`
 * (Next 15+, App Router), else the platform's `waitUntil`. Nothing is awaited on the response path; when
 * none of them exists (a long-running `next start` server without `after()`), the outbox delivers in the
 * background on its own. Through `after()` on a long-running server (no platform `waitUntil`, which is how a
 * serverless platform supports `after()`), the callback waits for the records' delivery on the outbox's own
 * schedule, in batches, instead of starting a send per request: Next's shutdown still waits for it. `onResponseDone` runs when Next calls the `after()` callback, once the response
 * is over: a request whose body Next never read (a `HEAD` answered by a `GET` handler) ends there.
 */
export function deferDelivery(
  custom: WaitUntil | undefined,
  useAfter: boolean,
  onResponseDone?: () => void,
): Delivery {
  let resolve: (value: unknown) => void = () => {};
  const pending = new Promise<unknown>((r) => {
    resolve = r;
  });
  let registered = false;
  let afterResponse = false;
  let flush = true;
  if (custom) {
    custom(pending);
    registered = true;
  } else if (useAfter) {
    // Namespace access keeps older Next versions (no `after` export) working.
    const after = (nextServer as { after?: (task: () => Promise<unknown>) => void }).after;
    if (typeof after === 'function') {
      try {
        after(() => {
          onResponseDone?.();
          return pending;
        });
        registered = true;
        afterResponse = true;
        // No platform `waitUntil`: a long-running server (`next start`, a custom server), where the process
        // outlives the response and Next's shutdown waits for pending `after()` callbacks.
        flush = platformWaitUntil() !== undefined;
      } catch {
        // `after()` outside a request scope (unit tests, custom servers): fall through.
      }
    }
  }
  if (!registered) {
    const platform = platformWaitUntil();
    if (!platform) return NONE;
    platform(pending);
  }
  return {
    waitUntil: (promise) => resolve(promise),
    settle: () => resolve(undefined),
    afterResponse,
    flush,
  };
}
