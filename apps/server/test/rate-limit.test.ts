// Per-project rate limit (spec §2.7): off by default; when set, 429 RATE_LIMIT_EXCEEDED with Retry-After
// (and `retryAfter` in the body). Our client waits Retry-After and succeeds; the official client is checked
// for what it does against the real server.
import { Drip } from '@drip/core';
import { Drip as OfficialCore } from '@drip-sdk/node/core';
import { Drip as OfficialFull } from '@drip-sdk/node';
import { describe, expect, it } from 'vitest';
import { parseRateLimit, RateLimiter } from '../src/rate-limit';
import { cli } from './cli-process';
import { BACKENDS, project, useServer } from './helpers';

describe('parseRateLimit and RateLimiter', () => {
  it('parses the documented forms and refuses others', () => {
    expect(parseRateLimit('100/s')).toEqual({ limit: 100, windowMs: 1000 });
    expect(parseRateLimit('600/m')).toEqual({ limit: 600, windowMs: 60_000 });
    expect(parseRateLimit('10000/h')).toEqual({ limit: 10_000, windowMs: 3_600_000 });
    expect(parseRateLimit(' 5 / min ')).toEqual({ limit: 5, windowMs: 60_000 });
    for (const off of [undefined, '', 'off', '0']) expect(parseRateLimit(off)).toBeUndefined();
    for (const bad of ['100', '-1/s', '1.5/s', '100/d', 'abc', '0/s'])
      expect(() => parseRateLimit(bad)).toThrow(/100\/s/);
  });

  it('allows a burst of the limit, then answers 429 with the seconds until a token is back', () => {
    let now = 0;
    const rl = new RateLimiter({ limit: 2, windowMs: 60_000 }, () => now);
    rl.take('a');
    rl.take('a');
    rl.take('b'); // another project has its own budget
    let err: unknown;
    try {
      rl.take('a');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ status: 429, code: 'RATE_LIMIT_EXCEEDED', headers: { 'Retry-After': '30' } });
    now += 30_000;
    rl.take('a');
  });
});

for (const backend of BACKENDS) {
  describe(`rate limit off by default (${backend})`, () => {
    const ctx = useServer(backend);
    it('200 requests at once are all served', async () => {
      const p = await project(ctx.srv);
      const answers = await Promise.all(Array.from({ length: 200 }, () => p.call('GET', '/customers')));
      expect(answers.every((a) => a.status === 200)).toBe(true);
    });
  });

  describe(`rate limit 2/s per project (${backend})`, () => {
    const ctx = useServer(backend, { rateLimit: '2/s' });

    it('our client waits Retry-After and succeeds; every call is applied once', async () => {
      const keys = await ctx.srv.store.createProject();
      const statuses: number[] = [];
      const drip = new Drip({
        apiKey: keys.apiKey,
        baseUrl: ctx.srv.url,
        fetch: async (input, init) => {
          const res = await fetch(input, init);
          statuses.push(res.status);
          return res;
        },
      });
      for (let i = 0; i < 5; i++) await drip.createCustomer({ externalCustomerId: `core-${i}` });
      const stored = await ctx.srv.store.listCustomers(keys.projectId);
      expect(stored.map((c) => c.externalCustomerId).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `core-${i}`));
      expect(statuses).toContain(429);
    });
  });

  describe(`rate limit 2/m per project (${backend})`, () => {
    const ctx = useServer(backend, { rateLimit: '2/m' });

    it('answers 429 RATE_LIMIT_EXCEEDED with Retry-After beyond the budget, per project, and writes nothing', async () => {
      const a = await project(ctx.srv);
      const b = await project(ctx.srv);
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => a.call('POST', '/customers', { externalCustomerId: `c${i}` })),
      );
      const limited = answers.filter((x) => x.status === 429);
      expect(answers.filter((x) => x.status === 201).length).toBe(2);
      expect(limited.length).toBe(4);
      for (const l of limited) {
        expect(l.body.code).toBe('RATE_LIMIT_EXCEEDED');
        // One token back every 30 s: the header and the body say when, in whole seconds.
        expect(Number(l.headers.get('retry-after'))).toBe(l.body.retryAfter);
        expect(l.body.retryAfter).toBeGreaterThanOrEqual(1);
        expect(l.body.retryAfter).toBeLessThanOrEqual(30);
        expect(l.headers.get('access-control-expose-headers')).toContain('Retry-After');
      }
      const stored = await ctx.srv.store.listCustomers(a.projectId);
      expect(stored.length).toBe(answers.filter((x) => x.status === 201).length);
      // Another project is not affected by A's budget.
      expect((await b.call('GET', '/customers')).status).toBe(200);
    });

    it('the official client: core entry throws the 429 at once; full entry retries without Retry-After and gives up', async () => {
      const keys = await ctx.srv.store.createProject();
      const drain = async () => {
        // Use up the budget (2 tokens) so the next call is limited.
        for (let i = 0; i < 4; i++)
          await fetch(`${ctx.srv.url}/v1/customers`, { headers: { authorization: `Bearer ${keys.apiKey}` } });
      };
      await drain();
      const core = new OfficialCore({ apiKey: keys.apiKey, baseUrl: `${ctx.srv.url}/v1` });
      await expect(core.createCustomer({ externalCustomerId: 'official-core' })).rejects.toMatchObject({
        statusCode: 429,
        code: 'RATE_LIMIT_EXCEEDED',
      });
      await drain();
      const full = new OfficialFull({ apiKey: keys.apiKey, baseUrl: `${ctx.srv.url}/v1` });
      // Its retries (100, 200, 400 ms backoff) ignore Retry-After (30 s here) and all fall within it.
      await expect(full.createCustomer({ externalCustomerId: 'official-full' })).rejects.toMatchObject({
        statusCode: 429,
        code: 'RATE_LIMIT_EXCEEDED',
      });
      expect(await ctx.srv.store.listCustomers(keys.projectId)).toEqual([]);
    });
  });
}

describe('drip-server start --rate-limit / DRIP_SERVER_RATE_LIMIT', () => {
  const start = (args: string[], env: Record<string, string> = {}) => {
    const { child, exit, output } = cli(['start', '--memory', '--port', '0', ...args], env);
    const ready = async () => {
      for (let i = 0; i < 1200; i++) {
        const out = output();
        const url = /API base URL\s+(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out)?.[1];
        const key = /Secret key\s+(sk_test_\S+)/.exec(out)?.[1];
        if (url && key && /Dashboard/.test(out)) return { url, key };
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`server did not start: ${output()}`);
    };
    return { child, exit, ready, output };
  };

  it('the flag limits each project; the environment variable is read too; a bad value stops the start', async () => {
    for (const [args, env] of [
      [['--rate-limit', '1/m'], {}],
      [[], { DRIP_SERVER_RATE_LIMIT: '1/m' }],
    ] as const) {
      const srv = start([...args], env);
      const { url, key } = await srv.ready();
      const get = () => fetch(`${url}/customers`, { headers: { authorization: `Bearer ${key}` } });
      expect((await get()).status).toBe(200);
      const limited = await get();
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await limited.json()) as { code: string }).code).toBe('RATE_LIMIT_EXCEEDED');
      srv.child.kill('SIGTERM');
      expect(await srv.exit).toBe(0);
    }
    const bad = start(['--rate-limit', 'lots']);
    expect(await bad.exit).toBe(1);
    expect(bad.output()).toContain('100/s');
  }, 240_000);
});
