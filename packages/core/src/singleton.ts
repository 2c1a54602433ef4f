/**
 * The lazy `drip` singleton: built from the environment (`DRIP_API_KEY`, `DRIP_API_URL`, `DRIP_BASE_URL`)
 * on first use, never at import. Stored on `globalThis[Symbol.for('drip.client')]` so ESM and CJS copies
 * in one process share it.
 */

import { Drip } from './client';

const CLIENT_KEY = /* @__PURE__ */ Symbol.for('drip.client');

/**
 * The shared client, created on first call.
 *
 * @example
 * ```ts
 * import { getDrip } from '@drip/core';
 * await getDrip().trackUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
 * ```
 */
export function getDrip(): Drip {
  const g = globalThis as unknown as Record<symbol, Drip | undefined>;
  let client = g[CLIENT_KEY];
  if (!client) {
    client = new Drip();
    Object.defineProperty(globalThis, CLIENT_KEY, { value: client, configurable: true, writable: true });
  }
  return client;
}

/**
 * Forgets the shared client (tests; after changing the environment).
 *
 * @example
 * ```ts
 * resetDrip();
 * ```
 */
export function resetDrip(): void {
  const g = globalThis as unknown as Record<symbol, Drip | undefined>;
  if (g[CLIENT_KEY]) g[CLIENT_KEY] = undefined;
}

/**
 * The lazy singleton: every property access goes to {@link getDrip}, so a missing key throws
 * `CONFIGURATION_ERROR` on first use, not at import.
 *
 * @example
 * ```ts
 * import { drip } from '@drip/core';
 * await drip.trackUsage({ customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
 * ```
 */
export const drip: Drip = /* @__PURE__ */ new Proxy({} as Drip, {
  get(_target, prop) {
    const client = getDrip();
    const value = Reflect.get(client, prop, client) as unknown;
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(client) : value;
  },
  has(_target, prop) {
    return Reflect.has(getDrip(), prop);
  },
});
