import { describe, expect, it } from 'vitest';
import { snippetFileName } from './check';
import { extractSnippets } from './extract';

const fence = '```';

describe('extractSnippets', () => {
  it('takes ts, typescript and tsx blocks with the line of their opening fence, and nothing else', () => {
    const md = [
      '# Title',
      `${fence}sh`,
      'npm install x',
      fence,
      `${fence}ts`,
      'const a = 1;',
      fence,
      '',
      `${fence}TypeScript title="x.ts"`,
      'const b = 2;',
      '',
      'const c = 3;',
      fence,
      '~~~tsx',
      'const d = <div />;',
      '~~~',
      `${fence}js`,
      'const e = 5;',
      fence,
    ].join('\n');
    const { snippets, problems } = extractSnippets(md, 'R.md');
    expect(problems).toEqual([]);
    expect(snippets.map((s) => [s.line, s.ext, s.code])).toEqual([
      [5, 'ts', 'const a = 1;'],
      [9, 'ts', 'const b = 2;\n\nconst c = 3;'],
      [14, 'tsx', 'const d = <div />;'],
    ]);
  });

  it('keeps a shorter or different fence inside a block as code, and strips the fence indentation', () => {
    const md = ['  ````ts', '  const s = `', '  ```', '  ~~~', '  `;', '  ````'].join('\n');
    const [s] = extractSnippets(md, 'R.md').snippets;
    expect(s?.code).toBe('const s = `\n```\n~~~\n`;');
  });

  it('reads one-line and multi-line markers directly above a block', () => {
    const md = [
      'Text.',
      '<!-- snippet-prelude:',
      '',
      'declare const app: unknown;',
      'declare const req: unknown;',
      '-->',
      '<!-- snippet-module: @/lib/drip -->',
      `${fence}ts`,
      'export {};',
      fence,
      '<!-- snippet-skip: shell output, not code -->',
      `${fence}ts`,
      '$ drip-server start',
      fence,
    ].join('\n');
    const { snippets, problems } = extractSnippets(md, 'R.md');
    expect(problems).toEqual([]);
    expect(snippets[0]).toMatchObject({
      line: 8,
      prelude: 'declare const app: unknown;\ndeclare const req: unknown;',
      preludeLine: 4,
      module: '@/lib/drip',
      skip: undefined,
    });
    expect(snippets[1]).toMatchObject({
      line: 12,
      prelude: '',
      preludeLine: 0,
      skip: 'shell output, not code',
    });
  });

  it('reports a skip without a reason, an unknown or repeated marker, and an empty prelude', () => {
    const md = [
      '<!-- snippet-skip: -->',
      '<!-- snippet-skip:   -->',
      '<!-- snippet-preludes: x -->',
      '<!-- snippet-prelude -->',
      '<!-- snippet-module: two words -->',
      `${fence}ts`,
      'x;',
      fence,
    ].join('\n');
    const { snippets, problems } = extractSnippets(md, 'R.md');
    expect(problems.map((p) => [p.line, p.message])).toEqual([
      [1, 'snippet-skip needs a reason'],
      [2, 'snippet-skip needs a reason'],
      [3, 'unknown marker snippet-preludes (known: snippet-prelude, snippet-skip, snippet-module)'],
      [4, 'snippet-prelude needs code'],
      [5, 'snippet-module takes one module name, got "two words"'],
    ]);
    // A block whose skip marker is invalid is compiled, not silently skipped.
    expect(snippets[0]?.skip).toBeUndefined();
  });

  it('reports a marker that is not directly above a TypeScript block', () => {
    const md = [
      '<!-- snippet-skip: too far -->',
      '',
      `${fence}ts`,
      'a;',
      fence,
      '<!-- snippet-prelude: declare const x: 1; -->',
      `${fence}bash`,
      'ls',
      fence,
      '<!-- snippet-skip: at the end -->',
    ].join('\n');
    const { snippets, problems } = extractSnippets(md, 'R.md');
    expect(snippets).toHaveLength(1);
    expect(snippets[0]?.skip).toBeUndefined();
    expect(problems.map((p) => p.line)).toEqual([1, 6, 10]);
    expect(problems[1]?.message).toContain('the block at line 7 is `bash`');
  });

  it('reports an unclosed marker and an unclosed block', () => {
    expect(extractSnippets('<!-- snippet-skip: never closed\n', 'R.md').problems[0]?.message).toBe(
      'snippet marker is never closed with -->',
    );
    const { snippets, problems } = extractSnippets(`${fence}ts\nconst a = 1;\n`, 'R.md');
    expect(snippets[0]?.code).toBe('const a = 1;\n');
    expect(problems[0]).toMatchObject({ line: 1, message: 'code block is never closed' });
  });

  it('ignores ordinary HTML comments and markers inside code blocks', () => {
    const md = [
      `${fence}md`,
      '<!-- snippet-skip: inside a block -->',
      fence,
      '<!-- a note -->',
      'Text.',
    ].join('\n');
    expect(extractSnippets(md, 'R.md')).toEqual({ snippets: [], problems: [] });
  });
});

describe('snippetFileName', () => {
  it('names the file after the README directory and the fence line', () => {
    const base = { code: '', prelude: '', preludeLine: 0, skip: undefined, module: undefined } as const;
    expect(snippetFileName({ ...base, readme: 'packages/core/README.md', line: 20, ext: 'ts' })).toBe(
      'packages-core-L20.ts',
    );
    expect(snippetFileName({ ...base, readme: 'README.md', line: 3, ext: 'tsx' })).toBe('README-L3.tsx');
  });
});
