// Helpers every benchmark script shares: flag parsing, medians, and rewriting a marked section of
// BENCHMARKS.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const rootDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Parses `--name value` flags over defaults (numbers stay numbers; a bare `--name` is `true`). */
export function parseFlags(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[a.slice(2)] = true;
    else {
      out[a.slice(2)] = Number.isNaN(Number(next)) ? next : Number(next);
      i++;
    }
  }
  return out;
}

/** Median of a list of numbers (the mean of the two middle ones for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Replaces the `<!-- section:start -->...<!-- section:end -->` block of BENCHMARKS.md, or appends it. */
export function writeSection(section, body) {
  const file = join(rootDir, 'BENCHMARKS.md');
  const start = `<!-- ${section}:start -->`;
  const end = `<!-- ${section}:end -->`;
  const block = `${start}\n${body.trimEnd()}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i !== -1 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
  console.error(`wrote the "${section}" section of BENCHMARKS.md`);
}
