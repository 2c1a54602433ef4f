import { getDripContext } from '@drip/nextjs';

/**
 * The agent's "web-search" tool. It records its own `tool.call` event on the request's run from deep
 * code, through `getDripContext()` (the request scope works on the Node and the Edge runtime).
 */
export function recordWebSearch(durationMs: number): void {
  getDripContext()?.run.event({ eventType: 'tool.call', name: 'web-search', duration: durationMs });
}
