import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Drip } from '../src/client';
import { createFileOutboxStore } from '../src/outbox/file-store';
import { createOutbox } from '../src/outbox/outbox';
import { FakeClock } from './helpers';
import { type LoopbackApi, startLoopbackApi } from './outbox-http';

const here = dirname(fileURLToPath(import.meta.url));
const child = join(here, 'fixtures', 'outbox-restart-child.ts');
const cleanup: Array<() => unknown> = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Runs the fixture; `keepZombie` leaves it under a parent that never reaps it (`sh` exec'd into `sleep`). */
function start(env: Record<string, string>, keepZombie = false) {
  const node = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(child)}`;
  const proc = keepZombie
    ? spawn('sh', ['-c', `${node} & exec sleep 60`], {
        cwd: join(here, '..'),
        env: { ...process.env, ...env },
      })
    : spawn(process.execPath, ['--import', 'tsx', child], {
        cwd: join(here, '..'),
        env: { ...process.env, ...env },
      });
  cleanup.push(() => proc.kill('SIGKILL'));
  let buf = '';
  let err = '';
  const lines: string[] = [];
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  });
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const waitFor = async (prefix: string, timeoutMs = 30_000): Promise<string> => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const hit = lines.find((l) => l.startsWith(prefix));
      if (hit !== undefined) return hit.slice(prefix.length);
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no "${prefix}" line; output: ${lines.join('\n')} ${err}`);
  };
  return { proc, lines, waitFor };
}

function procState(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

describe('file store after kill -9 and an immediate restart (issue 12, item 3)', () => {
  it('takes the store over while the killed pid is still visible, and delivers exactly what was left', async () => {
    const server: LoopbackApi = await startLoopbackApi();
    cleanup.push(() => server.close());
    const dir = mkdtempSync(join(tmpdir(), 'drip-restart-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const n = 300;
    // The API is unreachable for the first process: everything stays in its store.
    const first = start(
      { MODE: 'hold', DIR: dir, N: String(n), API_KEY: server.api.apiKey, BASE_URL: 'http://127.0.0.1:9/v1' },
      true,
    );
    const pid = Number(await first.waitFor('held '));
    process.kill(pid, 'SIGKILL');
    // The killed process stays visible (a zombie its parent does not reap): `kill(pid, 0)` still succeeds.
    for (let i = 0; i < 200 && procState(pid) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(procState(pid)).toBe('Z');
    expect(() => process.kill(pid, 0)).not.toThrow();
    const second = start({ MODE: 'resume', DIR: dir, API_KEY: server.api.apiKey, BASE_URL: server.baseUrl });
    const opened = JSON.parse(await second.waitFor('opened ')) as {
      store: { durable: boolean };
      replayed: number;
    };
    expect(opened.store).toEqual({ durable: true });
    expect(opened.replayed).toBe(n);
    expect(JSON.parse(await second.waitFor('resumed '))).toEqual({ delivered: true, remaining: 0 });
    expect(server.api.totalUsage({ customerId: 'cus_r' })).toBe(n);
    expect(server.api.usage).toHaveLength(n);
  }, 60_000);

  it('a store held by a live instance is refused loudly, shown in stats(), and taken once it is free', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drip-restart-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const holder = createFileOutboxStore({ dir, fsync: 'none' });
    await holder.load();
    const errors: string[] = [];
    const clock = new FakeClock();
    const client = new Drip({
      apiKey: 'sk_test_abcdefghijklmnop',
      baseUrl: 'http://127.0.0.1:9/v1',
      maxAttempts: 1,
    });
    const store = createFileOutboxStore({ dir, fsync: 'none' });
    const outbox = createOutbox({
      client,
      store,
      clock,
      shutdownHooks: false,
      backoffBaseMs: 1_000,
      logger: { warn: () => {}, error: (m) => errors.push(m) },
    });
    cleanup.push(() => clock.run(outbox.close(10)));
    await outbox.ready();
    const s = outbox.stats().store;
    expect(s.durable).toBe(false);
    expect(s.reason).toMatch(/in use/);
    expect(errors).toHaveLength(1);
    outbox.enqueue({
      type: 'usage',
      customerId: 'cus_w',
      meter: 'api_calls',
      quantity: 1,
      idempotencyKey: 'while-refused',
    });
    await clock.advance(1_000);
    expect(errors).toHaveLength(2); // still refused: said again at error level
    await holder.close();
    await clock.advance(2_000);
    await outbox.ready();
    for (let i = 0; i < 50 && !outbox.stats().store.durable; i++) await new Promise((r) => setTimeout(r, 5));
    expect(outbox.stats().store).toEqual({ durable: true });
    // The record accepted while the store was refused is now in the store.
    expect(readFileSync(store.path, 'utf8')).toContain('while-refused');
  });
});
