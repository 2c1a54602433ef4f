/** Runtime detection and environment access that is safe on every runtime (no `node:` imports). */

interface MaybeGlobals {
  process?: { env?: Record<string, string | undefined>; versions?: { node?: string } };
  Bun?: { version?: string };
  Deno?: { version?: { deno?: string } };
  EdgeRuntime?: unknown;
  window?: unknown;
  document?: unknown;
}

const g = globalThis as unknown as MaybeGlobals;

/**
 * The runtime part of `X-Drip-Client`: `node/20.11.1`, `bun/1.1.0`, `deno/1.44`, `edge` or `browser`.
 *
 * @example
 * ```ts
 * detectRuntime(); // 'node/20.20.0'
 * ```
 */
export function detectRuntime(): string {
  if (g.Deno?.version?.deno) return `deno/${g.Deno.version.deno}`;
  if (g.Bun?.version) return `bun/${g.Bun.version}`;
  if (typeof g.EdgeRuntime === 'string') return 'edge';
  if (g.process?.versions?.node) return `node/${g.process.versions.node}`;
  if (g.window !== undefined && g.document !== undefined) return 'browser';
  return 'edge';
}

/**
 * Whether the runtime forbids setting `User-Agent` (browsers).
 *
 * @example
 * ```ts
 * isBrowser(); // false on Node
 * ```
 */
export function isBrowser(): boolean {
  return g.window !== undefined && g.document !== undefined && !g.process?.versions?.node;
}

/**
 * Reads an environment variable when `process.env` exists (edge runtimes have none); empty means unset.
 *
 * @example
 * ```ts
 * readEnv('DRIP_API_KEY'); // 'sk_test_...' or undefined
 * ```
 */
export function readEnv(name: string): string | undefined {
  try {
    const v = g.process?.env?.[name];
    return typeof v === 'string' && v.length > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}
