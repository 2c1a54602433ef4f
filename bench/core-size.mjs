// Bundle size of @drip/core's default entry (esbuild, minified, and minified + gzip level 9), beside the
// official @drip-sdk/node full entry measured the same way. Run: node bench/core-size.mjs [--no-write].
// Needs a built core (pnpm -F @drip/core build). Writes the "@drip/core: bundle size" part of BENCHMARKS.md.
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import ts from 'typescript';
import { benchDir, machine, writeSection } from './core-common.mjs';

const write = !process.argv.includes('--no-write');

// One esbuild set-up for every bundle below: bundled, minified ESM for es2022, kept in memory.
function bundle(contents, { resolveDir = benchDir, loader = 'js', platform = 'neutral', ...extra } = {}) {
  return build({
    stdin: { contents, resolveDir, loader },
    bundle: true,
    minify: true,
    format: 'esm',
    platform,
    target: 'es2022',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    ...extra,
  });
}

async function measure(label, contents, platform) {
  const out = await bundle(contents, { platform });
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

// Where the bytes are: the same bundles built from core's sources with a metafile (the dist is one chunk, so
// its metafile has no per-file split). Minified bytes per source file, and for the client-only bundle what
// each file costs after gzip: how much smaller the gzipped bundle gets when that file's output is cut out
// (gzip shares repeats across files, so these shares add up to roughly, not exactly, the total).
async function perFile(contents) {
  const out = await bundle(contents, {
    resolveDir: join(benchDir, '..', 'packages', 'core', 'src'),
    loader: 'ts',
    metafile: true,
  });
  const text = out.outputFiles[0].contents;
  const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
  const total = gz(text);
  // esbuild lists a chunk's inputs in output order.
  let at = 0;
  const files = new Map();
  for (const [file, v] of Object.entries(Object.values(out.metafile.outputs)[0].inputs)) {
    const n = v.bytesInOutput;
    if (n === 0) continue;
    const rest = Buffer.concat([text.subarray(0, at), text.subarray(at + n)]);
    files.set(file.replace(/^.*packages\/core\//, ''), { min: n, gz: total - gz(rest) });
    at += n;
  }
  return files;
}
const clientFiles = await perFile(`export { Drip } from './index';`);
const allFiles = await perFile(`export * from './index';`);
const files = [...allFiles.entries()]
  .map(([file, all]) => ({ file, all: all.min, client: clientFiles.get(file) }))
  .sort((a, b) => (b.client?.min ?? 0) - (a.client?.min ?? 0) || b.all - a.all);

// Floors, not runnable builds: how small the same bundles could get if every property name were one
// letter (esbuild mangleProps on every property, wire field names included) and, in addition, if every
// string literal over 12 characters (error messages, warnings, most wire names) were one character. They
// show how much of the size is names and messages, and how much is code.
function cutStrings(code) {
  const file = ts.createSourceFile('bundle.js', code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  const cuts = [];
  const visit = (node) => {
    const k = node.kind;
    const replacement =
      k === ts.SyntaxKind.StringLiteral
        ? '"x"'
        : k === ts.SyntaxKind.NoSubstitutionTemplateLiteral
          ? '`x`'
          : k === ts.SyntaxKind.TemplateHead
            ? '`x${'
            : k === ts.SyntaxKind.TemplateMiddle
              ? '}x${'
              : k === ts.SyntaxKind.TemplateTail
                ? '}x`'
                : undefined;
    if (replacement !== undefined && node.text.length > 12)
      cuts.push([node.getStart(file), node.getEnd(), replacement]);
    ts.forEachChild(node, visit);
  };
  visit(file);
  cuts.sort((a, b) => b[0] - a[0]);
  let out = code;
  for (const [from, to, replacement] of cuts) out = out.slice(0, from) + replacement + out.slice(to);
  return out;
}
async function floor(row, contents) {
  const out = await bundle(contents, { mangleProps: /./ });
  const code = out.outputFiles[0].text;
  const gz = (text) => gzipSync(text, { level: 9 }).length;
  return { label: row.label, real: row.gz, names: gz(code), both: gz(cutStrings(code)) };
}
const floors = [
  await floor(rows[0], `export { Drip } from ${JSON.stringify(coreEntry)};`),
  await floor(rows[2], `export * from ${JSON.stringify(coreEntry)};`),
];

const kb = (n) => `${(n / 1000).toFixed(1)} kB`;
const table = [
  '| Bundle | min | min + gzip |',
  '| --- | ---: | ---: |',
  ...rows.map((r) => `| ${r.label} | ${kb(r.min)} | ${kb(r.gz)} |`),
].join('\n');
const fileTable = [
  '| Source file | client only: min | client only: gzip share | everything: min |',
  '| --- | ---: | ---: | ---: |',
  ...files.map(
    (r) =>
      `| \`${r.file}\` | ${r.client ? kb(r.client.min) : '—'} | ${r.client ? kb(r.client.gz) : '—'} | ${kb(r.all)} |`,
  ),
].join('\n');
const floorTable = [
  '| Bundle | min + gzip | every property name one letter | and every string over 12 characters cut |',
  '| --- | ---: | ---: | ---: |',
  ...floors.map((f) => `| ${f.label} | ${kb(f.real)} | ${kb(f.names)} | ${kb(f.both)} |`),
].join('\n');
console.log(table);
console.log(fileTable);
console.log(floorTable);

if (write) {
  writeSection(
    'core-size',
    `### @drip/core: bundle size

Command: \`node bench/core-size.mjs\` (after \`pnpm -F @drip/core build\`). esbuild 0.27, \`bundle + minify\`, ESM,
target es2022; \`@drip/core\` with \`platform: neutral\` (it imports no Node module), the official client with
\`platform: node\` (Node built-ins external, as it imports \`crypto\`). gzip level 9. 1 kB = 1000 bytes.
${machine()}, ${new Date().toISOString().slice(0, 10)}.

${table}

Where the bytes are, per source file (esbuild metafile of the same bundles built from \`packages/core/src\`). The
gzip share of a file is how much the gzipped client-only bundle shrinks when that file's output is cut out;
gzip shares repeated text across files, so the shares add up to about the total, not exactly:

${fileTable}

Floors (not runnable builds; min + gzip): the same bundles with every property name shortened to one letter
(esbuild \`mangleProps\` on every property, the wire's field names included), then also with every string
literal over 12 characters cut to one character (messages, warnings, most wire names). What is left is code:

${floorTable}`,
  );
}
