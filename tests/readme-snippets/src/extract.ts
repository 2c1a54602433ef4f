/**
 * Finds the TypeScript code blocks of a Markdown file and the `<!-- snippet-...: ... -->` markers that
 * configure them. See this package's README for the convention.
 */

/** The info-string languages whose blocks are typechecked, with the file extension each gets. */
const LANGUAGES: Readonly<Record<string, 'ts' | 'tsx'>> = { ts: 'ts', typescript: 'ts', tsx: 'tsx' };

/**
 * Marker kinds a README may use right above a TypeScript block.
 *
 * @example
 * MARKER_KINDS.map((k) => `<!-- snippet-${k}: ... -->`);
 */
export const MARKER_KINDS = ['prelude', 'skip', 'module'] as const;

/**
 * One of {@link MARKER_KINDS}.
 *
 * @example
 * const kind: MarkerKind = 'prelude';
 */
export type MarkerKind = (typeof MARKER_KINDS)[number];

/**
 * A fenced TypeScript block of a README.
 *
 * @example
 * const [first] = extractSnippets('```ts\nconst a = 1;\n```\n', 'README.md').snippets;
 * first?.line; // 1, the line of the opening fence
 */
export interface Snippet {
  /** The README's path as given to {@link extractSnippets} (repository-relative in the test). */
  readonly readme: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** `ts` or `tsx`: the extension of the generated file. */
  readonly ext: 'ts' | 'tsx';
  /** The block's code, without the fences and without the fence's indentation. */
  readonly code: string;
  /** Code placed before the block in its generated file (from `snippet-prelude`), or `''`. */
  readonly prelude: string;
  /** 1-based README line of the prelude's first line (0 without a prelude). */
  readonly preludeLine: number;
  /** The reason given by `snippet-skip` (`undefined` when the block is compiled). */
  readonly skip: string | undefined;
  /** The module specifier other blocks may import this block as (from `snippet-module`). */
  readonly module: string | undefined;
}

/**
 * A marker the extractor refused: unknown kind, empty body, duplicated kind, or not directly above a
 * TypeScript block.
 *
 * @example
 * const { problems } = extractSnippets('<!-- snippet-skip: -->\n```ts\nx\n```\n', 'README.md');
 * problems[0]?.message; // 'snippet-skip needs a reason'
 */
export interface MarkerProblem {
  readonly readme: string;
  /** 1-based line where the marker starts. */
  readonly line: number;
  readonly message: string;
}

/**
 * What {@link extractSnippets} found in one file.
 *
 * @example
 * const { snippets, problems } = extractSnippets(markdown, 'packages/core/README.md');
 */
export interface Extraction {
  readonly snippets: Snippet[];
  readonly problems: MarkerProblem[];
}

interface Marker {
  readonly kind: string;
  readonly body: string;
  readonly line: number;
  readonly bodyLine: number;
}

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const MARKER_START = /^ {0,3}<!--\s*snippet-([a-z-]+)\s*:?/;

/**
 * Extracts every ```ts / ```typescript / ```tsx block of a Markdown document, with the markers found in
 * the HTML comments directly above it (no blank line in between). Other fenced blocks are passed over;
 * a marker above one of them, or followed by anything else, is reported as a problem.
 *
 * @param markdown - the document's text.
 * @param readme - the name used in results and messages (e.g. `packages/core/README.md`).
 * @example
 * import { readFileSync } from 'node:fs';
 * const { snippets } = extractSnippets(readFileSync('README.md', 'utf8'), 'README.md');
 * for (const s of snippets) console.log(`${s.readme}:${s.line}`, s.skip ?? 'compiled');
 */
