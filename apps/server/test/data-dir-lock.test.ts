// One process per embedded data directory: a second server on the same directory refuses to start
// (two PGlite instances on one set of files would both report healthy and lose acknowledged writes),
// and a lock left behind by a process that no longer runs (kill -9, a reused pid) is taken over.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, LOCK_FILE, processStartTime } from '../src/db/data-dir-lock';
import { startServer } from '../src/index';
import { client } from './helpers';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'drip-lock-'));
  dirs.push(dir);
  return dir;
}

describe('embedded data directory lock', () => {
  it('a second server on the same directory refuses to start; the first keeps every write', async () => {
    const dir = tempDir();
    const first = await startServer({ port: 0, dataDir: dir });
    try {
      const err = await startServer({ port: 0, dataDir: dir }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect(String((err as Error).message)).toContain(`in use by a running drip-server (pid ${process.pid}`);
      expect(String((err as Error).message)).toContain(first.url);
      const call = client(first, first.apiKey);
      const created = await call('POST', '/customers', { externalCustomerId: 'kept' });
      expect(created.status).toBe(201);
      expect((await fetch(`${first.url}/health`)).status).toBe(200);
    } finally {
      await first.close();
    }
    // Released on close: the next start gets the directory and the write.
    const again = await startServer({ port: 0, dataDir: dir });
    try {
      const list = await client(again, again.apiKey)('GET', '/customers');
      expect((list.body.data as { externalCustomerId: string }[]).map((c) => c.externalCustomerId)).toEqual([
        'kept',
      ]);
    } finally {
      await again.close();
    }
  });

  it('writes the lock readable by its owner only, with pid, process start time and address', async () => {
    const dir = tempDir();
    const srv = await startServer({ port: 0, dataDir: dir });
    try {
      const file = join(dir, LOCK_FILE);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const info = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      expect(info).toMatchObject({ pid: process.pid, role: 'server', url: srv.url, hostname: hostname() });
      expect(info.processStart).toBe(processStartTime(process.pid));
      expect(String(info.adminToken)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    } finally {
      await srv.close();
    }
    expect(() => statSync(join(dir, LOCK_FILE))).toThrow();
  });

  it('takes over a lock whose pid now belongs to another process (start time differs)', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid: process.pid, processStart: '1', hostname: hostname(), role: 'server' }),
    );
    const srv = await startServer({ port: 0, dataDir: dir });
    await srv.close();
  });

  it('takes over the lock of a process that has exited, and refuses while it runs', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const pid = child.pid ?? 0;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      writeFileSync(
        join(dir, LOCK_FILE),
        JSON.stringify({ pid, processStart: processStartTime(pid), hostname: hostname(), role: 'server' }),
      );
      await expect(startServer({ port: 0, dataDir: dir })).rejects.toThrow(`pid ${pid}`);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const srv = await startServer({ port: 0, dataDir: dir });
    await srv.close();
  });

  it('an unreadable lock file is taken over', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), 'not json');
    const srv = await startServer({ port: 0, dataDir: dir });
    await srv.close();
  });
});
