/**
 * `@drip/core/node`: everything of `@drip/core` plus the Node-only parts: the file-backed outbox store
 * and `AsyncLocalStorage` request scope (registered when this entry is loaded, so `getCurrentRun()` and
 * `getDripContext()` work from deep code). Signal hooks (flush on SIGTERM/SIGINT/beforeExit) are
 * installed by the outbox itself on its first record wherever a `process` exists.
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { sep } from 'node:path';
import { type NodeFetchOptions, type NodeHttpModule, nodeFetchFrom, registerNodeFetch } from './node-fetch';
import { registerSpillPlatform, type SpillFs } from './outbox/spill-dir';
import type { FetchLike } from './transport';
import { contextStorage, type DripContextStorage, setDripContextStorage } from './pipeline/context-storage';

export * from './index';
export { createFileOutboxStore } from './outbox/file-store';
export type { FileOutboxStore, FileOutboxStoreOptions } from './outbox/file-store';
export type { NodeFetchOptions } from './node-fetch';

/**
 * A `fetch` over Node's `http`/`https` modules with keep-alive agents: what clients created without
 * `fetch` already use on Node. Build your own to size the connection pool.
 *
 * @example
 * ```ts
 * import { Drip, createNodeFetch } from '@drip/core/node';
 * const client = new Drip({ fetch: createNodeFetch({ maxSockets: 4 }) });
 * ```
 */
export function createNodeFetch(options?: NodeFetchOptions): FetchLike {
  return nodeFetchFrom(http as unknown as NodeHttpModule, https as unknown as NodeHttpModule, options);
}

// Clients created without `fetch` use Node's http modules (also on Node versions without
// process.getBuiltinModule, where the default entry cannot find them itself).
registerNodeFetch(createNodeFetch());

// The outbox's overflow directory (records past the memory bound wait on disk during an API outage),
// also on Node versions without process.getBuiltinModule.
registerSpillPlatform({ fs: fs as unknown as SpillFs, tmpdir, sep });

/**
 * A fresh `AsyncLocalStorage`-backed context store. This entry registers one when loaded; call
 * `setDripContextStorage(createNodeContextStorage())` only to reset it.
 *
 * @example
 * ```ts
 * import { createNodeContextStorage, setDripContextStorage } from '@drip/core/node';
 * // In a test, start from an empty request scope:
 * setDripContextStorage(createNodeContextStorage());
 * ```
 */
export function createNodeContextStorage(): DripContextStorage {
  return new AsyncLocalStorage() as unknown as DripContextStorage;
}

// Keep a store that is already registered (or found through process.getBuiltinModule) so contexts that
// are running stay visible.
if (contextStorage() === undefined) setDripContextStorage(createNodeContextStorage());
