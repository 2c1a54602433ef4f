/**
 * Request scope for deep code: `getDripContext()` / `getCurrentRun()`. Uses an `AsyncLocalStorage`
 * registered by `@drip/core/node` (or found lazily through `process.getBuiltinModule` on runtimes that have
 * it, or as a global `AsyncLocalStorage` as on Next.js's Edge runtime, when the first request meter is created); without one, the context is only passed explicitly.
 * Nothing is looked up at import.
 */

import type { DripRequestContext, DripRunContext } from './types';

/**
 * What the pipeline needs from a context store; `AsyncLocalStorage` satisfies it.
 *
 * @example
 * ```ts
 * import { AsyncLocalStorage } from 'node:async_hooks';
 * setDripContextStorage(new AsyncLocalStorage<DripRequestContext>());
 * ```
 */
export interface DripContextStorage {
  run<T>(store: DripRequestContext, fn: () => T): T;
  getStore(): DripRequestContext | undefined;
}

interface Slot {
  storage: DripContextStorage | undefined;
  probed: boolean;
}

const KEY = Symbol.for('drip.contextStorage');

/** The process-wide slot once found (it is only ever mutated, never replaced): no lookup per request. */
let found: Slot | undefined;

function slot(): Slot {
  if (found !== undefined) return found;
  const g = globalThis as unknown as Record<symbol, Slot | undefined>;
  let s = g[KEY];
  if (!s) {
    s = { storage: undefined, probed: false };
    Object.defineProperty(globalThis, KEY, { value: s, configurable: true, writable: true });
  }
  found = s;
  return s;
}

/**
 * Registers the store used by `handle.run(fn)` and read by `getDripContext()` (process-wide, shared by
 * every copy of the package). `@drip/core/node` calls it with an `AsyncLocalStorage` when loaded.
 *
 * @example
 * ```ts
 * import { AsyncLocalStorage } from 'node:async_hooks';
 * import { setDripContextStorage } from '@drip/core';
 * setDripContextStorage(new AsyncLocalStorage());
 * ```
 */
export function setDripContextStorage(storage: DripContextStorage | undefined): void {
  const s = slot();
  s.storage = storage;
  s.probed = true;
}

/** The registered store; on first call, tries the runtime's built-in `AsyncLocalStorage`. */
export function contextStorage(): DripContextStorage | undefined {
  const s = slot();
  if (!s.probed) {
    s.probed = true;
    try {
      const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
      const mod = p?.getBuiltinModule?.('node:async_hooks') as
        | { AsyncLocalStorage?: new () => DripContextStorage }
        | undefined;
      if (mod?.AsyncLocalStorage) s.storage = new mod.AsyncLocalStorage();
    } catch {
      // No async context on this runtime: the context is passed explicitly.
    }
    // Next.js's Edge runtime (and Workers with `nodejs_als`) expose the class as a global instead.
    const Global = (globalThis as { AsyncLocalStorage?: new () => DripContextStorage }).AsyncLocalStorage;
    if (!s.storage && typeof Global === 'function') {
      try {
        s.storage = new Global();
      } catch {
        // Not constructible here: the context is passed explicitly.
      }
    }
  }
  return s.storage;
}

/**
 * The request context of the request being handled, from anywhere in its async call tree (where an
 * `AsyncLocalStorage` is available; see `@drip/core/node`). `undefined` outside a metered request.
 *
 * @example
 * ```ts
 * import { getDripContext } from '@drip/core';
 * export async function callModel(prompt: string) {
 *   getDripContext()?.usage('llm_calls', 1);
 * }
 * ```
 */
export function getDripContext(): DripRequestContext | undefined {
  return slot().storage?.getStore();
}

/**
 * The run of the request being handled (see {@link getDripContext}).
 *
 * @example
 * ```ts
 * import { getCurrentRun } from '@drip/core';
 * getCurrentRun()?.event({ eventType: 'tool.call', name: 'web-search', duration: 1500 });
 * ```
 */
export function getCurrentRun(): DripRunContext | undefined {
  return slot().storage?.getStore()?.run;
}
