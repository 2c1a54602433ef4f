/**
 * The file-backed outbox store (Node, Bun, Deno with Node compatibility): an append-only log with
 * checkpoints, replayed on start. Imported only by `@drip/core/node`.
 *
 * Format: one JSON object per line, `{"p":[records],"d":[ids],"c":spillCursor}`; a line is one atomic
 * step (records accepted and ids finished together), and a torn last line (a crash mid-write) is ignored.
 */

import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { OutboxRecord, OutboxStore } from './types';

/**
 * Options of {@link createFileOutboxStore}.
 *
 * @example
 * ```ts
 * createFileOutboxStore({ dir: '.drip-outbox', fsync: 'always' });
 * ```
 */
export interface FileOutboxStoreOptions {
  /** Directory of the log (created if missing). One process per directory (a lock file enforces it). */
  dir: string;
  /**
   * When data reaches the disk itself (the log is written with `write()` before `enqueue()`'s batch is
   * considered stored, so a killed process, SIGKILL included, loses nothing; fsync matters only for a
   * machine crash or power loss):
   * - `interval` (default): `fsync` at most every `fsyncIntervalMs` (1 s) while writing.
   * - `always`: `fsync` after every write (slowest).
   * - `none`: leave it to the operating system.
   */
  fsync?: 'interval' | 'always' | 'none' | undefined;
  fsyncIntervalMs?: number | undefined;
  /** Rewrite the log with only the live records once it is larger than this (default 8 MiB). */
  compactBytes?: number | undefined;
}

/**
 * The file-backed store: an {@link OutboxStore} with spill support, plus the path of its log.
 *
 * @example
 * ```ts
 * const store: FileOutboxStore = createFileOutboxStore({ dir: '.drip-outbox' });
 * console.log(store.path);
 * ```
 */
export interface FileOutboxStore extends OutboxStore {
  readonly path: string;
  spill(records: readonly OutboxRecord[]): Promise<void>;
  unspill(max: number): Promise<OutboxRecord[]>;
  spilledCount(): number;
  close(): Promise<void>;
}

interface Line {
  p?: OutboxRecord[];
  d?: number[];
  c?: number;
}

/** Directories locked by this process (shared by every copy of the package). */
function lockedHere(): Set<string> {
  const key = Symbol.for('drip.outbox.fileLocks');
  const g = globalThis as unknown as Record<symbol, Set<string> | undefined>;
  let set = g[key];
  if (!set) {
    set = new Set();
    Object.defineProperty(globalThis, key, { value: set, configurable: true, writable: true });
  }
  return set;
}

/**
 * What a lock file says about its owner: the pid and, on Linux, the process's start time (field 22 of
 * `/proc/<pid>/stat`, in clock ticks since boot), which tells a live owner from a reused pid.
 */
interface LockOwner {
  pid: number;
  start?: string | undefined;
}

/** `/proc/<pid>/stat` split after the command name (which may contain spaces and parentheses). */
function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** This process's start time as the lock records it (`undefined` without `/proc`). */
function startTimeOf(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as { pid?: unknown; start?: unknown };
    if (typeof o === 'number') return { pid: o };
    if (typeof o?.pid === 'number')
      return { pid: o.pid, start: typeof o.start === 'string' ? o.start : undefined };
  } catch {
    // A torn lock file (the owner died while writing it) says nothing: treat as stale.
  }
  return undefined;
}

/**
 * Whether the lock's owner is still running. Right after `kill -9` the old pid stays visible (a zombie
 * until its parent reaps it, or a pid reused by an unrelated process), so a bare `kill(pid, 0)` would keep
 * refusing the directory: where `/proc` exists, a zombie or a process started at another time is not the
 * owner. Elsewhere, `kill(pid, 0)` decides.
 */
