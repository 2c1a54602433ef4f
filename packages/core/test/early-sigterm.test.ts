// A SIGTERM that comes while the first request runs, before any record was queued (issue 15): the
// request meter installs the shutdown hook at its first request, so the signal waits for the request
// to end and delivers its records before the process exits by the signal. Checked on what reached the
// API (the in-memory API on a loopback socket), in a real child process.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type LoopbackApi, startLoopbackApi } from './outbox-http';

const here = dirname(fileURLToPath(import.meta.url));
const servers: LoopbackApi[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe('SIGTERM before the first record is queued', () => {
  it('waits for the request in flight, delivers its usage and run, then exits by the signal', async () => {
    const server = await startLoopbackApi();
    servers.push(server);
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', join(here, 'fixtures', 'early-sigterm-child.ts')],
      {
        cwd: join(here, '..'),
        env: { ...process.env, API_KEY: server.api.apiKey, BASE_URL: server.baseUrl },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.on('exit', (code, signal) => resolve({ code, signal })),
    );
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('begun\n')) resolve();
      });
      void exit.then(() => reject(new Error(`child exited early: ${out}${err}`)));
    });
    // The handler ends 3 s after `begun`: the signal comes while the request is in flight.
    expect(out).not.toContain('finished');
    proc.kill('SIGTERM');
    const ended = await exit;
    expect(out, err).toContain('finished');
    // No listener of the app's own: core re-raised the signal after the flush.
    expect(ended).toEqual({ code: null, signal: 'SIGTERM' });
    server.api.expectUsage({ customerId: 'cus_early', meter: 'api_calls', quantity: 1, records: 1 });
    server.api.expectRun({ customerId: 'cus_early', status: 'COMPLETED', count: 1 });
  });
});
