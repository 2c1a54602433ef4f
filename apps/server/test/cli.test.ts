// The drip-server command line: keys create, seed, and start with a graceful stop on SIGTERM.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-process';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('drip-server CLI', () => {
  it('keys create prints a new pair that start then accepts (same data directory)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drip-cli-'));
    dirs.push(dir);
    const keys = cli(['keys', 'create', '--data-dir', dir]);
    expect(await keys.exit).toBe(0);
    const sk = /DRIP_API_KEY=(sk_test_[A-Za-z0-9]{32})/.exec(keys.output())?.[1];
    expect(/DRIP_PUBLIC_KEY=pk_test_[A-Za-z0-9]{32}/.test(keys.output())).toBe(true);
    expect(sk).toBeDefined();

    const srv = cli(['start', '--data-dir', dir, '--port', '0', '--log-level', 'warn']);
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed: ${srv.output()}`)), 60_000);
      const check = () => {
        const m = /API base URL\s+(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(srv.output());
        if (m?.[1] && /Dashboard/.test(srv.output())) {
          clearTimeout(t);
          resolve(m[1]);
        } else setTimeout(check, 50);
      };
      check();
    });
    const res = await fetch(`${url}/customers`, { headers: { authorization: `Bearer ${sk}` } });
    expect(res.status).toBe(200);
    expect(srv.output()).toMatch(/Secret key\s+sk_test_/);
    srv.child.kill('SIGTERM');
    expect(await srv.exit).toBe(0);
    await expect(fetch(`${url}/customers`)).rejects.toThrow();
  });

  it('seed writes demo customers, usage and runs and prints them', async () => {
    const seed = cli(['seed', '--memory']);
    expect(await seed.exit).toBe(0);
    const json = JSON.parse(seed.output().slice(seed.output().indexOf('{'))) as {
      seeded: { customers: string[]; runs: string[]; usageEvents: number };
    };
    expect(json.seeded.customers).toHaveLength(3);
    expect(json.seeded.runs).toHaveLength(3);
    expect(json.seeded.usageEvents).toBe(18);
  });

  it('refuses bad flags with a message and exit code 1', async () => {
    const bad = cli(['start', '--memory', '--port', 'abc']);
    expect(await bad.exit).toBe(1);
    expect(bad.output()).toContain('--port');
  });

  it('--help prints the usage and succeeds; no command prints it and fails', async () => {
    const help = cli(['--help']);
    expect(await help.exit).toBe(0);
    expect(help.output()).toContain('Usage:');
    const none = cli([]);
    expect(await none.exit).toBe(1);
    expect(none.output()).toContain('Usage:');
  });
});
