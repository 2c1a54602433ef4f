// Bundle size of @drip/core's default entry (esbuild, minified, and minified + gzip level 9), beside the
// official @drip-sdk/node full entry measured the same way. Run: node bench/core-size.mjs [--no-write].
// Needs a built core (pnpm -F @drip/core build). Writes the "@drip/core: bundle size" part of BENCHMARKS.md.
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { benchDir, machine, writeSection } from './core-common.mjs';

const write = !process.argv.includes('--no-write');

async function measure(label, contents, platform) {
  const out = await build({
    stdin: { contents, resolveDir: benchDir, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform,
    target: 'es2022',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].contents;
  return { label, min: code.length, gz: gzipSync(code, { level: 9 }).length };
}

// Bare specifiers: esbuild resolves them with the "import" condition, i.e. the ESM builds.
const coreEntry = '@drip/core';
const officialEntry = '@drip-sdk/node';

const rows = [
  // A consumer that uses only the client class (tree-shaken).
  await measure(
    '`@drip/core`: client only (`import { Drip }`)',
    `export { Drip } from ${JSON.stringify(coreEntry)};`,
    'neutral',
  ),
  // Client + errors + webhooks + key generator: what an app typically imports.
  await measure(
    '`@drip/core`: client, errors, webhooks, keys',
    `export { Drip, DripError, isDripError, verifyWebhookSignature, constructWebhookEvent, generateIdempotencyKey } from ${JSON.stringify(coreEntry)};`,
    'neutral',
  ),
  // Everything the default entry exports (client, outbox, request-metering pipeline, ...).
  await measure(
    '`@drip/core`: everything the default entry exports',
    `export * from ${JSON.stringify(coreEntry)};`,
    'neutral',
  ),
  // The official client's full entry; it imports Node's crypto, so it needs platform node (builtins external).
  await measure(
    '`@drip-sdk/node@0.1.2`: full entry (`export *`)',
    `export * from ${JSON.stringify(officialEntry)};`,
    'node',
  ),
];

// Where the bytes are: the same "everything" bundle built from core's sources with a metafile (the dist is one
// chunk, so its metafile has no per-file split). Minified bytes per source file, largest first.
async function perFile() {
  const out = await build({
    entryPoints: [join(benchDir, '..', 'packages', 'core', 'src', 'index.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const inputs = Object.values(out.metafile.outputs)[0].inputs;
  return Object.entries(inputs)
    .map(([file, v]) => ({ file: file.replace(/^.*packages\/core\//, ''), bytes: v.bytesInOutput }))
    .filter((r) => r.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
}
const files = await perFile();

const kb = (n) => `${(n / 1000).toFixed(1)} kB`;
const table = [
  '| Bundle | min | min + gzip |',
  '| --- | ---: | ---: |',
  ...rows.map((r) => `| ${r.label} | ${kb(r.min)} | ${kb(r.gz)} |`),
].join('\n');
const fileTable = [
  '| Source file | min |',
  '| --- | ---: |',
  ...files.map((r) => `| \`${r.file}\` | ${kb(r.bytes)} |`),
].join('\n');
console.log(table);
console.log(fileTable);

if (write) {
  writeSection(
    'core-size',
    `### @drip/core: bundle size

Command: \`node bench/core-size.mjs\` (after \`pnpm -F @drip/core build\`). esbuild 0.27, \`bundle + minify\`, ESM,
target es2022; \`@drip/core\` with \`platform: neutral\` (it imports no Node module), the official client with
\`platform: node\` (Node built-ins external, as it imports \`crypto\`). gzip level 9. 1 kB = 1000 bytes.
${machine()}, ${new Date().toISOString().slice(0, 10)}.

${table}

Where the bytes of the "everything" bundle are (minified, per source file; esbuild metafile of the same bundle
built from \`packages/core/src/index.ts\`):

${fileTable}`,
  );
}
