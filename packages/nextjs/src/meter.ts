import { createRequestMeter, type RequestMeter, type RequestMeterOptions } from '@drip/core';
import { VERSION } from './version';

const meters = new WeakMap<object, RequestMeter>();
const DEFAULTS = {};

/**
 * One request meter per options object (`withDrip` and `withDripPages` share it), created on first use (no client, timer or environment read at
 * import time). Route files that share an options object share one meter, one client and one outbox;
 * `withDrip(handler)` without options shares the default meter (configured from `DRIP_API_KEY`).
 */
export function meterFor<Req>(options: object | undefined, sdkName: string): RequestMeter {
  const key = options ?? DEFAULTS;
  let meter = meters.get(key);
  if (meter === undefined) {
    const { route: _route, waitUntil: _waitUntil, ...pipeline } = key as Record<string, unknown>;
    meter = createRequestMeter<Req>({
      ...pipeline,
      sdk: { name: sdkName, version: VERSION },
    } as RequestMeterOptions<Req>) as RequestMeter;
    meters.set(key, meter);
  }
  return meter;
}

/**
 * The request meter behind every `withDrip` / `withDripPages` handler created with this
 * options object (or without options), for `flush()` before a short-lived process exits, `close()` at
 * shutdown and `stats()` in a health route. Created on first use.
 *
 * @example
 * ```ts
 * import { dripMeter } from '@drip/nextjs';
 * import { dripOptions } from './drip-options';
 * export const GET = () => Response.json(dripMeter(dripOptions).stats());
 * ```
 */
export function dripMeter(options?: object): RequestMeter {
  return meterFor(options, '@drip/nextjs');
}

/** Path of an absolute or relative URL, without query or fragment, without allocating a `URL`. */
export function pathOf(url: string): string {
  let start = 0;
  const scheme = url.indexOf('://');
  if (scheme !== -1) {
    const slash = url.indexOf('/', scheme + 3);
    if (slash === -1) return '/';
    start = slash;
  }
  let end = url.length;
  const q = url.indexOf('?', start);
  if (q !== -1) end = q;
  const h = url.indexOf('#', start);
  if (h !== -1 && h < end) end = h;
  return url.slice(start, end) || '/';
}
