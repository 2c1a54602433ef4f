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

async function printedUrl(srv: ReturnType<typeof cli>): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no URL printed: ${srv.output()}`)), 150_000);
    const check = () => {
      const m = /API base URL\s+(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(srv.output());
      if (m?.[1] && /Dashboard/.test(srv.output())) {
        clearTimeout(t);
        resolve(m[1]);
      } else setTimeout(check, 50);
    };
    check();
  });
}

describe('drip-server CLI on a data directory a server holds', () => {
  it('a second start refuses with a message; keys create works through the running server and persists', {
    timeout: 240_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drip-cli-'));
    dirs.push(dir);
    const srv = cli(['start', '--data-dir', dir, '--port', '0', '--log-level', 'warn']);
    const url = await printedUrl(srv);

    const second = cli(['start', '--data-dir', dir, '--port', '0']);
    expect(await second.exit).toBe(1);
    expect(second.output()).toContain(`data directory ${dir} is in use by a running drip-server`);
    expect(second.output()).toContain(url.replace(/\/v1$/, ''));
    expect(second.output()).not.toContain('API base URL');

    const keys = cli(['keys', 'create', '--data-dir', dir, '--name', 'while-running']);
    expect(await keys.exit).toBe(0);
    const sk = /DRIP_API_KEY=(sk_test_[A-Za-z0-9]{32})/.exec(keys.output())?.[1];
    const pk = /DRIP_PUBLIC_KEY=(pk_test_[A-Za-z0-9]{32})/.exec(keys.output())?.[1];
    expect(sk && pk).toBeTruthy();
    // The running server accepts the new key at once ...
    const res = await fetch(`${url}/customers`, { headers: { authorization: `Bearer ${sk}` } });
    expect(res.status).toBe(200);
    srv.child.kill('SIGTERM');
    expect(await srv.exit).toBe(0);

    // ... and it is still there after a restart.
    const restarted = cli(['start', '--data-dir', dir, '--port', '0', '--log-level', 'warn']);
    const url2 = await printedUrl(restarted);
    const after = await fetch(`${url2}/customers`, { headers: { authorization: `Bearer ${sk}` } });
    expect(after.status).toBe(200);
    // kill -9 leaves the lock file behind: the next start sees its process is gone and takes it over.
    restarted.child.kill('SIGKILL');
    await restarted.exit;
    const third = cli(['start', '--data-dir', dir, '--port', '0', '--log-level', 'warn']);
    const url3 = await printedUrl(third);
    expect((await fetch(`${url3}/customers`, { headers: { authorization: `Bearer ${sk}` } })).status).toBe(
      200,
    );
    third.child.kill('SIGTERM');
    expect(await third.exit).toBe(0);
  });
});

describe('drip-server CLI', () => {
  it('keys create prints a new pair that start then accepts (same data directory)', {
    timeout: 240_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drip-cli-'));
    dirs.push(dir);
    const keys = cli(['keys', 'create', '--data-dir', dir]);
    expect(await keys.exit).toBe(0);
    const sk = /DRIP_API_KEY=(sk_test_[A-Za-z0-9]{32})/.exec(keys.output())?.[1];
    expect(/DRIP_PUBLIC_KEY=pk_test_[A-Za-z0-9]{32}/.test(keys.output())).toBe(true);
    expect(sk).toBeDefined();

    const srv = cli(['start', '--data-dir', dir, '--port', '0', '--log-level', 'warn']);
    const url = await printedUrl(srv);
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

  it('--help prints the usage and succeeds; an unknown command prints it and fails', async () => {
    const help = cli(['--help']);
    expect(await help.exit).toBe(0);
    expect(help.output()).toContain('Usage:');
    const unknown = cli(['stat', '--memory']);
    expect(await unknown.exit).toBe(1);
    expect(unknown.output()).toContain('unknown command "stat"');
    expect(unknown.output()).toContain('Usage:');
  });

  it('no command starts the server, like `start` (`npx @drip/server`)', { timeout: 240_000 }, async () => {
    const srv = cli(['--memory', '--port', '0', '--log-level', 'warn']);
    const url = await printedUrl(srv);
    const sk = /Secret key\s+(sk_test_\S+)/.exec(srv.output())?.[1];
    const res = await fetch(`${url}/customers`, { headers: { authorization: `Bearer ${sk}` } });
    expect(res.status).toBe(200);
    expect(srv.output()).not.toContain('Usage:');
    srv.child.kill('SIGTERM');
    expect(await srv.exit).toBe(0);
  });
});
