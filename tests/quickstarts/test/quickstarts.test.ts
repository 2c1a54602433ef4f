// From an empty folder to billed usage (issue 15): every package and the server are packed into tarballs,
// installed with plain npm into an empty project outside the workspace (one install shared by every
// quick start), the server is started with its `drip-server` bin, and each README's quick start runs as
// written: Express and Hono compiled with `tsc` (module `nodenext`), Express CommonJS as is, Nest compiled
// to CommonJS with the README's tsconfig, Next built with `next build` and served by `next start`, and the
// testing README's app test run by vitest. The usage must then be in the server under the app's own ids.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const PACKAGES = [
  'packages/core',
  'packages/express',
  'packages/hono',
  'packages/nestjs',
  'packages/nextjs',
  'packages/testing',
  'apps/server',
];
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

/**
 * The `nth` ```ts (or ```js, ```json) block after `heading` in a packed README, as the user sees it.
 */
function readmeBlock(pkg: string, lang = 'ts', heading = '## Quick start', nth = 0): string {
  const readme = readFileSync(join(project, 'node_modules', pkg, 'README.md'), 'utf8');
  const from = readme.indexOf(heading);
  if (from === -1) throw new Error(`no "${heading}" in ${pkg}`);
  const blocks = [...readme.slice(from).matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))];
  const block = blocks[nth]?.[1];
  if (!block) throw new Error(`no ${lang} block ${nth} after "${heading}" in ${pkg}`);
  return block;
}

function quickStart(pkg: string, lang = 'ts'): string {
  return readmeBlock(pkg, lang);
}

/** Writes `text` to `file` under the project, creating its folders. */
function put(file: string, text: string): void {
  mkdirSync(dirname(join(project, file)), { recursive: true });
  writeFileSync(join(project, file), text);
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
  // In parallel: each `pnpm pack` is mostly npx start-up time.
  await Promise.all(
    PACKAGES.map((dir) =>
      promisify(execFile)('npx', ['-y', 'pnpm@10.34.9', 'pack', '--pack-destination', tarballs], {
        cwd: join(root, dir),
      }),
    ),
  );
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
      // Nest (11: the pinned line that runs on Node 20), Next and the testing README's test runner.
      '@nestjs/common@11.2.10',
      '@nestjs/core@11.2.10',
      '@nestjs/platform-express@11.2.10',
      'reflect-metadata@0.2.2',
      'rxjs@7.8.2',
      'next@16.4.6',
      'react@19.3.1',
      'react-dom@19.3.1',
      '@types/react@19.3.0',
      'vitest@4.1.12',
      'supertest@7.3.2',
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
  return serveAndCall([cjs ? file : `dist/${file}.js`], requests);
}

/** Starts the app (`args` after node), waits until it answers, sends the requests, stops it with SIGTERM. */
async function serveAndCall(
  args: string[],
  requests: (base: string, output: () => string) => Promise<void>,
  port = String(20_000 + Math.floor(Math.random() * 20_000)),
) {
  const env = { PORT: port, DRIP_API_KEY: secretKey, DRIP_API_URL: apiUrl };
  const app = await start(args, env);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
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

/** Usage of `externalId`, read until it has `meter` (delivery after a response is in the background). */
async function usageOnceDelivered(externalId: string, meter: string): Promise<Record<string, number>> {
  let usage: Record<string, number> = {};
  for (let i = 0; i < 200 && usage[meter] === undefined; i++) {
    usage = await usageOf(externalId);
    if (usage[meter] === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  return usage;
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
      // Wait for the first delivery, then the second request's record must be flushed by SIGTERM.
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

  it('Nest (compiled to CommonJS with the README tsconfig): usage arrives under the app own id', async () => {
    // The README's tsconfig is for a package without "type": "module", as `nest new` makes it.
    put('nest/package.json', JSON.stringify({ name: 'nest-app', private: true }));
    put('nest/tsconfig.json', readmeBlock('@drip/nestjs', 'json'));
    put('nest/src/main.ts', quickStart('@drip/nestjs'));
    run('npx', ['tsc', '-p', 'nest'], project);
    const out = await serveAndCall(['nest/dist/main.js'], async (base) => {
      const h = { 'x-user-id': 'erin', 'content-type': 'application/json' };
      expect((await fetch(`${base}/api/items/1`)).status).toBe(403); // the guard: no user, not metered
      expect(await (await fetch(`${base}/api/items/1`, { headers: h })).json()).toEqual({ id: '1' });
      const r = await fetch(`${base}/api/agent`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ prompt: 'hi' }),
      });
      expect(await r.json()).toEqual({ answer: 'echo: hi' });
    });
    // SIGTERM closed the app (enableShutdownHooks), which delivered what was still queued.
    expect(await usageOf('erin'), out).toEqual({ api_calls: 2, llm_tokens: 52 });
  });

  it('Next route handler (next build + next start): usage arrives under the app own id', async () => {
    // What `create-next-app` writes for TypeScript (the `@/` alias the README uses).
    put(
      'web/tsconfig.json',
      JSON.stringify({
        compilerOptions: {
          target: 'ES2017',
          lib: ['dom', 'dom.iterable', 'esnext'],
          allowJs: true,
          skipLibCheck: true,
          strict: true,
          noEmit: true,
          esModuleInterop: true,
          module: 'esnext',
          moduleResolution: 'bundler',
          resolveJsonModule: true,
          isolatedModules: true,
          jsx: 'react-jsx',
          incremental: true,
          plugins: [{ name: 'next' }],
          paths: { '@/*': ['./*'] },
        },
        include: ['next-env.d.ts', '**/*.ts', '**/*.tsx', '.next/types/**/*.ts'],
        exclude: ['node_modules'],
      }),
    );
    // Each block names its file in its first line (`// app/api/items/[id]/route.ts`).
    for (const nth of [0, 1]) {
      const block = readmeBlock('@drip/nextjs', 'ts', '## Quick start', nth);
      const file = /^\/\/ (\S+\.ts)/.exec(block)?.[1];
      if (!file) throw new Error(`block ${nth} of the Next quick start names no file`);
      put(join('web', file), block);
    }
    const next = join('node_modules', 'next', 'dist', 'bin', 'next');
    run(process.execPath, [next, 'build', 'web'], project);
    const port = String(20_000 + Math.floor(Math.random() * 20_000));
    let usage: Record<string, number> = {};
    const out = await serveAndCall(
      [next, 'start', 'web', '-p', port, '-H', '127.0.0.1'],
      async (base) => {
        const r = await fetch(`${base}/api/items/3`, { headers: { 'x-user-id': 'frank' } });
        expect(await r.json()).toEqual({ id: '3' });
        // Delivered through `after()` while the server runs: no shutdown needed.
        usage = await usageOnceDelivered('frank', 'api_calls');
      },
      port,
    );
    expect(usage, out).toEqual({ api_calls: 1 });
  });
});

/** This process's environment without what the surrounding vitest set for its own workers. */
function plainEnv(): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'FORCE_COLOR'),
  );
}

describe('@drip/testing README', () => {
  it('"Testing an app" runs as written with vitest in the empty project', async () => {
    put('testing-app.test.ts', readmeBlock('@drip/testing', 'ts', '## Testing an app'));
    const r = await promisify(execFile)(
      process.execPath,
      [join('node_modules', 'vitest', 'vitest.mjs'), 'run', 'testing-app.test.ts'],
      { cwd: project, env: { ...plainEnv(), CI: '1', NO_COLOR: '1' } },
    ).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`vitest failed: ${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    expect(r.stdout).toMatch(/Tests\s+1 passed \(1\)/);
  });
});
