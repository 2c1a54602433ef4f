import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Driver } from './driver';

function migrationsDir(): string {
  // Works from src/db (tests) and from dist (bundled library and CLI).
  for (const rel of ['../migrations/', '../../migrations/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  throw new Error('drip-server: migrations directory not found');
}

/** The content of every migration file, for cache keys. */
export function migrationsFingerprint(): string {
  const dir = migrationsDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => `${f}\n${readFileSync(`${dir}${f}`, 'utf8')}`)
    .join('\n');
}

/**
 * Applies every `migrations/*.sql` file not yet applied, in name order. On PostgreSQL an advisory lock
 * keeps two instances starting at once from applying the same file twice.
 */
export async function migrate(db: Driver): Promise<string[]> {
  const dir = migrationsDir();
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const applied: string[] = [];
  for (const file of files) {
    const sql = readFileSync(`${dir}${file}`, 'utf8');
    await db.transaction(async (tx) => {
      if (db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(7305001)');
      const done = await tx.query('SELECT 1 FROM schema_migrations WHERE name = $1', [file]);
      if (done.length > 0) return;
      // Statements run one by one so the same script works on both drivers inside a transaction.
      for (const stmt of splitStatements(sql)) await tx.query(stmt);
      await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
      applied.push(file);
    });
  }
  return applied;
}

function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
