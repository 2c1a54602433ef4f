// Shared helpers of the server benchmarks (bench/server-ingest.mjs, bench/server-timeline.mjs).
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags, writeSection } from './lib/common.mjs';

export { parseFlags, writeSection };

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const rootDir = join(benchDir, '..');

/** Starts bench/server-child.mjs with the given flags; resolves with its ready line and a stop(). */
export function startServerChild(args) {
  const child = spawn(process.execPath, [join(benchDir, 'server-child.mjs'), ...args], {
    cwd: benchDir,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 120 s')), 120_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      const info = JSON.parse(buf.slice(0, nl));
      resolve({
        ...info,
        stop: () =>
          new Promise((r) => {
            child.once('exit', r);
            child.kill('SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

/** A throwaway PostgreSQL (scripts/pg-tmp.sh), or the one in BENCH_DATABASE_URL. */
export function startPostgres() {
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL, stop: () => {} };
  const out = execFileSync('bash', [join(rootDir, 'scripts/pg-tmp.sh')], { encoding: 'utf8' }).trim();
  const [port, dir] = out.split(/\s+/);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => execFileSync('bash', [join(rootDir, 'scripts/pg-tmp.sh'), 'stop', dir]),
  };
}

/** JSON request helper. */
export async function api(base, key, method, path, body) {
  const res = await fetch(`${base}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** `node -v`, cores and CPU model, for the report header. */
export async function machine() {
  const os = await import('node:os');
  const load = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ');
  return `Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), load average at the end ${load} (1 / 5 / 15 min; the machine is shared)`;
}
