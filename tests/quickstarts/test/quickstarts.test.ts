// From an empty folder to billed usage (issue 15): every package and the server are packed into tarballs,
// installed with plain npm into an empty project outside the workspace, the server is started with its
// `drip-server` bin, and each README's quick start runs as written (compiled with `tsc`, module
// `nodenext`). The usage must then be in the server under the app's own customer ids.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const PACKAGES = ['packages/core', 'packages/express', 'packages/hono', 'apps/server'];
const work = mkdtempSync(join(tmpdir(), 'drip-quickstarts-'));
const project = join(work, 'app');
const children: ChildProcess[] = [];
let apiUrl = '';
let secretKey = '';

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts a process and resolves with it once `ready` matches its output (at once without `ready`). */
function start(
  args: string[],
  env: Record<string, string>,
  ready?: RegExp,
): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, args, { cwd: project, env: { ...process.env, ...env } });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const on = (b: Buffer) => {
      out += b.toString();
      if (ready?.test(out)) resolve({ child, out: () => out });
    };
    if (!ready) resolve({ child, out: () => out });
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** The first ```ts (or ```js) block after `## Quick start` in a packed README, as the user sees it. */
function quickStart(pkg: string, lang = 'ts'): string {
  const readme = readFileSync(join(project, 'node_modules', pkg, 'README.md'), 'utf8');
  const from = readme.indexOf('## Quick start');
  const m = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(readme.slice(from));
  if (!m?.[1]) throw new Error(`no quick start in ${pkg}`);
  return m[1];
}

async function api<T>(path: string): Promise<T> {
  const r = await fetch(`${apiUrl}${path}`, { headers: { authorization: `Bearer ${secretKey}` } });
  expect(r.status).toBe(200);
  return (await r.json()) as T;
}

/** Usage the server recorded for the customer whose own id is `externalId`, per meter. */
async function usageOf(externalId: string): Promise<Record<string, number>> {
  const customers = await api<{ data: { id: string }[] }>(
    `/customers?externalCustomerId=${encodeURIComponent(externalId)}`,
  );
  const id = customers.data[0]?.id;
  if (!id) return {};
  const events = await api<{ data: { usageType?: string; quantity?: string }[] }>(
    `/events?customerId=${id}&eventType=USAGE&limit=100`,
  );
  const out: Record<string, number> = {};
  for (const e of events.data) {
    if (e.usageType) out[e.usageType] = (out[e.usageType] ?? 0) + Number(e.quantity ?? 0);
  }
  return out;
}

beforeAll(async () => {
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  mkdirSync(project);
  for (const dir of PACKAGES) {
    run('npx', ['-y', 'pnpm@10.34.9', 'pack', '--pack-destination', tarballs], join(root, dir));
  }
  const tgz = readdirTgz(tarballs);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module' }),
  );
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      ...tgz,
      'express@5.3.0',
      '@types/express@5.0.6',
      'hono@4.13.19',
      '@hono/node-server@2.1.8',
      '@types/node@20.19.43',
      'typescript@5.9.3',
    ],
    project,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        target: 'es2022',
        strict: true,
        skipLibCheck: true,
        outDir: 'dist',
      },
    }),
  );
  const server = await start(
    ['node_modules/@drip/server/bin/drip-server.js', 'start', '--port', '0', '--memory'],
    {},
    /Public key\s+pk_\S+/,
  );
  apiUrl = /API base URL\s+(\S+)/.exec(server.out())?.[1] ?? '';
  secretKey = /Secret key\s+(sk_\S+)/.exec(server.out())?.[1] ?? '';
  expect(apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
});

function readdirTgz(dir: string): string[] {
  return run('ls', [dir], dir)
    .split('\n')
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => join(dir, f));
}

afterAll(async () => {
  await Promise.all(children.map(stop));
  rmSync(work, { recursive: true, force: true });
});

/** Compiles a quick start as written, runs it, sends the requests, stops it with SIGTERM (which flushes). */
async function runQuickStart(
  pkg: string,
  file: string,
  requests: (base: string, output: () => string) => Promise<void>,
) {
  // `name.cjs` runs as written; anything else is TypeScript, compiled with tsc (module nodenext).
  const cjs = file.endsWith('.cjs');
  writeFileSync(join(project, cjs ? file : `${file}.ts`), quickStart(pkg, cjs ? 'js' : 'ts'));
  if (!cjs) run('npx', ['tsc', '-p', '.'], project);
  const port = String(20_000 + Math.floor(Math.random() * 20_000));
  const env = { PORT: port, DRIP_API_KEY: secretKey, DRIP_API_URL: apiUrl };
  const app = await start([cjs ? file : `dist/${file}.js`], env);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    try {
      await fetch(`${base}/`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await requests(base, app.out);
  await stop(app.child);
  return app.out();
}

describe('README quick starts against the packed server', () => {
  it('Express (ESM TypeScript, nodenext): usage arrives under the app own id', async () => {
    const out = await runQuickStart('@drip/express', 'express-app', async (base) => {
      const h = { 'x-user-id': 'alice', 'content-type': 'application/json' };
      expect((await fetch(`${base}/items/1`, { headers: h })).status).toBe(200);
      const r = await fetch(`${base}/agent`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ prompt: 'hi' }),
      });
      expect(await r.json()).toEqual({ answer: 'echo: hi' });
    });
    expect(out).toContain(`drip outbox: delivering to ${apiUrl} (test mode): first batch accepted`);
    expect(await usageOf('alice')).toEqual({ api_calls: 2, llm_tokens: 52 });
  });

  it('Express (CommonJS, as written): usage arrives under the app own id', async () => {
    const out = await runQuickStart('@drip/express', 'express-app.cjs', async (base, output) => {
      const r = await fetch(`${base}/items/7`, { headers: { 'x-user-id': 'carol' } });
      expect(await r.json()).toEqual({ id: '7' });
      // The outbox installs its SIGTERM flush with its first record, so a signal racing the first
      // response is not what this checks: wait for the first delivery, then the second request's record
      // must be flushed by SIGTERM.
      for (let i = 0; i < 100 && !output().includes('first batch accepted'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await (await fetch(`${base}/items/8`, { headers: { 'x-user-id': 'carol' } })).arrayBuffer();
    });
    expect(await usageOf('carol'), out).toEqual({ api_calls: 2 });
  });

  it('Hono on Node with serve(): usage arrives under the app own id', async () => {
    await runQuickStart('@drip/hono', 'hono-app', async (base) => {
      const h = { 'x-user-id': 'bob', 'content-type': 'application/json' };
      expect((await fetch(`${base}/api/items/1`, { headers: h })).status).toBe(200);
      const r = await fetch(`${base}/api/agent`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ prompt: 'yo' }),
      });
      expect(await r.json()).toEqual({ answer: 'echo: yo' });
    });
    expect(await usageOf('bob')).toEqual({ api_calls: 2, llm_tokens: 52 });
  });
});
