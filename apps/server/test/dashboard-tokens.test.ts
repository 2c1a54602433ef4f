// The dashboard's token panel (issue 14) on a database filled directly, on both back ends (PGlite and
// PostgreSQL from DRIP_TEST_DATABASE_URL): exact sums per model, per customer and per customer and model
// from `llm.call` run events, the period bounds, the bounded read (the cut at TOKEN_CALL_LIMIT is a time
// boundary, never half of a timestamp), the index it reads through, escaping, and a run's call lines.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboard, type DashboardDb } from '../src/dashboard/index';
import { loadTokenUsage, renderTokenUsage, TOKEN_CALL_LIMIT } from '../src/dashboard/tokens';
import { openTestDb } from './dashboard-db';
import { BACKENDS, type Backend } from './helpers';

const SK = 'sk_test_TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT';
const HOSTILE_MODEL = '<img src=x onerror=alert(1)>';
const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const SCOPE = { projectId: 'proj_t', mode: 'test' } as const;
const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const at = (msBefore: number) => `'${new Date(T0 - msBefore).toISOString()}'`;
const H = 3_600_000;
const D = 24 * H;

/** One `llm.call` event row as `@drip/ai` records it (attributes hold the extra fields). */
function call(
  id: string,
  customer: string,
  msBefore: number,
  attrs: Record<string, unknown>,
  where: { project?: string; mode?: string; kind?: string; type?: string; run?: string } = {},
): string {
  const json = JSON.stringify(attrs).replaceAll("'", "''");
  return `('${id}', '${where.project ?? 'proj_t'}', '${where.mode ?? 'test'}', '${where.kind ?? 'run'}', '${customer}',
    ${where.run ? `'${where.run}'` : 'NULL'}, '${where.type ?? 'llm.call'}', 1, '${json}', ${at(msBefore)})`;
}

