// Shared helpers of the @drip/core client benchmarks (bench/core-size.mjs, bench/core-request.mjs).
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, writeSection } from './lib/common.mjs';

export { median, writeSection };

const here = dirname(fileURLToPath(import.meta.url));
export const benchDir = here;
export const rootDir = join(here, '..');

export function machine() {
  return `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.platform()}, load average ${os.loadavg()[0].toFixed(1)} when run (the machine is shared)`;
}
