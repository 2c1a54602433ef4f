import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CheckResult,
  formatDiagnostics,
  type GeneratedFile,
  typecheckSnippets,
  writeSnippets,
} from '../src/check';
import { extractSnippets, type MarkerProblem, type Snippet } from '../src/extract';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(pkgDir, '../..');
const generatedRoot = join(pkgDir, '.generated');
// One directory per run, so two runs in the same checkout never overwrite each other's files.
const runDir = join(generatedRoot, `run-${process.pid}-${Date.now()}`);

/** The root README, every package README, and the local server's. */
function readmePaths(): string[] {
  const packages = readdirSync(join(repoRoot, 'packages'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(repoRoot, 'packages', d.name, 'README.md')))
    .map((d) => `packages/${d.name}/README.md`)
    .sort();
  return ['README.md', ...packages, 'apps/server/README.md'];
}

/** A README with one correct and one deliberately broken block: proves the check can fail. */
const FIXTURE = relative(repoRoot, join(pkgDir, 'test/fixtures/broken-readme.md')).split('\\').join('/');

const readmes = readmePaths();
const texts = new Map<string, string[]>();
const snippets: Snippet[] = [];
const problems: MarkerProblem[] = [];
for (const readme of [...readmes, FIXTURE]) {
  const text = readFileSync(join(repoRoot, readme), 'utf8');
  texts.set(readme, text.split(/\r?\n/));
  const found = extractSnippets(text, readme);
  snippets.push(...found.snippets);
  problems.push(...found.problems);
}
const readmeSnippets = snippets.filter((s) => s.readme !== FIXTURE);
const skipped = readmeSnippets.filter((s) => s.skip !== undefined);

let files: GeneratedFile[] = [];
let result: CheckResult | undefined;

function diagnosticsOf(snippet: Snippet): string {
  const file = files.find((f) => f.snippet === snippet);
  if (!file || !result) throw new Error(`no result for ${snippet.readme}:${snippet.line}`);
  return formatDiagnostics(result.bySnippet.get(file) ?? [], texts.get(snippet.readme) ?? []);
}

beforeAll(() => {
  // Directories of runs that were killed before their cleanup; bounded by what readdir returns.
  if (existsSync(generatedRoot)) {
    for (const name of readdirSync(generatedRoot)) {
      const dir = join(generatedRoot, name);
      if (Date.now() - statSync(dir).mtimeMs > 3_600_000) rmSync(dir, { recursive: true, force: true });
    }
  }
  files = writeSnippets(snippets, runDir, join(pkgDir, 'tsconfig.snippets.json'));
  result = typecheckSnippets(runDir, files);
  console.log(
    `readme-snippets: ${files.length} blocks typechecked in one program in ${(result.ms / 1000).toFixed(1)} s` +
      ` (${readmeSnippets.length} README blocks, ${skipped.length} skipped)`,
  );
});

afterAll(() => {
  if (process.env.README_SNIPPETS_KEEP === '1') console.log(`readme-snippets: files kept in ${runDir}`);
  else rmSync(runDir, { recursive: true, force: true });
});

describe('README TypeScript blocks compile against the built packages', () => {
  it('finds the READMEs and their blocks', () => {
    expect(readmes).toContain('packages/core/README.md');
    expect(readmes).toContain('apps/server/README.md');
    for (const readme of readmes) {
      expect(
        readmeSnippets.some((s) => s.readme === readme),
        `${readme} has no TypeScript block`,
      ).toBe(true);
    }
  });

  it('every snippet marker is well formed and directly above a TypeScript block', () => {
    const lines = problems.map((p) => `${p.readme}:${p.line} ${p.message}`);
    expect(lines, lines.join('\n')).toEqual([]);
  });

  it(`counts ${skipped.length} snippet-skip marker(s), each with a reason`, () => {
    for (const s of skipped) {
      console.log(`readme-snippets: skipped ${s.readme}:${s.line} (${s.skip})`);
      expect(s.skip?.trim(), `${s.readme}:${s.line}`).not.toBe('');
    }
    // Skips are for blocks that cannot compile (output, pseudo-code); most blocks must be compiled.
    expect(skipped.length).toBeLessThanOrEqual(Math.floor(readmeSnippets.length / 10));
  });

  it('the compiler options and shared declarations have no diagnostics', () => {
    expect(result?.global ?? ['not checked'], (result?.global ?? []).join('\n')).toEqual([]);
  });

  for (const snippet of readmeSnippets.filter((s) => s.skip === undefined)) {
    it(`${snippet.readme}:${snippet.line}`, () => {
      const report = diagnosticsOf(snippet);
      expect(report, `\n${report}\n`).toBe('');
    });
  }
});

describe('the check fails on a broken block (fixture)', () => {
  const [good, broken, prelude, exporter, importer, skippedFixture] = snippets.filter(
    (s) => s.readme === FIXTURE,
  );

  it('extracts the fixture blocks with their markers', () => {
    expect(good?.skip).toBeUndefined();
    expect(prelude?.prelude).toContain('declare const client');
    expect(exporter?.module).toBe('@fixture/options');
    expect(importer?.code).toContain("from '@fixture/options'");
    expect(skippedFixture?.skip).toBe('pseudo-code in the fixture');
  });

  it('a correct block has no diagnostics, a prelude and a snippet-module import resolve', () => {
    for (const s of [good, prelude, exporter, importer]) {
      if (!s) throw new Error('fixture block missing');
      expect(diagnosticsOf(s)).toBe('');
    }
  });

  it('a renamed option is reported at its README line, with that line quoted', () => {
    if (!broken) throw new Error('fixture block missing');
    const report = diagnosticsOf(broken);
    const badLine = (texts.get(FIXTURE) ?? []).findIndex((l) => l.includes('apiKeyy')) + 1;
    expect(badLine).toBeGreaterThan(broken.line);
    expect(report).toContain(`${FIXTURE}:${badLine}:`);
    expect(report).toMatch(
      /TS2561: Object literal may only specify known properties, but 'apiKeyy' does not exist/,
    );
    expect(report).toContain("> const drip = new Drip({ apiKeyy: 'sk_test_0123456789' });");
  });

  it('a skipped block is not compiled', () => {
    expect(files.some((f) => f.snippet === skippedFixture)).toBe(false);
  });
});
