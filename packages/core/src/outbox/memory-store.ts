import type { OutboxRecord, OutboxStore } from './types';

/**
 * A memory store that outlives one outbox: records that one outbox accepted and did not deliver are
 * loaded by the next outbox given the same store (in the same process). Useful in tests that simulate a
 * crash and a restart, and as the reference implementation of {@link OutboxStore} (with spill support).
 * The outbox without any store keeps records in its own queue only.
 *
 * @example
 * ```ts
 * const store = createMemoryOutboxStore();
 * const first = createOutbox({ client, store });
 * first.enqueue({ type: 'usage', customerId: 'cus_1', meter: 'api_calls', quantity: 1 });
 * // ...first is abandoned without delivering...
 * const second = createOutbox({ client, store }); // delivers it
 * ```
 */
export function createMemoryOutboxStore(): OutboxStore & { size(): number } {
  const live = new Map<number, OutboxRecord>();
  const spilled: OutboxRecord[] = [];
  const copy = (r: OutboxRecord): OutboxRecord => structuredClone(r);
  return {
    durable: true,
    async load() {
      return [...live.values()].sort((a, b) => a.id - b.id).map(copy);
    },
    async append(put, deleted) {
      for (const r of put) live.set(r.id, copy(r));
      for (const id of deleted) live.delete(id);
    },
    async spill(records) {
      for (const r of records) spilled.push(copy(r));
    },
    async unspill(max) {
      return spilled.splice(0, Math.max(0, max));
    },
    spilledCount: () => spilled.length,
    size: () => live.size,
  };
}
