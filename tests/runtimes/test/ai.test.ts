// @drip/ai's meterModel on Node, Bun and Deno: src/ai-meter.mjs runs in each runtime (a hand-written AI
// SDK 6 model wrapped with meterModel, inside a request metered by core's pipeline and outside one, by
// generate, a full stream and a stream cancelled half-way) and prints what @drip/testing's in-memory API
// recorded; this checks it. About 2-3 s per runtime.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const tools = join(pkg, '..', '..', '.tools');
const COMMANDS: Record<string, string[]> = {
  node: [process.execPath],
  bun: [join(tools, 'bun/node_modules/.bin/bun'), 'run'],
  deno: [join(tools, 'deno/node_modules/.bin/deno'), 'run', '-A', '--node-modules-dir=manual'],
};
const chosen = (process.env.DRIP_TEST_RUNTIMES ?? 'node,bun,deno')
  .split(',')
  .filter((name) => name in COMMANDS);

interface Recorded {
  usage: Array<{
    customerId: string;
    meter: string;
    quantity: number;
    idempotencyKey: string;
    metadata?: Record<string, unknown>;
  }>;
  runs: Array<{
    customerId: string;
    correlationId?: string;
    status: string;
    events: Array<Record<string, unknown>>;
  }>;
}

const call = (input: number, output: number, callIndex: number) => ({
  eventType: 'llm.call',
  model: 'tiny-1',
  provider: 'hand-written',
  inputTokens: input,
  outputTokens: output,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  callIndex,
});

for (const runtime of chosen) {
  describe(`@drip/ai meterModel on ${runtime}`, () => {
    it('bills each call once and records its llm.call, in a request and outside, aborted stream included', () => {
      const [bin, ...args] = COMMANDS[runtime] as [string, ...string[]];
      if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/runtimes.sh`);
      const run = spawnSync(bin, [...args, 'src/ai-meter.mjs'], {
        cwd: pkg,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
      });
      const out = `${run.stdout}\n${run.stderr}`;
      expect(run.status, out).toBe(0);
      // The result is the JSON line; the SDK's own log lines (the first delivery's info line) may come first.
      const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
      expect(line, out).toBeDefined();
      const recorded = JSON.parse(line as string) as Recorded;

      const meta = { model: 'tiny-1', provider: 'hand-written' };
      expect(recorded.usage.filter((u) => u.meter === 'llm_tokens')).toEqual([
        // In the request: generate and a full stream, 12 + 5 tokens each, keyed by the request and position.
        {
          customerId: 'cus_req',
          meter: 'llm_tokens',
          quantity: 17,
          idempotencyKey: expect.stringMatching(/^ai:cus_req:[a-z0-9.]+:0:llm_tokens$/),
          metadata: meta,
        },
        {
          customerId: 'cus_req',
          meter: 'llm_tokens',
          quantity: 17,
          idempotencyKey: expect.stringMatching(/^ai:cus_req:[a-z0-9.]+:1:llm_tokens$/),
          metadata: meta,
        },
        // Outside: the named customer and run; the cancelled stream is billed from what is known, estimated
        // (28 characters of prompt: 7 input tokens; 'hello ' streamed: 2 output tokens).
        {
          customerId: 'cus_job',
          meter: 'llm_tokens',
          quantity: 17,
          idempotencyKey: 'air:cus_job:job-1:0:llm_tokens',
          metadata: meta,
        },
        {
          customerId: 'cus_job',
          meter: 'llm_tokens',
          quantity: 9,
          idempotencyKey: 'air:cus_job:job-1:1:llm_tokens',
          metadata: { ...meta, estimated: true },
        },
      ]);
      expect(recorded.usage.filter((u) => u.meter === 'api_calls')).toMatchObject([
        { customerId: 'cus_req', quantity: 1 },
      ]);

      expect(recorded.runs).toMatchObject([
        { customerId: 'cus_req', status: 'COMPLETED', events: [call(12, 5, 0), call(12, 5, 1)] },
        { customerId: 'cus_job', correlationId: 'job-1', status: 'COMPLETED', events: [call(12, 5, 0)] },
        {
          customerId: 'cus_job',
          correlationId: 'job-1',
          status: 'CANCELLED',
          events: [{ ...call(7, 2, 1), estimated: true, aborted: true, finishReason: 'aborted' }],
        },
      ]);
      // The streamed call in the request measured its time to first token.
      expect(typeof recorded.runs[0]?.events[1]?.timeToFirstTokenMs).toBe('number');
    });
  });
}
