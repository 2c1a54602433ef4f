/**
 * Writes README snippets to .ts files and typechecks them in one TypeScript program.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import type { Snippet } from './extract';

/**
 * A compiler diagnostic of one snippet, with its position in the README.
 *
 * @example
 * `${d.readme}:${d.line}:${d.column} TS${d.code} ${d.message}`;
 */
export interface SnippetDiagnostic {
  readonly readme: string;
  /** 1-based README line: inside the block, or inside the `snippet-prelude` marker when `inPrelude`. */
  readonly line: number;
  /** 1-based column in the generated file's line (the README's, except on a prelude's first line). */
  readonly column: number;
  readonly code: number;
  readonly message: string;
  /** True when the diagnostic is in the hidden prelude, not in the code readers see. */
  readonly inPrelude: boolean;
}

/**
 * The generated file of one compiled snippet.
 *
 * @example
 * const [file] = writeSnippets(snippets, outDir, configPath);
 * file?.path; // <outDir>/packages-core-L20.ts
 */
export interface GeneratedFile {
  readonly snippet: Snippet;
  /** Absolute path of the generated file. */
  readonly path: string;
  /** Lines of the prelude (and its separator) before the block's first line in the file. */
  readonly offset: number;
}

/**
 * What {@link typecheckSnippets} found.
 *
 * @example
 * const result = typecheckSnippets(dir);
 * result.bySnippet.get(file)?.length; // 0 when the block compiles
 */
export interface CheckResult {
  /** Diagnostics per generated file (an entry for every file, empty when it compiles). */
  readonly bySnippet: Map<GeneratedFile, SnippetDiagnostic[]>;
  /** Diagnostics of the options or of no snippet (formatted). */
  readonly global: string[];
  /** Wall time of program creation and checking, in milliseconds. */
  readonly ms: number;
}

/**
 * The file name a snippet gets: the README's directory and the fence's line.
 *
 * @example
 * snippetFileName(snippet); // 'packages-core-L20.ts' for the block at line 20 of packages/core/README.md
 */
export function snippetFileName(snippet: Snippet): string {
  const dir = dirname(snippet.readme).replace(/^\.\/?/, '');
  const slug = (dir === '' || dir === '.' ? basename(snippet.readme, '.md') : dir)
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return `${slug}-L${snippet.line}.${snippet.ext}`;
}

/**
 * Writes every snippet that is not skipped to `outDir` (prelude, a blank line, then the block) and a
 * `tsconfig.json` that extends `baseConfig`, lists the files and maps each `snippet-module` name to its
 * file. `tsc --noEmit -p <outDir>` then checks exactly what the test checks.
 *
 * @example
 * const files = writeSnippets(snippets, join(pkgDir, '.generated', 'run'), join(pkgDir, 'tsconfig.snippets.json'));
 */
export function writeSnippets(
  snippets: readonly Snippet[],
  outDir: string,
  baseConfig: string,
): GeneratedFile[] {
  mkdirSync(outDir, { recursive: true });
  const files: GeneratedFile[] = [];
  const paths: Record<string, string[]> = {};
  for (const snippet of snippets) {
    if (snippet.skip !== undefined) continue;
    const path = join(outDir, snippetFileName(snippet));
    const head = snippet.prelude === '' ? '' : `${snippet.prelude}\n\n`;
    writeFileSync(path, `${head}${snippet.code}\n`);
    files.push({ snippet, path, offset: head === '' ? 0 : head.split('\n').length - 1 });
    if (snippet.module !== undefined) {
      paths[snippet.module] = [`./${basename(path).replace(/\.tsx?$/, '')}`];
    }
  }
  const config = {
    extends: relative(outDir, baseConfig).split('\\').join('/'),
    compilerOptions: { paths },
    files: files.map((f) => `./${basename(f.path)}`),
  };
  writeFileSync(join(outDir, 'tsconfig.json'), `${JSON.stringify(config, null, 2)}\n`);
  return files;
}

/**
 * Typechecks the files written by {@link writeSnippets} in one program built from `<outDir>/tsconfig.json`,
 * and maps each diagnostic back to its README line.
 *
 * @example
 * const files = writeSnippets(snippets, outDir, baseConfig);
 * const { bySnippet, global } = typecheckSnippets(outDir, files);
 */
export function typecheckSnippets(outDir: string, files: readonly GeneratedFile[]): CheckResult {
  const started = performance.now();
  const global: string[] = [];
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => outDir,
    getNewLine: () => '\n',
  };
  const parsed = ts.getParsedCommandLineOfConfigFile(join(outDir, 'tsconfig.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      global.push(ts.formatDiagnostic(d, host));
    },
  });
  const bySnippet = new Map<GeneratedFile, SnippetDiagnostic[]>(files.map((f) => [f, []]));
  if (!parsed) return { bySnippet, global, ms: performance.now() - started };
  for (const d of parsed.errors) global.push(ts.formatDiagnostic(d, host));

  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const byPath = new Map(files.map((f) => [resolve(f.path), f]));
  const all = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...program.getSemanticDiagnostics(),
  ];
  for (const d of all) {
    const file = d.file ? byPath.get(resolve(d.file.fileName)) : undefined;
    if (!file || !d.file || d.start === undefined) {
      global.push(ts.formatDiagnostic(d, host).trim());
      continue;
    }
    const pos = d.file.getLineAndCharacterOfPosition(d.start);
    const inPrelude = pos.line < file.offset;
    bySnippet.get(file)?.push({
      readme: file.snippet.readme,
      // The block's first code line is the line after its opening fence.
      line: inPrelude ? file.snippet.preludeLine + pos.line : file.snippet.line + 1 + pos.line - file.offset,
      column: pos.character + 1,
      code: d.code,
      message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
      inPrelude,
    });
  }
  return { bySnippet, global, ms: performance.now() - started };
}

/**
 * Formats diagnostics as `README:line:column - TSxxxx: message` lines, with the offending README line.
 *
 * @example
 * console.log(formatDiagnostics(diagnostics, readmeText.split('\n')));
 */
export function formatDiagnostics(
  diagnostics: readonly SnippetDiagnostic[],
  readmeLines: readonly string[],
): string {
  return diagnostics
    .map((d) => {
      const where = `${d.readme}:${d.line}:${d.column}`;
      const source = d.inPrelude ? '(in the snippet-prelude marker)' : `> ${readmeLines[d.line - 1] ?? ''}`;
      return `${where} - TS${d.code}: ${d.message}\n    ${source}`;
    })
    .join('\n');
}
