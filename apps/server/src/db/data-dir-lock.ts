import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** Name of the lock file inside an embedded data directory. */
export const LOCK_FILE = 'drip-server.lock';

/**
 * What a lock file holds: who owns the data directory and, for a running server, how to reach it.
 *
 * @example
 * ```ts
 * const holder: DataDirLockInfo | null = readDataDirLock('.drip-data');
 * if (holder?.url) console.log(`in use by ${holder.url}`);
 * ```
 */
export interface DataDirLockInfo {
  pid: number;
  /** Start time of the process as the OS reports it (Linux: clock ticks after boot), so a reused pid is told apart. */
  processStart: string | null;
  hostname: string;
  /** `server` while `drip-server start` runs; `cli` while a one-shot command (keys create) writes. */
  role: 'server' | 'cli';
  createdAt: string;
  /** The running server's origin, once it listens. */
  url?: string;
  /** Bearer token of the running server's local admin route (`POST /_drip/keys`). */
  adminToken?: string;
}

/**
 * Thrown when another live process holds the data directory.
 *
 * @example
 * ```ts
 * try { await startServer({ dataDir }); } catch (e) { if (e instanceof DataDirLockedError) console.error(e.message); }
 * ```
 */
export class DataDirLockedError extends Error {
  readonly holder: DataDirLockInfo;
  constructor(dir: string, holder: DataDirLockInfo) {
    const who = holder.role === 'server' ? 'a running drip-server' : 'a drip-server command';
    const where = holder.url ? ` at ${holder.url}` : '';
    super(
      `data directory ${dir} is in use by ${who} (pid ${holder.pid} on ${holder.hostname}${where}). ` +
        'Two processes on one embedded database would lose writes: stop the other one, use another --data-dir, ' +
        `or use PostgreSQL (--database-url) to run several servers. If no such process exists, delete ${join(dir, LOCK_FILE)}.`,
    );
    this.name = 'DataDirLockedError';
    this.holder = holder;
  }
}

/** Start time of a process, or null where the OS does not tell (then the pid alone decides). */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) may hold spaces and parentheses: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Field 22 (starttime) is the 20th after the command.
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parse(text: string): DataDirLockInfo | null {
  try {
    const v = JSON.parse(text) as Partial<DataDirLockInfo>;
    if (typeof v.pid !== 'number' || typeof v.hostname !== 'string') return null;
    return {
      pid: v.pid,
      processStart: typeof v.processStart === 'string' ? v.processStart : null,
      hostname: v.hostname,
      role: v.role === 'cli' ? 'cli' : 'server',
      createdAt: String(v.createdAt ?? ''),
      ...(typeof v.url === 'string' ? { url: v.url } : {}),
      ...(typeof v.adminToken === 'string' ? { adminToken: v.adminToken } : {}),
    };
  } catch {
    return null;
  }
}

/** Whether the process named by a lock still runs (a lock from another host counts as live: it cannot be checked). */
function holderAlive(info: DataDirLockInfo): boolean {
  if (info.hostname !== hostname()) return true;
  if (!isAlive(info.pid)) return false;
  // The pid exists: it is the holder only if it started when the holder did (after kill -9 and a
  // reboot or a busy machine, the pid may belong to an unrelated process).
  const now = processStartTime(info.pid);
  return info.processStart === null || now === null || now === info.processStart;
}

/**
 * The live holder of a data directory, or null when it is free or its lock is stale.
 *
 * @example
 * ```ts
 * const holder = readDataDirLock('.drip-data');
 * ```
 */
export function readDataDirLock(dir: string): DataDirLockInfo | null {
  let text: string;
  try {
    text = readFileSync(join(dir, LOCK_FILE), 'utf8');
  } catch {
    return null;
  }
  const info = parse(text);
  return info && holderAlive(info) ? info : null;
}

/**
 * An exclusive claim on an embedded data directory, held by this process until {@link DataDirLock.release}.
 *
 * @example
 * ```ts
 * const lock = acquireDataDirLock('.drip-data', 'server');
 * lock.update({ url: 'http://127.0.0.1:3001' });
 * lock.release();
 * ```
 */
export interface DataDirLock {
  readonly info: DataDirLockInfo;
  /** Adds the server's address (and admin token) once it listens. */
  update(fields: Pick<DataDirLockInfo, 'url' | 'adminToken'>): void;
  /** Removes the lock file if it is still this process's. */
  release(): void;
}

/**
 * Claims a data directory for this process: creates `drip-server.lock` exclusively (pid, process start
 * time, host). A lock left by a process that no longer runs (kill -9, a crash) is taken over; a live
 * holder makes it throw {@link DataDirLockedError}. The file is readable by its owner only, because a
 * running server's admin token is written into it.
 *
 * @example
 * ```ts
 * const lock = acquireDataDirLock('.drip-data', 'cli');
 * try { ... } finally { lock.release(); }
 * ```
 */
export function acquireDataDirLock(dir: string, role: DataDirLockInfo['role']): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  let info: DataDirLockInfo = {
    pid: process.pid,
    processStart: processStartTime(process.pid),
    hostname: hostname(),
    role,
    createdAt: new Date().toISOString(),
  };
  const body = (i: DataDirLockInfo) => `${JSON.stringify(i, null, 2)}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, body(info), { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
    }
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // removed in the meantime: try again
    }
    const holder = parse(text);
    // A file that does not parse is a lock being written right now, or garbage: garbage is stale only
    // once it is no longer being written, so give a writer a moment before taking it over.
    if (holder && holderAlive(holder)) throw new DataDirLockedError(dir, holder);
    if (!holder && attempt < 2) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      continue;
    }
    // Stale: remove it only if it is still the same file, so two processes that both found it stale
    // do not remove each other's fresh lock.
    try {
      if (readFileSync(file, 'utf8') === text) unlinkSync(file);
    } catch {
      // gone already
    }
  }
  let released = false;
  return {
    get info() {
      return info;
    },
    update(fields) {
      if (released) return;
      info = { ...info, ...fields };
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
      writeFileSync(tmp, body(info), { mode: 0o600 });
      renameSync(tmp, file);
    },
    release() {
      if (released) return;
      released = true;
      try {
        const current = parse(readFileSync(file, 'utf8'));
        if (current?.pid === info.pid && current.createdAt === info.createdAt) unlinkSync(file);
      } catch {
        // already gone
      }
    },
  };
}