function ownerAlive(owner: LockOwner): boolean {
  if (owner.pid === process.pid) return false; // our pid, written by an earlier life of it (containers)
  const stat = procStat(owner.pid);
  if (stat !== undefined) {
    const state = stat[0];
    if (state === 'Z' || state === 'X' || state === 'x') return false;
    if (owner.start !== undefined && stat[19] !== owner.start) return false;
    return true;
  }
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/**
 * Creates the file-backed store. With it, a process killed at any point (SIGKILL included) loses
 * nothing that was written: on the next start, the outbox replays the log, and since every record keeps
 * the idempotency key it was given when accepted, nothing is billed twice. Records are written in a
 * batch right after the caller's synchronous code (a microtask), never on the caller's own tick.
 *
 * @example
 * ```ts
 * import { createOutbox } from '@drip/core';
 * import { createFileOutboxStore } from '@drip/core/node';
 * const outbox = createOutbox({ client, store: createFileOutboxStore({ dir: '.drip-outbox' }) });
 * ```
 */
export function createFileOutboxStore(options: FileOutboxStoreOptions): FileOutboxStore {
  const dir = options.dir;
  const logPath = join(dir, 'outbox.log');
  const spillPath = join(dir, 'outbox.spill');
  const lockPath = join(dir, 'outbox.lock');
  const fsyncMode = options.fsync ?? 'interval';
  const fsyncEvery = options.fsyncIntervalMs ?? 1_000;
  const compactBytes = options.compactBytes ?? 8 * 1024 * 1024;

  let fd: number | undefined;
  let spillFd: number | undefined;
  let size = 0;
  const live = new Set<number>();
  let cursor = 0;
  let pendingCursor: number | undefined;
  let spilledCount = 0;
  let spillSize = 0;
  let dirty = false;
  let syncTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let locked = false;

  const sync = (): void => {
    syncTimer = undefined;
    if (fd !== undefined && dirty) {
      fsyncSync(fd);
      dirty = false;
    }
  };

  const afterWrite = (): void => {
    dirty = true;
    if (fsyncMode === 'always') sync();
    else if (fsyncMode === 'interval' && syncTimer === undefined) {
      syncTimer = setTimeout(sync, fsyncEvery);
      syncTimer.unref?.();
    }
  };

  const write = (line: Line): void => {
    if (fd === undefined) throw new Error('file outbox store is not open (call load() first)');
    const text = `${JSON.stringify(line)}\n`;
    writeSync(fd, text);
    size += Buffer.byteLength(text);
    afterWrite();
  };

  const replay = (text: string, onLine: (line: Line) => void): void => {
    const lines = text.split('\n');
    // The last element is '' after a complete final line; anything else is a torn write.
    for (let i = 0; i < lines.length - 1; i++) {
      const raw = lines[i];
      if (!raw) continue;
      try {
        onLine(JSON.parse(raw) as Line);
      } catch {
        // A corrupt line (never a complete one written by this store) is skipped.
      }
    }
  };

  const compact = (): void => {
    if (fd === undefined) return;
    const records = new Map<number, OutboxRecord>();
    replay(readFileSync(logPath, 'utf8'), (line) => {
      for (const r of line.p ?? []) records.set(r.id, r);
      for (const id of line.d ?? []) records.delete(id);
    });
    const tmp = `${logPath}.tmp`;
    const checkpoint: Line = { p: [...records.values()], c: cursor };
    writeFileSync(tmp, `${JSON.stringify(checkpoint)}\n`);
    const tfd = openSync(tmp, 'r+');
    fsyncSync(tfd);
    closeSync(tfd);
    closeSync(fd);
    renameSync(tmp, logPath);
    fd = openSync(logPath, 'a');
    size = fstatSync(fd).size;
    dirty = false;
  };

  const lock = (): void => {
    if (locked) return; // a load() retried after a later step failed
    mkdirSync(dir, { recursive: true });
    const held = lockedHere();
    if (held.has(lockPath))
      throw new Error(`outbox directory ${dir} is in use by another store of this process`);
    const me: LockOwner = { pid: process.pid, start: startTimeOf(process.pid) };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(lockPath, JSON.stringify(me), { flag: 'wx' });
        held.add(lockPath);
        locked = true;
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
        let text = '';
        try {
          text = readFileSync(lockPath, 'utf8');
        } catch {
          continue; // removed meanwhile: try again
        }
        const owner = parseOwner(text);
        if (owner !== undefined && ownerAlive(owner)) {
          throw new Error(
            `outbox directory ${dir} is in use by process ${owner.pid}; give each process its own directory`,
          );
        }
        try {
          unlinkSync(lockPath); // stale lock of a dead process (e.g. SIGKILL)
        } catch {
          // removed by another process taking it over: the next attempt decides
        }
      }
    }
    throw new Error(`outbox directory ${dir} could not be locked`);
  };

  return {
    durable: true,
    path: logPath,
    async load() {
      lock();
      const records = new Map<number, OutboxRecord>();
      if (existsSync(logPath)) {
        replay(readFileSync(logPath, 'utf8'), (line) => {
          for (const r of line.p ?? []) records.set(r.id, r);
          for (const id of line.d ?? []) records.delete(id);
          if (typeof line.c === 'number') cursor = line.c;
        });
      }
      fd = openSync(logPath, 'a');
      size = fstatSync(fd).size;
      for (const id of records.keys()) live.add(id);
      if (existsSync(spillPath)) {
        const text = readFileSync(spillPath, 'utf8');
        spillSize = Buffer.byteLength(text);
        if (cursor > spillSize) cursor = spillSize;
        const rest = Buffer.from(text).subarray(cursor).toString('utf8');
        // Only complete lines count; a torn tail is cut off so later spills start on a fresh line.
        const complete = rest.lastIndexOf('\n') + 1;
        spilledCount = rest
          .slice(0, complete)
          .split('\n')
          .filter((l) => l.length > 0).length;
        if (complete < rest.length) {
          spillSize = cursor + Buffer.byteLength(rest.slice(0, complete));
          const sfd = openSync(spillPath, 'r+');
          ftruncateSync(sfd, spillSize);
          closeSync(sfd);
        }
      } else {
        cursor = 0;
      }
      return [...records.values()].sort((a, b) => a.id - b.id);
    },
    async append(put, deleted) {
      if (closed) return;
      const line: Line = {};
      if (put.length > 0) line.p = put as OutboxRecord[];
      if (deleted.length > 0) line.d = deleted as number[];
      if (pendingCursor !== undefined) {
        line.c = pendingCursor;
        cursor = pendingCursor;
        pendingCursor = undefined;
      }
      write(line);
      if (line.c !== undefined && spilledCount === 0 && cursor >= spillSize && spillSize > 0) {
        // Everything spilled is back in the log: start the spill file afresh, then record cursor 0.
        // A crash in between leaves a cursor past the end of an empty file, which reads as empty.
        if (spillFd !== undefined) {
          closeSync(spillFd);
          spillFd = undefined;
        }
        writeFileSync(spillPath, '');
        spillSize = 0;
        cursor = 0;
        write({ c: 0 });
      }
      for (const r of put) live.add(r.id);
      for (const id of deleted) live.delete(id);
      if (size > compactBytes && size > live.size * 2048) compact();
    },
    async spill(records) {
      if (spillFd === undefined) spillFd = openSync(spillPath, 'a');
      const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
      writeSync(spillFd, text);
      spillSize += Buffer.byteLength(text);
      spilledCount += records.length;
      if (fsyncMode === 'always') fsyncSync(spillFd);
    },
    async unspill(max) {
      const out: OutboxRecord[] = [];
      let pos = pendingCursor ?? cursor;
      if (spilledCount === 0 || pos >= spillSize) return out;
      const rfd = openSync(spillPath, 'r');
      try {
        const chunk = Buffer.alloc(256 * 1024);
        let carry = '';
        let read = pos;
        while (out.length < max && read < spillSize) {
          const n = readSync(rfd, chunk, 0, chunk.length, read);
          if (n <= 0) break;
          read += n;
          carry += chunk.subarray(0, n).toString('utf8');
          let nl = carry.indexOf('\n');
          while (nl !== -1 && out.length < max) {
            const raw = carry.slice(0, nl);
            pos += Buffer.byteLength(raw) + 1;
            carry = carry.slice(nl + 1);
            if (raw.length > 0) out.push(JSON.parse(raw) as OutboxRecord);
            nl = carry.indexOf('\n');
          }
        }
      } finally {
        closeSync(rfd);
      }
      spilledCount = Math.max(0, spilledCount - out.length);
      pendingCursor = pos;
      return out;
    },
    spilledCount: () => spilledCount,
    async close() {
      if (closed) return;
      closed = true;
      if (syncTimer !== undefined) clearTimeout(syncTimer);
      if (fd !== undefined) {
        if (fsyncMode !== 'none') fsyncSync(fd);
        closeSync(fd);
        fd = undefined;
      }
      if (spillFd !== undefined) {
        closeSync(spillFd);
        spillFd = undefined;
      }
      if (!locked) return; // never remove the lock of the process that owns the directory
      locked = false;
      lockedHere().delete(lockPath);
      try {
        unlinkSync(lockPath);
      } catch {
        // already gone
      }
    },
  };
}
