/**
 * The overflow directory: where the outbox puts records that do not fit its memory bound when there is
 * no durable store that spills (the default on Node). Records go to one append-only file of JSON lines
 * and come back in the order they went in, so an API outage longer than the memory bound loses nothing
 * while memory stays bounded.
 *
 * Runtime-neutral source: the file system is passed in (found through `process.getBuiltinModule` by the
 * default entry, or registered by `@drip/core/node`, which imports it statically). Without one (Workers,
 * browsers) there is no overflow directory and a full queue drops as configured.
 *
 * Not durable: the directory belongs to one process and is removed by `close()`; records still in it when
 * `close()` gives up are dropped as `closed` and counted. Use the file store for records that must
 * survive the process.
 */

import type { OutboxRecord, SpillStore } from './types';

/** The parts of `node:fs` the overflow directory uses. */
export interface SpillFs {
  mkdtempSync(prefix: string): string;
  openSync(path: string, flags: string): number;
  writeSync(fd: number, text: string): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  closeSync(fd: number): void;
  rmSync(path: string, options: { recursive: boolean; force: boolean }): void;
}

/** What the overflow directory needs from the platform: a file system and a temporary directory. */
export interface SpillPlatform {
  fs: SpillFs;
  /** Parent of the per-process directory (the OS temporary directory by default). */
  tmpdir(): string;
  /** Path separator. */
  sep: string;
}

const PLATFORM = /* @__PURE__ */ Symbol.for('drip.outbox.spillPlatform');

/**
 * Registers the platform of the default overflow directory (called by `@drip/core/node` when it loads).
 *
 * @example
 * ```ts
 * import * as fs from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { sep } from 'node:path';
 * registerSpillPlatform({ fs, tmpdir, sep });
 * ```
 */
export function registerSpillPlatform(platform: SpillPlatform): void {
  const g = globalThis as unknown as Record<symbol, SpillPlatform | undefined>;
  if (g[PLATFORM] === undefined) {
    Object.defineProperty(globalThis, PLATFORM, { value: platform, configurable: true, writable: true });
  }
}

interface MaybeNode {
  process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown };
}

/** The registered platform, else Node's own modules through `process.getBuiltinModule`, else none. */
export function spillPlatform(): SpillPlatform | undefined {
  const g = globalThis as unknown as MaybeNode & Record<symbol, SpillPlatform | undefined>;
  const registered = g[PLATFORM];
  if (registered) return registered;
  try {
    const get = g.process?.getBuiltinModule;
    if (typeof get !== 'function') return undefined;
    const fs = get('node:fs') as SpillFs | undefined;
    const os = get('node:os') as { tmpdir?: () => string } | undefined;
    const path = get('node:path') as { sep?: string } | undefined;
    if (!fs?.mkdtempSync || typeof os?.tmpdir !== 'function' || typeof path?.sep !== 'string')
      return undefined;
    const tmpdir = os.tmpdir.bind(os);
    const platform: SpillPlatform = { fs, tmpdir, sep: path.sep };
    registerSpillPlatform(platform);
    return platform;
  } catch {
    return undefined;
  }
}

/**
 * Reads up to `max` JSON lines of `path` starting at byte `from` (which must be a line start), stopping
 * at `end`. Returns the records and the byte offset after the last one read. Shared by the overflow
 * directory and the file store's spill file.
 *
 * @example
 * ```ts
 * const { records, next } = readLines(fs, path, 0, size, 500);
 * ```
 */
export function readLines(
  fs: Pick<SpillFs, 'openSync' | 'readSync' | 'closeSync'>,
  path: string,
  from: number,
  end: number,
  max: number,
): { records: OutboxRecord[]; next: number } {
  const records: OutboxRecord[] = [];
  let pos = from;
  if (max <= 0 || from >= end) return { records, next: pos };
  const fd = fs.openSync(path, 'r');
  try {
    const chunk = new Uint8Array(256 * 1024);
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    let carry = '';
    let read = from;
    while (records.length < max && read < end) {
      const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, end - read), read);
      if (n <= 0) break;
      read += n;
      carry += decoder.decode(chunk.subarray(0, n), { stream: true });
      let nl = carry.indexOf('\n');
      while (nl !== -1 && records.length < max) {
        const raw = carry.slice(0, nl);
        pos += encoder.encode(raw).length + 1;
        carry = carry.slice(nl + 1);
        if (raw.length > 0) records.push(JSON.parse(raw) as OutboxRecord);
        nl = carry.indexOf('\n');
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return { records, next: pos };
}

/**
 * Creates an overflow directory under the platform's temporary directory (made on the first spill).
 *
 * @example
 * ```ts
 * const platform = spillPlatform();
 * const spill = platform ? createSpillDir(platform) : undefined;
 * ```
 */
export function createSpillDir(platform: SpillPlatform): SpillStore {
  const { fs } = platform;
  const encoder = new TextEncoder();
  let dir: string | undefined;
  let file: string | undefined;
  let fd: number | undefined;
  /** Bytes written to the file. */
  let written = 0;
  /** Byte offset of the first record not yet taken back. */
  let readAt = 0;
  let count = 0;
  let closed = false;

  const reset = (): void => {
    // Everything was taken back: start the file afresh so the disk used stays that of the backlog.
    if (fd !== undefined) fs.closeSync(fd);
    if (file !== undefined) fd = fs.openSync(file, 'w');
    written = 0;
    readAt = 0;
  };

  return {
    durable: false,
    async spill(records) {
      if (closed || records.length === 0) return;
      if (file === undefined) {
        dir = fs.mkdtempSync(`${platform.tmpdir()}${platform.sep}drip-outbox-`);
        file = `${dir}${platform.sep}overflow.jsonl`;
        fd = fs.openSync(file, 'a');
      }
      let text = '';
      for (const r of records) text += `${JSON.stringify(r)}\n`;
      fs.writeSync(fd as number, text);
      written += encoder.encode(text).length;
      count += records.length;
    },
    async unspill(max) {
      if (file === undefined || count === 0) return [];
      const { records, next } = readLines(fs, file, readAt, written, max);
      readAt = next;
      count = Math.max(0, count - records.length);
      if (count === 0) reset();
      return records;
    },
    spilledCount: () => count,
    diskBytes: () => written - readAt,
    async close() {
      if (closed) return;
      closed = true;
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
      if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
