// Shared helpers of the outbox and pipeline benchmarks (bench/outbox-*.mjs, bench/pipeline-*.mjs).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Parses `--name value` flags with defaults. */
export function flags(defaults) {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[a.slice(2)] = true;
    else {
      out[a.slice(2)] = Number.isNaN(Number(next)) ? next : Number(next);
      i++;
    }
  }
  return out;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A delivery transport that never answers during a measurement (nothing is sent while timing). */
export const silentTransport = {
  post: () => new Promise(() => {}),
  health: async () => ({ status: 200, body: { status: 'healthy', capabilities: [] } }),
};

export function machine() {
  return `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.platform()}`;
}

/** Replaces a marked section of BENCHMARKS.md, or appends it. */
export function writeSection(section, body) {
  const file = join(here, '..', 'BENCHMARKS.md');
  const start = `<!-- ${section}:start -->`;
  const end = `<!-- ${section}:end -->`;
  const block = `${start}\n${body.trimEnd()}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i !== -1 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
}

/**
 * A reference figure measured in the same process just before a benchmark: `JSON.stringify` of a small
 * usage body (about 0.15-0.3 µs on an idle current x86 core). On a shared, loaded machine every figure
 * scales with it, so the ratio is what to compare across runs.
 */
export function calibrate(ops = 200_000) {
  const times = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) {
      n += JSON.stringify({
        customerId: 'cus_bench',
        usageType: 'api_calls',
        quantity: 1,
        idempotencyKey: `k${i}`,
      }).length;
    }
    if (n === 0) throw new Error('unreachable');
    times.push(Number(process.hrtime.bigint() - t0) / ops);
  }
  const ns = median(times);
  const load = os.loadavg()[0].toFixed(1);
  return {
    ns,
    note: `Reference on the same run: one small \`JSON.stringify\` took ${ns.toFixed(0)} ns; 1-minute load average ${load} on ${os.cpus().length} cores.`,
  };
}
