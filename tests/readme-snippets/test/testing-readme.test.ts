/**
 * Runs the examples of `packages/testing/README.md` exactly as written (the rest of this package only
 * typechecks README blocks): the Quick start script, and the "Testing an app" block, whose `test()` is
 * registered here as a test of this file. Each block is written to `test/.generated/` so that its imports
 * resolve through this package's `node_modules`, like a user's project.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';
import { type Snippet, extractSnippets } from '../src/extract';

const here = dirname(fileURLToPath(import.meta.url));
const readmePath = join(here, '..', '..', '..', 'packages', 'testing', 'README.md');
const markdown = readFileSync(readmePath, 'utf8');
const { snippets } = extractSnippets(markdown, 'packages/testing/README.md');
const lines = markdown.split('\n');

/** The TypeScript block right under the heading `## <title>` (the first one of that section). */
function blockUnder(title: string): Snippet {
  const headingLine = lines.findIndex((l) => l.trim() === `## ${title}`) + 1;
  const nextHeading = lines.findIndex((l, i) => i >= headingLine && /^## /.test(l)) + 1;
  const block = snippets.find((s) => s.line > headingLine && (nextHeading === 0 || s.line < nextHeading));
  if (headingLine === 0 || !block)
    throw new Error(`packages/testing/README.md has no TypeScript block under "## ${title}"`);
  return block;
}

const generated = join(here, '.generated');
mkdirSync(generated, { recursive: true });
function write(name: string, block: Snippet): string {
  const file = join(generated, `${name}.ts`);
  writeFileSync(
    file,
    `// Generated from packages/testing/README.md:${block.line}; do not edit.\n${block.code}`,
  );
  return pathToFileURL(file).href;
}

const quickStart = write('testing-quick-start', blockUnder('Quick start'));
const appTest = blockUnder('Testing an app');

test('packages/testing/README.md Quick start runs as written (its assertions throw on a mismatch)', async () => {
  await expect(import(quickStart)).resolves.toBeDefined();
});

test('the "Testing an app" block is a test, with its own assertions', () => {
  expect(appTest.code).toMatch(/\btest\(/);
  expect(appTest.code).toContain('dripMiddleware');
  expect(appTest.code).toContain('meter.flush');
  expect(appTest.code).toContain('api.expectUsage');
});

// Importing the block registers its `test(...)` in this file: it runs as written, as a test of its own.
await import(write('testing-app', appTest));
