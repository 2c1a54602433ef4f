// The variants the HTTP benchmark apps run in (bench/http-express-app.mjs, bench/http-hono-app.mjs), chosen by
// the app's first argument; anything else is `bare` (no metering).
//   drip        the adapter with a usage record and a run with one event per request, delivered to the local
//               Drip server (DRIP_API_URL / DRIP_API_KEY), default options.
//   meter-only  the same metering, but the client's fetch never answers: what the request path costs
//               (adapter + pipeline + enqueue) without delivery work in the app process.
//   no-scope    metering and delivery with the request scope off (`asyncContext: false`): shows what Node
//               20's AsyncLocalStorage (async hooks on every promise and tick) costs.
//   spill       metering and delivery with a file-backed outbox store and `overflow: 'spill'`: what the outbox
//               cannot hold in memory waits on disk instead of being dropped (the zero-loss configuration).
// Diagnostics of the in-process benchmark (bench/http-inject.mjs), all with the request scope off:
//   noop-mw     a middleware that only calls next(), no metering (what any middleware costs);
//   skip        the adapter mounted but every request unidentified and skipped (adapter + pipeline entry);
//   instant     full metering whose client's fetch answers at once without a network (instant-fetch.mjs).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Drip } from '@drip/core';

const MODES = ['drip', 'meter-only', 'no-scope', 'spill', 'noop-mw', 'skip', 'instant'];

/** The app's mode from its first argument. */
export function appMode(arg) {
  return MODES.includes(arg) ? arg : 'bare';
}

/** Whether the mode mounts the Drip adapter (`bare` and `noop-mw` do not). */
export function isMetered(mode) {
  return mode !== 'bare' && mode !== 'noop-mw';
}

/**
 * The adapter options of a metered mode: the client and the pipeline options, the same for every framework.
 * @param {string} mode
 * @param {string | undefined} customerId the customer every request is billed to
 */
export async function meteringOptions(mode, customerId) {
  const client = new Drip({
    apiKey: process.env.DRIP_API_KEY,
    baseUrl: process.env.DRIP_API_URL,
    ...(mode === 'meter-only' ? { fetch: () => new Promise(() => {}) } : {}),
    ...(mode === 'instant' ? { fetch: (await import('./instant-fetch.mjs')).instantFetch } : {}),
  });
  return {
    client,
    customer: mode === 'skip' ? () => undefined : () => customerId,
    ...(mode === 'skip' ? { unidentified: 'skip', logger: { warn() {}, error() {} } } : {}),
    ...(['no-scope', 'skip', 'instant'].includes(mode) ? { asyncContext: false } : {}),
    ...(mode === 'spill'
      ? {
          outbox: {
            store: (await import('@drip/core/node')).createFileOutboxStore({
              dir: mkdtempSync(join(tmpdir(), 'drip-bench-outbox-')),
            }),
            overflow: 'spill',
          },
        }
      : {}),
  };
}
