import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDrip } from '@drip/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Drip } from '../src/client';
import { createFileOutboxStore } from '../src/outbox/file-store';
import { createOutbox } from '../src/outbox/outbox';
import type { OutboxRecord } from '../src/outbox/types';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'drip-store-'));
  dirs.push(d);
  return d;
}
const rec = (id: number): OutboxRecord => ({
  id,
  kind: 'usage',
  enqueuedAt: 1,
  attempts: 0,
  bytes: 100,
  body: { customerId: 'c', usageType: 'm', quantity: id, idempotencyKey: `k${id}` },
});

describe('file outbox store', () => {
  it('replays live records, ignores a torn last line, and keeps one process per directory', async () => {
    const dir = tempDir();
    const a = createFileOutboxStore({ dir, fsync: 'always' });
    expect(await a.load()).toEqual([]);
    await expect(createFileOutboxStore({ dir }).load()).rejects.toThrow(/in use/);
    await a.append([rec(1), rec(2), rec(3)], []);
    await a.append([], [2]);
    await a.close();
    appendFileSync(a.path, '{"p":[{"id":9,"kind":"usa'); // crash mid-write
    const b = createFileOutboxStore({ dir });
    expect((await b.load()).map((r) => r.id)).toEqual([1, 3]);
    await b.close();
  });

  it('compacts the log to the live records', async () => {
    const dir = tempDir();
    const s = createFileOutboxStore({ dir, compactBytes: 2_000, fsync: 'none' });
    await s.load();
    for (let i = 1; i <= 200; i++) {
      await s.append([rec(i)], i > 1 ? [i - 1] : []);
    }
    expect(statSync(s.path).size).toBeLessThan(4_000);
    await s.close();
    const again = createFileOutboxStore({ dir });
    expect((await again.load()).map((r) => r.id)).toEqual([200]);
    await again.close();
  });

  it('spills and takes records back in order across a restart', async () => {
    const dir = tempDir();
    const s = createFileOutboxStore({ dir });
    await s.load();
    await s.spill([rec(10), rec(11), rec(12)]);
    const back = await s.unspill(2);
    expect(back.map((r) => r.id)).toEqual([10, 11]);
    await s.append(back, []); // persists the cursor with the records
    await s.close();
    const t = createFileOutboxStore({ dir });
    expect((await t.load()).map((r) => r.id)).toEqual([10, 11]);
    expect(t.spilledCount()).toBe(1);
    expect((await t.unspill(5)).map((r) => r.id)).toEqual([12]);
    await t.close();
  });

  it('lets an outbox deliver what a previous one left, billing nothing twice', async () => {
    const dir = tempDir();
    const api = createTestDrip();
    const common = {
      shutdownHooks: false,
      flushIntervalMs: 1,
      backoffBaseMs: 1,
      backoffCapMs: 2,
      logger: { warn: () => {} },
    };
    // The first process never reaches the API (its own client cannot connect).
    const offline = new Drip({
      apiKey: api.apiKey,
      baseUrl: api.baseUrl,
      fetch: () => Promise.reject(new TypeError('fetch failed')),
      maxAttempts: 1,
    });
    const firstStore = createFileOutboxStore({ dir });
    const first = createOutbox({
      ...common,
      client: offline,
      store: firstStore,
      aggregate: { windowMs: 60_000 },
    });
    await first.ready();
    for (let i = 0; i < 30; i++)
      first.enqueue({ type: 'usage', customerId: 'cus_f', meter: 'api_calls', quantity: 1 });
    for (let i = 0; i < 5; i++)
      first.enqueue({ type: 'run', customerId: 'cus_f', workflow: 'w', status: 'COMPLETED' });
    await new Promise((r) => setTimeout(r, 20));
    expect(first.stats().sent).toBe(0);
    // Abandon `first` as a crash would: release its files without flushing.
    await firstStore.close();
    const client = new Drip({ apiKey: api.apiKey, baseUrl: api.baseUrl, fetch: api.fetch, maxAttempts: 1 });
    const second = createOutbox({ ...common, client, store: createFileOutboxStore({ dir }) });
    await second.ready();
    expect(second.stats().replayed).toBe(35);
    const r = await second.close(5_000);
    expect(r.delivered).toBe(true);
    api.expectUsage({ customerId: 'cus_f', quantity: 30, records: 1 });
    expect(api.runs).toHaveLength(5);
    expect(readFileSync(join(dir, 'outbox.log'), 'utf8').length).toBeGreaterThan(0);
  });
});