export function extractSnippets(markdown: string, readme: string): Extraction {
  const lines = markdown.split(/\r?\n/);
  const snippets: Snippet[] = [];
  const problems: MarkerProblem[] = [];
  let pending: Marker[] = [];

  const dropPending = (why: string): void => {
    for (const m of pending) {
      problems.push({ readme, line: m.line, message: `snippet-${m.kind} is not directly above ${why}` });
    }
    pending = [];
  };

  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';

    const markerStart = MARKER_START.exec(text);
    if (markerStart) {
      // A marker comment may span several lines; it ends at the first `-->`.
      let body = text.slice(markerStart[0].length);
      const startLine = i + 1;
      while (!body.includes('-->') && i + 1 < lines.length) {
        i++;
        body += `\n${lines[i] ?? ''}`;
      }
      const end = body.indexOf('-->');
      if (end === -1) {
        problems.push({ readme, line: startLine, message: 'snippet marker is never closed with -->' });
        break;
      }
      if (body.slice(end + 3).trim() !== '') {
        problems.push({ readme, line: i + 1, message: 'text after the end of a snippet marker (-->)' });
      }
      const raw = body.slice(0, end);
      // The README line of the body's first non-blank line (a prelude may start on the next line).
      const lead = /^\s*/.exec(raw)?.[0] ?? '';
      const bodyLine = startLine + (lead.match(/\n/g)?.length ?? 0);
      pending.push({ kind: markerStart[1] ?? '', body: raw.trim(), line: startLine, bodyLine });
      continue;
    }

    const open = FENCE_OPEN.exec(text);
    if (open) {
      const indent = open[1]?.length ?? 0;
      const fence = open[2] ?? '```';
      const info = (open[3] ?? '').trim();
      // A backtick fence's info string may not contain backticks (CommonMark); such a line is text.
      if (!(fence.startsWith('`') && info.includes('`'))) {
        const start = i;
        const body: string[] = [];
        let closed = false;
        for (i = i + 1; i < lines.length; i++) {
          const inner = lines[i] ?? '';
          const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(inner);
          if (close && close[1]?.[0] === fence[0] && (close[1]?.length ?? 0) >= fence.length) {
            closed = true;
            break;
          }
          body.push(stripIndent(inner, indent));
        }
        const lang = (info.split(/\s+/)[0] ?? '').toLowerCase();
        const ext = LANGUAGES[lang];
        if (ext === undefined) {
          dropPending(`a TypeScript block (the block at line ${start + 1} is \`${lang || 'plain'}\`)`);
          continue;
        }
        if (!closed) {
          problems.push({ readme, line: start + 1, message: 'code block is never closed' });
        }
        snippets.push(buildSnippet(readme, start + 1, ext, body.join('\n'), pending, problems));
        pending = [];
        continue;
      }
    }

    if (pending.length > 0) dropPending('a TypeScript block');
  }
  if (pending.length > 0) dropPending('a TypeScript block (end of file)');
  return { snippets, problems };
}

function stripIndent(line: string, indent: number): string {
  let n = 0;
  while (n < indent && line[n] === ' ') n++;
  return line.slice(n);
}

function buildSnippet(
  readme: string,
  line: number,
  ext: 'ts' | 'tsx',
  code: string,
  markers: readonly Marker[],
  problems: MarkerProblem[],
): Snippet {
  const seen = new Map<string, Marker>();
  for (const m of markers) {
    if (!(MARKER_KINDS as readonly string[]).includes(m.kind)) {
      problems.push({
        readme,
        line: m.line,
        message: `unknown marker snippet-${m.kind} (known: ${MARKER_KINDS.map((k) => `snippet-${k}`).join(', ')})`,
      });
      continue;
    }
    if (seen.has(m.kind)) {
      problems.push({ readme, line: m.line, message: `snippet-${m.kind} given twice for the same block` });
      continue;
    }
    if (m.body === '') {
      const what = m.kind === 'skip' ? 'a reason' : m.kind === 'module' ? 'a module name' : 'code';
      problems.push({ readme, line: m.line, message: `snippet-${m.kind} needs ${what}` });
      continue;
    }
    if (m.kind === 'module' && /\s/.test(m.body)) {
      problems.push({
        readme,
        line: m.line,
        message: `snippet-module takes one module name, got "${m.body}"`,
      });
      continue;
    }
    seen.set(m.kind, m);
  }
  const prelude = seen.get('prelude');
  return {
    readme,
    line,
    ext,
    code,
    prelude: prelude?.body ?? '',
    preludeLine: prelude?.bodyLine ?? 0,
    skip: seen.get('skip')?.body,
    module: seen.get('module')?.body,
  };
}