async function seed(exec: (sql: string) => Promise<void>): Promise<void> {
  const rows = [
    call('e1', 'cus_a', 1 * H, {
      model: 'gpt-4o',
      provider: 'openai',
      inputTokens: 1000,
      outputTokens: 200,
      cachedInputTokens: 300,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      latencyMs: 800,
      timeToFirstTokenMs: 120,
      finishReason: 'stop',
    }),
    call('e2', 'cus_a', 2 * H, {
      model: 'gpt-4o',
      inputTokens: 500,
      outputTokens: 100,
      cacheWriteTokens: 50,
      latencyMs: 400,
      estimated: true,
      aborted: true,
    }),
    call('e3', 'cus_a', 3 * H, {
      model: 'claude-sonnet',
      inputTokens: 700,
      outputTokens: 300,
      reasoningTokens: 120,
      latencyMs: 1200,
    }),
    call('e4', 'cus_b', H / 2, {
      model: 'claude-sonnet',
      inputTokens: 2000,
      outputTokens: 1000,
      latencyMs: 1000,
    }),
    call('e5', 'cus_b', H / 6, { model: HOSTILE_MODEL, inputTokens: 1, outputTokens: 2 }),
    // A count sent as a string is no number: the call counts, its input does not (and the page stands).
    call('e6', 'cus_b', H / 12, { model: 'gpt-4o', inputTokens: '9999', outputTokens: 5 }),
    // Inside 7 days only, and inside all time only.
    call('e7', 'cus_b', 3 * D, { model: 'gpt-4o', inputTokens: 100000, outputTokens: 1 }),
    call('e8', 'cus_a', 40 * D, { model: 'gpt-4o', inputTokens: 5, outputTokens: 5 }),
    // Never counted: another project, the other mode, another event type, a usage event.
    call('x1', 'cus_o', H, { model: 'gpt-4o', inputTokens: 777, outputTokens: 777 }, { project: 'proj_o' }),
    call('x2', 'cus_l', H, { model: 'gpt-4o', inputTokens: 777, outputTokens: 777 }, { mode: 'live' }),
    call('x3', 'cus_a', H, { name: 'search', inputTokens: 777 }, { type: 'tool.call' }),
    call('x4', 'cus_a', H, { model: 'gpt-4o', inputTokens: 777 }, { kind: 'usage', type: 'USAGE' }),
    // A run of cus_a: one model call and one tool call, for the timeline.
    call(
      'r1',
      'cus_a',
      40 * D + 2000,
      {
        model: 'gpt-4o-mini',
        provider: 'openai',
        inputTokens: 1234,
        outputTokens: 56,
        cachedInputTokens: 1000,
        reasoningTokens: 7,
        latencyMs: 950,
        timeToFirstTokenMs: 210,
        finishReason: 'stop',
        estimated: true,
      },
      { run: 'run_1' },
    ),
    call(
      'r2',
      'cus_a',
      40 * D + 1000,
      { name: 'web-search', duration: 1500, success: false },
      {
        run: 'run_1',
        type: 'tool.call',
      },
    ),
  ];
  await exec(`
    INSERT INTO projects (id, name) VALUES ('proj_t', 'Tokens'), ('proj_o', 'Other'), ('proj_big', 'Big');
    INSERT INTO api_keys (id, project_id, mode, name, public_key, public_key_hash, secret_key_hash, secret_key_hint)
      VALUES ('key_t', 'proj_t', 'test', 't', 'pk_test_t', '${sha('pk_test_t')}', '${sha(SK)}', 'sk_test_…TTTT');
    INSERT INTO customers (id, project_id, mode, external_customer_id, name) VALUES
      ('cus_a', 'proj_t', 'test', 'alpha', NULL), ('cus_b', 'proj_t', 'test', 'beta', 'Beta Inc'),
      ('cus_o', 'proj_o', 'test', 'other', NULL), ('cus_l', 'proj_t', 'live', 'live', NULL),
      ('cus_big', 'proj_big', 'test', 'big', NULL);
    INSERT INTO workflows (id, project_id, mode, name, slug) VALUES ('wf_1', 'proj_t', 'test', 'Agent', 'agent');
    INSERT INTO runs (id, project_id, mode, customer_id, workflow_id, status, started_at, ended_at, created_at) VALUES
      ('run_1', 'proj_t', 'test', 'cus_a', 'wf_1', 'COMPLETED', ${at(40 * D + 3000)}, ${at(40 * D)}, ${at(40 * D + 3000)});
    INSERT INTO events (id, project_id, mode, kind, customer_id, run_id, event_type, quantity, attributes, created_at)
      VALUES ${rows.join(',\n')};
    -- More calls than one page load sums: g seconds ago, input g, except that the calls from 9999
    -- seconds back on share one timestamp (a run's events do), so the cut must fall before all of them.
    INSERT INTO events (id, project_id, mode, kind, customer_id, event_type, quantity, attributes, created_at)
      SELECT 'big_' || g, 'proj_big', 'test', 'run', 'cus_big', 'llm.call', 1,
        jsonb_build_object('model', 'm', 'inputTokens', g, 'outputTokens', 1),
        '${new Date(T0).toISOString()}'::timestamptz - least(g, 9999) * interval '1 second'
      FROM generate_series(1, ${TOKEN_CALL_LIMIT + 5}) AS g;
  `);
}

const pick = <T extends object>(o: T, keys: (keyof T)[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));
const SUMS = [
  'calls',
  'estimatedCalls',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'reasoningTokens',
  'totalTokens',
  'latencyMsAvg',
] as const;

