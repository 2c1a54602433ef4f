// Shared helpers of the outbox and pipeline benchmarks (bench/outbox-*.mjs, bench/pipeline-*.mjs).
import { median, parseFlags, writeSection } from './lib/common.mjs';
import os from 'node:os';

export { median, writeSection };

/** Parses this script's `--name value` flags over defaults. */
export function flags(defaults) {
  return parseFlags(process.argv.slice(2), defaults);
}

/** A delivery transport that never answers during a measurement (nothing is sent while timing). */
export const silentTransport = {
  post: () => new Promise(() => {}),
  health: async () => ({ status: 200, body: { status: 'healthy', capabilities: [] } }),
};

export function machine() {
  return `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.platform()}`;
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
