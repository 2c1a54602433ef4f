import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type LoopbackApi, startLoopbackApi } from './outbox-http';

const here = dirname(fileURLToPath(import.meta.url));
const child = join(here, 'fixtures', 'outbox-child.ts');
const servers: LoopbackApi[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Running {
  proc: ChildProcess;
  lines: string[];
  waitFor(prefix: string, timeoutMs?: number): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(env: Record<string, string>, server: LoopbackApi): Running {
  const proc = spawn(process.execPath, ['--import', 'tsx', child], {
    cwd: join(here, '..'),
    env: { ...process.env, ...env, API_KEY: server.api.apiKey, BASE_URL: server.baseUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let buf = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl !== -1) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = (prefix: string, timeoutMs = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for "${prefix}"; stderr: ${stderr}`)),
        timeoutMs,
      );
      const check = () => {
        const hit = lines.find((l) => l.startsWith(prefix));
        if (hit !== undefined) {
          clearTimeout(timer);
          resolve(hit);
        } else waiters.push(check);
      };
      check();
    });
  return { proc, lines, waitFor, exit };
}

describe('outbox across processes', () => {
  it('SIGTERM under load, app handles it with process.once: all is delivered, the app exits on its own', async () => {
    const server = await startLoopbackApi();
    servers.push(server);
    server.api.inject({ type: 'latency', ms: 15, route: /bulk|usage/ });
    const c = run({ MODE: 'sigterm' }, server);
    await c.waitFor('accepted 500');
    c.proc.kill('SIGTERM');
    const final = Number((await c.waitFor('final ')).split(' ')[1]);
    const exit = await c.exit;
    // The app had its own (once) listener when the signal came: core flushes but never re-raises the
    // signal, so the process ends normally once nothing is left to do.
    expect(exit).toEqual({ code: 0, signal: null });
    expect(final).toBeGreaterThanOrEqual(500);
    // Delivery was still under way when the signal came (the API is slow), and nothing is missing now.
    expect(server.api.totalUsage({ customerId: 'cus_t' })).toBe(final);
    expect(server.api.usage).toHaveLength(final);
  }, 60_000);

  it('SIGKILL with the file store: after a restart the totals are exact', async () => {
    const server = await startLoopbackApi();
    servers.push(server);
    server.api.inject({ type: 'latency', ms: 10, route: /bulk/ });
    const dir = mkdtempSync(join(tmpdir(), 'drip-outbox-'));
    dirs.push(dir);
    const n = 1_500;
    const first = run({ MODE: 'burst', DIR: dir, N: String(n) }, server);
    await first.waitFor('stored');
    await first.waitFor('sent 2');
    first.proc.kill('SIGKILL');
    await first.exit;
    const before = server.api.usage.length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(n);
    const second = run({ MODE: 'resume', DIR: dir }, server);
    const line = await second.waitFor('resumed ', 40_000);
    const resumed = JSON.parse(line.slice('resumed '.length)) as { delivered: boolean; replayed: number };
    expect(resumed.delivered).toBe(true);
    expect(resumed.replayed).toBeGreaterThan(0);
    expect(server.api.totalUsage({ customerId: 'cus_k' })).toBe(n);
    expect(server.api.usage).toHaveLength(n);
  }, 60_000);

  it('two processes with the same configuration never collide on keys', async () => {
    const server = await startLoopbackApi();
    servers.push(server);
    const a = run({ MODE: 'keys' }, server);
    const b = run({ MODE: 'keys' }, server);
    await Promise.all([a.waitFor('done '), b.waitFor('done ')]);
    await Promise.all([a.exit, b.exit]);
    expect(server.api.usage).toHaveLength(2 * (300 + 50));
    expect(server.api.totalUsage({ customerId: 'cus_same' })).toBe(700);
    expect(server.api.runs).toHaveLength(100);
    expect(new Set(server.api.usage.map((u) => u.idempotencyKey)).size).toBe(700);
    expect(
      server.api.requests.filter((r) => (r.body as { isDuplicate?: boolean } | undefined)?.isDuplicate),
    ).toHaveLength(0);
  }, 60_000);
});