describe.each(BACKENDS)('token panel on %s', (backend: Backend) => {
  let db: DashboardDb;
  let close: () => Promise<void>;
  /** Every statement the dashboard sent, so its plan can be read back. */
  const sent: Array<{ sql: string; params: readonly unknown[] }> = [];

  beforeAll(async () => {
    const t = await openTestDb(backend);
    close = t.close;
    const query = t.db.query;
    const exec = t.exec;
    await seed(exec);
    db = {
      query: <T>(sql: string, params: readonly unknown[] = []) => {
        sent.push({ sql, params });
        return query<T>(sql, params);
      },
    };
  });
  afterAll(async () => {
    await close?.();
  });

  it('sums every kind of token per model, per customer and per customer and model', async () => {
    const u = await loadTokenUsage(db, SCOPE, '24h', T0);
    expect(u.sinceMs).toBe(T0 - D);
    expect(u.cutAtMs).toBeNull();
    expect(pick(u.total, [...SUMS])).toEqual({
      calls: 6,
      estimatedCalls: 1,
      inputTokens: '4201',
      outputTokens: '1607',
      cachedInputTokens: '300',
      cacheWriteTokens: '50',
      reasoningTokens: '120',
      totalTokens: '5808',
      latencyMsAvg: (800 + 400 + 1200 + 1000) / 4,
    });
    expect(u.modelCount).toBe(3);
    expect(u.customerCount).toBe(2);
    expect(u.models.map((m) => [m.model, m.calls, m.inputTokens, m.outputTokens, m.totalTokens])).toEqual([
      ['claude-sonnet', 2, '2700', '1300', '4000'],
      ['gpt-4o', 3, '1500', '305', '1805'],
      [HOSTILE_MODEL, 1, '1', '2', '3'],
    ]);
    const gpt = u.models.find((m) => m.model === 'gpt-4o');
    expect(
      gpt && pick(gpt, ['cachedInputTokens', 'cacheWriteTokens', 'estimatedCalls', 'latencyMsAvg']),
    ).toEqual({ cachedInputTokens: '300', cacheWriteTokens: '50', estimatedCalls: 1, latencyMsAvg: 600 });
    expect(u.models.find((m) => m.model === 'claude-sonnet')?.reasoningTokens).toBe('120');
    // beta used more tokens (3 008) than alpha (2 800): it comes first
    expect(
      u.customers.map((c) => [c.customerLabel, c.externalCustomerId, c.inputTokens, c.outputTokens]),
    ).toEqual([
      ['Beta Inc', 'beta', '2001', '1007'],
      ['alpha', 'alpha', '2200', '600'],
    ]);
    expect(
      u.customers.map((c) => c.models.map((m) => [m.model, m.calls, m.inputTokens, m.outputTokens])),
    ).toEqual([
      [
        ['claude-sonnet', 1, '2000', '1000'],
        ['gpt-4o', 1, '0', '5'],
        [HOSTILE_MODEL, 1, '1', '2'],
      ],
      [
        ['gpt-4o', 2, '1500', '300'],
        ['claude-sonnet', 1, '700', '300'],
      ],
    ]);
  });

  it('bounds the sums by the period', async () => {
    const week = await loadTokenUsage(db, SCOPE, '7d', T0);
    expect([week.total.calls, week.total.inputTokens]).toEqual([7, '104201']);
    expect(week.customers.find((c) => c.externalCustomerId === 'beta')?.inputTokens).toBe('102001');
    const all = await loadTokenUsage(db, SCOPE, 'all', T0);
    expect(all.sinceMs).toBeNull();
    // + e8 (40 days ago) and the run's model call
    expect([all.total.calls, all.total.inputTokens, all.total.outputTokens]).toEqual([9, '105440', '1669']);
    const empty = await loadTokenUsage(db, { projectId: 'proj_o', mode: 'live' }, '24h', T0);
    expect([empty.total.calls, empty.total.inputTokens, empty.models, empty.customers]).toEqual([
      0,
      '0',
      [],
      [],
    ]);
    expect(renderTokenUsage(empty)).toContain('No model calls in this period');
  });

  it('reads at most TOKEN_CALL_LIMIT calls and then covers exactly those after a time', async () => {
    const u = await loadTokenUsage(db, { projectId: 'proj_big', mode: 'test' }, 'all', T0);
    // The calls 1..9998 seconds ago; the ones sharing the timestamp 9999 s ago are left out, all of them.
    expect(u.cutAtMs).toBe(T0 - 9999_000);
    expect(u.total.calls).toBe(9998);
    expect(u.total.inputTokens).toBe(String((9998 * 9999) / 2));
    expect(u.total.outputTokens).toBe('9998');
    expect(renderTokenUsage(u)).toContain('every call recorded after 2026-11-22 07:13:21 UTC');
    // Fewer calls than the limit in the period (the last 5 000 seconds): no cut.
    const part = await loadTokenUsage(db, { projectId: 'proj_big', mode: 'test' }, '24h', T0 + D - 5000_000);
    expect([part.cutAtMs, part.total.calls]).toEqual([null, 5000]);
  });

  it('reads the period through the llm.call index', async () => {
    sent.length = 0;
    await loadTokenUsage(db, SCOPE, '7d', T0);
    const first = sent[0];
    if (!first) throw new Error('no statement sent');
    const plan = (await db.query<Record<string, unknown>>(`EXPLAIN ${first.sql}`, first.params))
      .map((r) => String(r['QUERY PLAN']))
      .join('\n');
    expect(plan).toContain('events_llm_calls');
  });

  it('renders the panel with every value escaped, and columns only for kinds present', async () => {
    const html = renderTokenUsage(await loadTokenUsage(db, SCOPE, '24h', T0));
    expect(html).not.toContain(HOSTILE_MODEL);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('of which cached');
    expect(html).toContain('of which reasoning');
    const lean = renderTokenUsage(
      await loadTokenUsage(db, { projectId: 'proj_big', mode: 'test' }, '24h', T0),
    );
    expect(lean).not.toContain('of which cached');
    expect(lean).not.toContain('Estimated');
  });

  describe('pages', () => {
    let app: ReturnType<typeof createDashboard>;
    let cookie = '';
    beforeAll(async () => {
      app = createDashboard({ version: '9.9.9', db, now: () => T0 });
      const res = await app.request('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key: SK }).toString(),
      });
      cookie = /drip_dashboard=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? '';
      expect(cookie).not.toBe('');
    });
    const get = async (path: string) => (await app.request(path, { headers: { cookie } })).text();
    const flat = (s: string) =>
      s
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim();
    const row = (html: string, testId: string, attrs: string) =>
      flat(new RegExp(`<tr data-testid="${testId}" ${attrs}[^>]*>([\\s\\S]*?)</tr>`).exec(html)?.[1] ?? '');

    it('shows the panel on the overview for the period the link names (7 days by default)', async () => {
      const week = await get('/');
      expect(week).toContain('data-period="7d"');
      expect(row(week, 'token-customer', 'data-customer="beta"')).toMatch(
        /^Beta Inc cus_b all models 4 0 102,001 /,
      );
      const day = await get('/?tokens=24h');
      // calls, estimated, input, cached, cache write, output, reasoning, total, average latency
      expect(row(day, 'token-model', 'data-model="gpt-4o"')).toBe(
        'gpt-4o 3 1 1,500 300 50 305 0 1,805 600 ms',
      );
      expect(row(day, 'token-pair', 'data-customer="alpha" data-model="claude-sonnet"')).toBe(
        'claude-sonnet 1 0 700 0 0 300 120 1,000 1.20 s',
      );
      // an unknown period is the default, and the parameter is never echoed
      const odd = await get('/?tokens=%3Cscript%3E');
      expect(odd).toContain('data-period="7d"');
      expect(odd).not.toContain('<script>');
      expect(week).not.toContain(SK);
    });

    it("shows each call's model, tokens and latency, and each tool's name and duration, on the run page", async () => {
      const html = await get('/dashboard/runs/run_1');
      const llm = flat(/<div class="call" data-testid="llm-call">([\s\S]*?)<\/div>/.exec(html)?.[1] ?? '');
      expect(llm).toBe(
        'gpt-4o-mini openai · 1,234 in (1,000 cached) → 56 out (7 reasoning) · 950 ms · first token after 210 ms · finish: stop estimated',
      );
      const tool = flat(/<div class="call" data-testid="tool-call">([\s\S]*?)<\/div>/.exec(html)?.[1] ?? '');
      expect(tool).toBe('web-search · 1.50 s failed');
      expect(flat(/<span data-testid="run-tokens">[\s\S]*?<\/dd>/.exec(html)?.[0] ?? '')).toBe(
        '1,234 in → 56 out in 1 model call, 1 estimated',
      );
    });
  });
});
