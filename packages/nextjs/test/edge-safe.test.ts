import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// The default entry must load on the Edge runtime: bundle the built entry (with @drip/core, as Next does
// for an Edge route) and list every import left outside the bundle.
describe('the default entry is Edge-safe', () => {
  it('imports no Node built-in, directly or through @drip/core', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../dist/index.js', import.meta.url))],
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      platform: 'neutral',
      conditions: ['edge-light', 'worker', 'browser', 'import', 'default'],
      mainFields: ['module', 'main'],
      external: ['next/*', 'next'],
      logLevel: 'silent',
    });
    const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    expect(imports.filter((p) => builtins.has(p) || p.startsWith('node:'))).toEqual([]);
    expect(imports.filter((p) => !p.startsWith('next'))).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes('core'))).toBe(true);
  });
});
