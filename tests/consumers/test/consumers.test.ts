import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..');
const fixtures = join(here, '..', 'fixtures');
// Outside the workspace, so nothing resolves through the repository's node_modules.
const work = mkdtempSync(join(tmpdir(), 'drip-consumers-'));
const tarballs = join(work, 'tarballs');

// Without the npm_* settings a package manager running this test exports (`pnpm run` sets its own), which
// would point npm's installs elsewhere: each consumer project must install like a fresh app.
const cleanEnv: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
  NO_COLOR: '1',
  NEXT_TELEMETRY_DISABLED: '1',
};

interface Result {
  code: number;
  out: string;
}

/** Runs a command; never throws, so a failure's output ends up in the assertion message. */
function run(cmd: string, args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: cleanEnv }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

async function ok(cmd: string, args: string[], cwd: string): Promise<string> {
  const r = await run(cmd, args, cwd);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed:\n${r.out}`);
  return r.out;
}

/** The published packages (not private), by name, with their folder. */
const published = readdirSync(join(repo, 'packages'))
  .map((d) => join(repo, 'packages', d))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => !pkg.private)
  .map(({ dir, pkg }) => ({ dir, name: pkg.name as string }));
const tarballOf = new Map<string, string>();

const TYPES_NODE = { '@types/node': '20.19.43' };
const TS5 = { typescript: '5.9.3' };

/**
 * An empty npm project with the given tarballs and registry packages installed, and the app fixtures
 * copied in. `@drip/core` is overridden to its tarball so the adapters' dependency on it never reaches
 * the registry.
 */
async function project(
  name: string,
  drip: string[],
  deps: Record<string, string>,
  omitOptional = true,
  fixture = 'app',
) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const dependencies: Record<string, string> = { ...deps };
  for (const p of drip) dependencies[p] = `file:${tarballOf.get(p)}`;
  const pkg = {
    name: `consumer-${name}`,
    private: true,
    dependencies,
    overrides: { '@drip/core': '$@drip/core' },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  // Another fixture (a whole app, with folders) is copied as it is.
  if (fixture !== 'app') cpSync(join(fixtures, fixture), dir, { recursive: true });
  else
    for (const f of readdirSync(join(fixtures, 'app'))) {
      copyFileSync(join(fixtures, 'app', f), join(dir, f));
      // Also as .mts (checked as ESM: import condition, .d.ts) and .cts (CommonJS: require condition, .d.cts),
      // written before any test runs since the tests run concurrently.
      if (/^use-.*\.ts$/.test(f)) {
        copyFileSync(join(fixtures, 'app', f), join(dir, f.replace(/\.ts$/, '.mts')));
        copyFileSync(join(fixtures, 'app', f), join(dir, f.replace(/\.ts$/, '.cts')));
      }
    }
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
  if (omitOptional) args.push('--omit=optional');
  await ok('npm', args, dir);
  return dir;
}

type Resolution = 'nodenext' | 'node16' | 'bundler';

/** Writes a tsconfig for one resolution over the given fixtures (copied to the extensions it needs). */
function tsconfig(
  dir: string,
  tag: string,
  resolution: Resolution,
  uses: string[],
  lib: string[] = ['es2023'],
): string {
  const files = uses.flatMap((u) =>
    resolution === 'bundler' ? [`use-${u}.ts`] : [`use-${u}.mts`, `use-${u}.cts`],
  );
  const module = resolution === 'bundler' ? 'esnext' : resolution;
  const config = {
    compilerOptions: {
      target: 'es2022',
      lib,
      module,
      moduleResolution: resolution,
      strict: true,
      skipLibCheck: false,
      noEmit: true,
      esModuleInterop: true,
      types: ['node'],
    },
    files,
  };
  // One file per test (tag): the tests run concurrently.
  const file = `tsconfig.${tag}.${resolution}.json`;
  writeFileSync(join(dir, file), JSON.stringify(config, null, 2));
  return file;
}

/**
 * The `node:` modules a package's default entry pulls in when bundled for a neutral (edge) platform:
 * empty when it runs on Workers and edge runtimes. esbuild cannot resolve a Node built-in there, so each
 * one is reported as an error naming it.
 */
async function nodeImportsOf(dir: string, specifier: string): Promise<string[]> {
  try {
    const result = await build({
      stdin: { contents: `export * from '${specifier}';`, resolveDir: dir, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      conditions: ['workerd', 'worker', 'browser', 'import'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    return Object.keys(result.metafile.inputs).filter((i) => i.startsWith('node:'));
  } catch (e) {
    const errors = (e as { errors?: { text: string }[] }).errors ?? [];
    const found = errors.flatMap((err) => err.text.match(/node:[\w/]+/g) ?? []);
    if (found.length === 0) throw e;
    return [...new Set(found)];
  }
}

const dirs: Record<string, string> = {};

beforeAll(async () => {
  mkdirSync(tarballs);
  // pnpm pack turns workspace:* into the real version, as publishing does.
  for (const { dir, name } of published) {
    const out = await ok('npx', ['-y', 'pnpm@10.34.9', 'pack', '--pack-destination', tarballs], dir);
    const file = out.trim().split('\n').pop()!.trim();
    tarballOf.set(name, file.startsWith('/') ? file : join(tarballs, file));
  }
  await ok('npm', ['pack', '--pack-destination', tarballs, '--loglevel=error'], join(fixtures, 'edge-bad'));
  tarballOf.set('edge-bad-fixture', join(tarballs, 'edge-bad-fixture-1.0.0.tgz'));
  const all = published.map((p) => p.name);
  const core = ['@drip/core', '@drip/testing'];
  const nest = (v: string) => ({
    '@nestjs/common': v,
    '@nestjs/core': v,
    '@nestjs/platform-express': v,
    'reflect-metadata': '0.2.2',
    rxjs: '7.8.2',
    ...TS5,
    ...TYPES_NODE,
  });
  const specs: [string, string[], Record<string, string>, boolean?, string?][] = [
    [
      'latest',
      all,
      {
        hono: '4.13.19',
        express: '5.3.0',
        '@types/express': '5.0.6',
        next: '16.5.0',
        react: '19.3.1',
        'react-dom': '19.3.1',
        ...nest('11.2.10'),
      },
    ],
    ['ts7', [], { typescript: '7.0.2' }, false],
    [
      'express4',
      [...core, '@drip/express'],
      { express: '4.22.3', '@types/express': '4.17.25', ...TS5, ...TYPES_NODE },
    ],
    // The lowest Express the peer range (^4.17.0 || ^5.0.0) admits.
    [
      'express417',
      [...core, '@drip/express'],
      { express: '4.17.0', '@types/express': '4.17.25', ...TS5, ...TYPES_NODE },
    ],
    ['hono-lowest', [...core, '@drip/hono'], { hono: '4.6.0', ...TS5, ...TYPES_NODE }],
    [
      'next-lowest',
      [...core, '@drip/nextjs'],
      { next: '14.2.35', react: '18.3.1', 'react-dom': '18.3.1', ...TS5, ...TYPES_NODE },
    ],
    ['nest10', [...core, '@drip/nestjs'], nest('10.4.9')],
    ['nest12', [...core, '@drip/nestjs'], nest('12.6.3')],
    ['edge-bad', ['edge-bad-fixture'], {}],
    // A Next app built with `next build` (its SWC binary is an optional dependency: not omitted).
    [
      'next-build',
      [...core, '@drip/nextjs'],
      { next: '16.5.0', react: '19.3.1', 'react-dom': '19.3.1' },
      false,
      'next-app',
    ],
  ];
  await Promise.all(
    specs.map(async ([name, drip, deps, omit, fixture]) => {
      dirs[name] = await project(name, drip, deps, omit, fixture);
    }),
  );
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const tsc = (dir: string) => join(dir, 'node_modules', 'typescript', 'bin', 'tsc');

/** The app prints its result as one JSON line; the SDK's own log lines (the first delivery, warnings) may come first. */
function resultLine(stdout: string): Record<string, unknown> {
  const line = stdout.split('\n').findLast((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no JSON result line in:\n${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

describe('packed packages installed with npm outside the workspace', () => {
  it('every published package loads with require() (CommonJS) and import (ESM)', async () => {
    const names = published.map((p) => p.name).concat('@drip/core/node');
    const cjs = `for (const n of ${JSON.stringify(names)}) { const m = require(n); if (!Object.keys(m).length) throw new Error(n + ' is empty'); } console.log('cjs ok')`;
    expect(await ok(process.execPath, ['-e', cjs], dirs.latest!)).toContain('cjs ok');
    const esm = `for (const n of ${JSON.stringify(names)}) { const m = await import(n); if (!Object.keys(m).length) throw new Error(n + ' is empty'); } console.log('esm ok')`;
    expect(await ok(process.execPath, ['--input-type=module', '-e', esm], dirs.latest!)).toContain('esm ok');
  });

  describe.each(['nodenext', 'node16', 'bundler'] as const)(
    'TypeScript, %s resolution, skipLibCheck off',
    (resolution) => {
      const uses = ['core', 'hono', 'express', 'next'];
      it('type-checks with TypeScript 5.9.3', async () => {
        const file = tsconfig(dirs.latest!, 'ts5', resolution, uses);
        await ok(process.execPath, [tsc(dirs.latest!), '-p', file], dirs.latest!);
      });
      it('type-checks with TypeScript 7 (the registry latest)', async () => {
        const file = tsconfig(dirs.latest!, 'ts7', resolution, uses);
        await ok(process.execPath, [tsc(dirs.ts7!), '-p', file], dirs.latest!);
      });
    },
  );

  it("core's default entry and @drip/hono bundle for a neutral (edge) platform with no node: import", async () => {
    for (const entry of ['@drip/core', '@drip/hono', '@drip/testing']) {
      expect(await nodeImportsOf(dirs.latest!, entry), entry).toEqual([]);
    }
    // The Node entry is the one place Node built-ins belong: the check does see them.
    expect((await nodeImportsOf(dirs.latest!, '@drip/core/node')).length).toBeGreaterThan(0);
  });

  it('the edge check reports a package whose default entry imports a Node built-in', async () => {
    expect(await nodeImportsOf(dirs['edge-bad']!, 'edge-bad-fixture')).toEqual(['node:fs']);
  });
});

describe.each([
  ['Hono 4.13 (latest)', 'latest', 'hono', []],
  // Hono 4.6's own declarations name `RequestInfo`, a DOM type (fixed in later 4.x): its apps need lib dom.
  ['Hono 4.6 (lowest supported)', 'hono-lowest', 'hono', ['dom']],
  ['Express 5', 'latest', 'express', []],
  ['Express 4', 'express4', 'express', []],
  ['Express 4.17 (lowest supported)', 'express417', 'express', []],
  ['Next 16.5 (latest)', 'latest', 'next', []],
  ['Next 14.2 (lowest supported)', 'next-lowest', 'next', []],
])('%s from the tarballs', (_title, name, framework, lib) => {
  it('type-checks (nodenext, skipLibCheck off) and meters a route call through the installed adapter', async () => {
    const dir = dirs[name]!;
    // The latest majors were type-checked above under every resolution.
    if (name !== 'latest') {
      const file = tsconfig(dir, framework, 'nodenext', ['core', framework], ['es2023', ...lib]);
      await ok(process.execPath, [tsc(dir), '-p', file], dir);
    }
    const out = resultLine(await ok(process.execPath, ['calls.mjs', framework], dir));
    expect(out).toMatchObject({ status: 200, body: { id: '7' } });
    expect(out.usage).toBeGreaterThanOrEqual(1);
  });
});

describe.each([
  ['Nest 10', 'nest10'],
  ['Nest 11', 'latest'],
  ['Nest 12', 'nest12'],
])('%s from the tarballs', (_title, name) => {
  it('compiles to CommonJS with decorator metadata, boots, and meters a request', async () => {
    const dir = dirs[name]!;
    const config = {
      compilerOptions: {
        target: 'es2021',
        module: 'commonjs',
        strict: true,
        skipLibCheck: false,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        esModuleInterop: true,
        types: ['node'],
        outDir: 'dist-nest',
      },
      files: ['nest-app.ts'],
    };
    writeFileSync(join(dir, 'tsconfig.nest.json'), JSON.stringify(config, null, 2));
    await ok(process.execPath, [tsc(dir), '-p', 'tsconfig.nest.json'], dir);
    const out = resultLine(await ok(process.execPath, ['dist-nest/nest-app.js'], dir));
    expect(out).toMatchObject({ status: 200, body: { id: '7' }, usage: 1 });
  });
});

/** A free loopback port (the OS picks it; closed again before the caller listens on it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Starts a long-running child; resolves with it and its output so far once `ready` matches that output. */
function startChild(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<{ child: ChildProcess; out: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...cleanEnv, ...env } });
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (ready.test(out)) resolve({ child, out: () => out });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`${args.join(' ')} exited (${code}) before ready:\n${out}`)),
    );
  });
}

describe('Next 16.5 (latest) app from the tarballs', () => {
  // Costs about a minute on a 2-core machine (the build itself), once, on Node 24.
  it('builds with `next build`, starts with `next start`, and meters an App Router and a Pages API call', async () => {
    const dir = dirs['next-build']!;
    const next = join(dir, 'node_modules', 'next', 'dist', 'bin', 'next');
    const started = Date.now();
    const built = await ok(process.execPath, [next, 'build'], dir);
    console.log(
      `next build (Next 16.5.0, from the tarballs): ${Math.round((Date.now() - started) / 1000)} s`,
    );
    expect(built).toMatch(/api\/items\/\[id\]/);
    expect(built).toMatch(/api\/legacy\/\[id\]/);

    const children: ChildProcess[] = [];
    try {
      const api = await startChild(['api-server.mjs'], dir, {}, /"port":\d+/);
      children.push(api.child);
      const { port: apiPort, apiKey } = resultLine(api.out()) as { port: number; apiKey: string };
      const port = await freePort();
      const app = await startChild(
        [next, 'start', '-p', String(port), '-H', '127.0.0.1'],
        dir,
        { DRIP_API_KEY: apiKey, DRIP_BASE_URL: `http://127.0.0.1:${apiPort}/v1`, NODE_ENV: 'production' },
        /Ready in|started server|Local:/i,
      );
      children.push(app.child);
      const usage = async (customerId: string) =>
        (
          (await (await fetch(`http://127.0.0.1:${apiPort}/__usage?customerId=${customerId}`)).json()) as {
            usage: number;
          }
        ).usage;
      for (const [path, customer] of [
        ['/api/items/7', 'cus_next_app'],
        ['/api/legacy/7', 'cus_next_pages'],
      ] as const) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-user': customer } });
        expect([path, res.status, await res.json()]).toEqual([path, 200, { id: '7' }]);
        // Delivery runs after the response (after() / background): wait for it, bounded.
        for (let i = 0; i < 250 && (await usage(customer)) === 0; i++)
          await new Promise((r) => setTimeout(r, 40));
        expect([path, await usage(customer)]).toEqual([path, 1]);
      }
      // A long-running server sends in batches on the outbox's schedule, not one send per request; its
      // shutdown must still deliver what is queued: five calls, then SIGTERM at once, before the 1 s batch.
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/api/items/${i}`, {
          headers: { 'x-user': 'cus_next_shutdown' },
        });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
      const exited = new Promise((r) => app.child.once('exit', r));
      app.child.kill('SIGTERM');
      await exited;
      expect(await usage('cus_next_shutdown')).toBe(5);
    } finally {
      for (const child of children) child.kill('SIGTERM');
    }
  });
});
