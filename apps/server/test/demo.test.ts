// The one-command demo, end to end: `node scripts/demo.mjs --once` starts the server on its embedded
// database and the Express example, drives traffic, and must print a summary whose numbers match the
// traffic it sent. Uses the built dist/ folders (the repository's test command builds first).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'drip-demo-'));

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function runDemo(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/demo.mjs', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new Error(`demo did not finish in time:\n${out}`));
    }, 150_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Rows of the table printed under `title`, as header → cell maps (numbers without separators). */
function table(out: string, title: string): Record<string, string>[] {
  const lines = out.split('\n');
  const start = lines.findIndex((l) => l.trim() === title);
  if (start === -1) throw new Error(`no table "${title}" in:\n${out}`);
  const header = (lines[start + 1] ?? '').trim().split(/\s{2,}/);
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(start + 3)) {
    if (line.trim() === '') break;
    const cells = line.trim().split(/\s{2,}/);
    rows.push(Object.fromEntries(header.map((h, i) => [h, (cells[i] ?? '').replaceAll(',', '')])));
  }
  return rows;
}

describe('npm run demo -- --once', () => {
  it('runs the server and the Express example, and the summary adds up', { timeout: 180_000 }, async () => {
    const { code, out } = await runDemo([
      '--once',
      '--no-build',
      '--duration',
      '3',
      '--examples',
      'express',
      '--data-dir',
      dataDir,
    ]);
    expect(code, out).toBe(0);
    expect(out).toContain('@drip/example-express');
    expect(out).toMatch(/Checks: (\d+)\/\1 hold/);
    // a webhook endpoint got the charges and failed runs, every signature verified (counted in the checks)
    expect(out).toMatch(/Webhooks received \(signed, verified with @drip\/core\): /);
    expect(out).not.toContain('bad signature');

    const runs = table(out, 'Runs by status');
    const usage = table(out, 'Usage per customer and meter');
    const charges = table(out, 'Charges (premium reports, charged with POST /v1/usage) and balances (USDC)');
    expect(runs.map((r) => r.customer)).toEqual(['acme', 'globex', 'initech']);
    let sent = 0;
    for (const r of runs) {
      const u = usage.find((x) => x.customer === r.customer);
      const ch = charges.find((x) => x.customer === r.customer);
      expect(Number(r.total)).toBe(Number(r['requests sent']));
      expect(Number(r.total)).toBeGreaterThan(0);
      // every completed request was metered once; failed ones were not billed
      expect(Number(u?.api_calls)).toBe(Number(r.COMPLETED ?? 0));
      // balance = 100 USDC test credit - charges
      expect(Number(ch?.balance)).toBeCloseTo(100 - Number(ch?.charged), 6);
      sent += Number(r['requests sent']);
    }
    expect(Number(usage.find((x) => x.customer === 'acme')?.llm_tokens)).toBeGreaterThan(0);
    expect(out).toContain(`${sent} requests sent to 1 app(s)`);
    expect(out).toMatch(/http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{43}\n/);
    // the embedded database lives in the directory it was given
    expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
  });

  it('refuses bad arguments before doing anything', async () => {
    const { code, out } = await runDemo(['--duration', 'soon', '--no-build']);
    expect(code).toBe(2);
    expect(out).toContain('--duration');
  });
});
