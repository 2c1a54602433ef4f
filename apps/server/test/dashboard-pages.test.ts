// The dashboard's pages and login flows on a database filled directly (no API involved), so each
// assertion points at the dashboard alone: what it reads, how it escapes, and who may see what. Runs on
// both back ends (PGlite and PostgreSQL from DRIP_TEST_DATABASE_URL), whose drivers return numbers,
// bigints and timestamps differently.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboard, type DashboardDb, DashboardSessions } from '../src/dashboard/index';
import { openTestDb } from './dashboard-db';
import { BACKENDS, type Backend } from './helpers';

const SK_A = 'sk_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const PK_A = 'pk_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const SK_B = 'sk_test_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const SK_C = 'sk_test_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC';
const SK_A2 = 'sk_test_A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2';
const SK_REVOKED = 'sk_test_RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR';
const HOSTILE = '<script>alert("x")</script>';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
let exec: (sql: string) => Promise<void>;
let close: () => Promise<void>;
let db: DashboardDb;
let now = T0;
let sessions: DashboardSessions;
let app: ReturnType<typeof createDashboard>;

async function seed(): Promise<void> {
  await exec(`
    INSERT INTO projects (id, name) VALUES ('proj_a', 'Acme Labs'), ('proj_b', 'Other Co'), ('proj_c', 'Crowded');
    INSERT INTO api_keys (id, project_id, mode, name, public_key, public_key_hash, secret_key_hash, secret_key_hint)
      VALUES ('key_c', 'proj_c', 'test', 'c', 'pk_test_c', '${sha('pk_test_c')}', '${sha(SK_C)}', 'sk_test_…CCCC'),
        ('key_a2', 'proj_a', 'test', 'a2', 'pk_test_a2', '${sha('pk_test_a2')}', '${sha(SK_A2)}', 'sk_test_…A2A2');
    INSERT INTO customers (id, project_id, mode, external_customer_id, created_at)
      SELECT 'cus_bulk_' || g, 'proj_c', 'test', 'bulk-' || g, '2026-11-01T00:00:00Z'::timestamptz + g * interval '1 second'
      FROM generate_series(1, 205) AS g;
    INSERT INTO api_keys (id, project_id, mode, name, public_key, public_key_hash, secret_key_hash, secret_key_hint, revoked_at) VALUES
      ('key_a', 'proj_a', 'test', 'a', '${PK_A}', '${sha(PK_A)}', '${sha(SK_A)}', 'sk_test_…AAAA', NULL),
      ('key_b', 'proj_b', 'test', 'b', 'pk_test_b', '${sha('pk_test_b')}', '${sha(SK_B)}', 'sk_test_…BBBB', NULL),
      ('key_r', 'proj_a', 'test', 'r', 'pk_test_r', '${sha('pk_test_r')}', '${sha(SK_REVOKED)}', 'sk_test_…RRRR', now());
    INSERT INTO customers (id, project_id, mode, external_customer_id, balance_micros, pending_micros, created_at) VALUES
      ('cus_acme', 'proj_a', 'test', 'acme', 99997000, 0, '2026-11-22T09:00:00Z'),
      ('cus_globex', 'proj_a', 'test', 'globex', 100000000, 1000, '2026-11-22T09:00:01Z'),
      ('cus_hostile', 'proj_a', 'test', '${HOSTILE.replaceAll("'", "''")}', 100000000, 0, '2026-11-22T09:00:02Z'),
      ('cus_other', 'proj_b', 'test', 'other-project-customer', 5000000, 0, '2026-11-22T09:00:00Z'),
      ('cus_live', 'proj_a', 'live', 'live-only-customer', 0, 0, '2026-11-22T09:00:00Z');
    INSERT INTO workflows (id, project_id, mode, name, slug) VALUES
      ('wf_agent', 'proj_a', 'test', 'Agent', 'agent'), ('wf_b', 'proj_b', 'test', 'Other', 'other');
    INSERT INTO runs (id, project_id, mode, customer_id, workflow_id, status, started_at, ended_at, error_code, error_message, created_at) VALUES
      ('run_ok', 'proj_a', 'test', 'cus_acme', 'wf_agent', 'COMPLETED', '2026-11-22T09:10:00.000Z', '2026-11-22T09:10:01.250Z', NULL, NULL, '2026-11-22T09:10:00Z'),
      ('run_bad', 'proj_a', 'test', 'cus_globex', 'wf_agent', 'FAILED', '2026-11-22T09:11:00.000Z', '2026-11-22T09:11:00.040Z', 'Error', 'The agent crashed', '2026-11-22T09:11:00Z'),
      ('run_other', 'proj_b', 'test', 'cus_other', 'wf_b', 'COMPLETED', NULL, NULL, NULL, NULL, '2026-11-22T09:12:00Z');
    INSERT INTO events (id, project_id, mode, kind, customer_id, run_id, event_type, usage_type, quantity, attributes, created_at) VALUES
      ('use_1', 'proj_a', 'test', 'usage', 'cus_acme', NULL, 'USAGE', 'api_calls', 1, NULL, '2026-11-22T09:10:00Z'),
      ('use_2', 'proj_a', 'test', 'usage', 'cus_acme', NULL, 'USAGE', 'api_calls', 2, NULL, '2026-11-22T09:20:00Z'),
      ('use_3', 'proj_a', 'test', 'usage', 'cus_acme', NULL, 'USAGE', 'llm_tokens', 1700, NULL, '2026-11-22T09:10:01Z'),
      ('use_4', 'proj_a', 'test', 'usage', 'cus_globex', NULL, 'USAGE', 'api_calls', 5, NULL, '2026-11-22T09:30:00Z'),
      ('use_old', 'proj_a', 'test', 'usage', 'cus_globex', NULL, 'USAGE', 'legacy_meter', 7, NULL, '2026-11-19T09:30:00Z'),
      ('use_5', 'proj_b', 'test', 'usage', 'cus_other', NULL, 'USAGE', 'secret_meter_b', 42, NULL, '2026-11-22T09:30:00Z'),
      ('evt_1', 'proj_a', 'test', 'run', 'cus_acme', 'run_ok', 'llm.call', NULL, 1,
        '{"model":"gpt-4","inputTokens":500,"outputTokens":1200}', '2026-11-22T09:10:00.300Z'),
      ('evt_2', 'proj_a', 'test', 'run', 'cus_acme', 'run_ok', 'tool.call', NULL, 1,
        '{"name":"web-search","duration":1500,"note":"<img src=x onerror=alert(1)>"}', '2026-11-22T09:10:01.000Z'),
      ('evt_3', 'proj_b', 'test', 'run', 'cus_other', 'run_other', 'llm.call', NULL, 1, '{"model":"b-model"}', '2026-11-22T09:12:00Z');
    INSERT INTO charges (id, project_id, mode, customer_id, usage_id, amount_micros, status, created_at) VALUES
      ('chg_1', 'proj_a', 'test', 'cus_acme', 'use_2', 2000, 'CONFIRMED', '2026-11-22T09:20:00Z'),
      ('chg_2', 'proj_a', 'test', 'cus_acme', 'use_1', 1000, 'CONFIRMED', '2026-11-22T09:10:00Z'),
      ('chg_3', 'proj_a', 'test', 'cus_globex', 'use_4', 1000, 'PENDING', '2026-11-22T09:30:00Z');
    INSERT INTO webhooks (id, project_id, mode, url, events, secret) VALUES
      ('wh_1', 'proj_a', 'test', 'http://127.0.0.1:9/hook', '["*"]', 'whsec_x');
    INSERT INTO webhook_events (id, project_id, mode, type, payload) VALUES ('whe_1', 'proj_a', 'test', 'charge.succeeded', '{}');
    INSERT INTO webhook_deliveries (id, project_id, mode, webhook_id, event_id, event_type, status, attempts, response_code) VALUES
      ('whd_1', 'proj_a', 'test', 'wh_1', 'whe_1', 'charge.succeeded', 'DELIVERED', 1, 200);
  `);
}

async function open(backend: Backend): Promise<void> {
  // Every migration applied, in name order, as the server applies them (later ones add tables pages read).
  ({ exec, db, close } = await openTestDb(backend));
  await seed();
  now = T0;
  sessions = new DashboardSessions({ now: () => now, loginTokenTtlMs: 60_000, sessionTtlMs: 3_600_000 });
  app = createDashboard({ version: '9.9.9', db, sessions });
}

async function login(key: string): Promise<Response> {
  return app.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key }).toString(),
  });
}

function cookieOf(res: Response): string {
  const set = res.headers.get('set-cookie') ?? '';
  const m = /drip_dashboard=([^;]+)/.exec(set);
  if (!m) throw new Error(`no session cookie in ${JSON.stringify(set)}`);
  return `drip_dashboard=${m[1]}`;
}

async function page(path: string, cookie: string): Promise<{ status: number; text: string }> {
  const res = await app.request(path, { headers: { cookie } });
  return { status: res.status, text: await res.text() };
}

/** Text of the customer row for an external id, tags stripped. */
function rowText(htmlText: string, external: string): string {
  const m = new RegExp(`<tr data-testid="customer-row" data-customer="${external}">([\\s\\S]*?)</tr>`).exec(
    htmlText,
  );
  return (m?.[1] ?? '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
}

describe.each(BACKENDS)('dashboard on %s', (backend) => {
  beforeAll(() => open(backend));
  afterAll(async () => {
    await close?.();
  });

  describe('dashboard login', () => {
    it('shows only the login form without a session', async () => {
      const res = await app.request('/');
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(text).toContain('name="key"');
      expect(text).not.toContain('acme');
      expect((await app.request('/dashboard/runs/run_ok')).status).toBe(401);
    });

    it('refuses public, unknown and revoked keys, and accepts the secret key', async () => {
      expect((await login(PK_A)).status).toBe(401);
      expect(await (await login(PK_A)).text()).toContain('public key cannot open the dashboard');
      expect((await login('sk_test_unknownunknownunknownunknown')).status).toBe(401);
      expect((await login(SK_REVOKED)).status).toBe(401);
      expect((await login('')).status).toBe(401);
      const ok = await login(SK_A);
      expect(ok.status).toBe(303);
      expect(ok.headers.get('location')).toBe('/');
      const setCookie = ok.headers.get('set-cookie') ?? '';
      expect(setCookie).toMatch(/HttpOnly/i);
      expect(setCookie).toMatch(/SameSite=Lax/i);
    });

    it('refuses an oversized login form, and marks the cookie Secure behind https', async () => {
      const big = await app.request('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key: SK_A, pad: 'x'.repeat(100_000) }).toString(),
      });
      expect(big.status).toBe(413);
      expect(big.headers.get('set-cookie')).toBeNull();
      const tls = await app.request('https://drip.example.com/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key: SK_A }).toString(),
      });
      expect(tls.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
      expect((await login(SK_A)).headers.get('set-cookie')).not.toMatch(/;\s*Secure/i);
    });

    it('exchanges a one-time login link once, and only for a secret key', async () => {
      expect((await app.request('/dashboard/login-links', { method: 'POST' })).status).toBe(401);
      const pub = await app.request('/dashboard/login-links', {
        method: 'POST',
        headers: { authorization: `Bearer ${PK_A}` },
      });
      expect(pub.status).toBe(403);
      expect(await pub.json()).toMatchObject({ code: 'PUBLIC_KEY_NOT_ALLOWED' });
      const res = await app.request('http://127.0.0.1:3001/dashboard/login-links', {
        method: 'POST',
        headers: { authorization: `Bearer ${SK_A}` },
      });
      expect(res.status).toBe(201);
      const link = (await res.json()) as { path: string; url: string };
      expect(link.path).toMatch(/^\/login\/[A-Za-z0-9_-]{43}$/);
      expect(link.url).toBe(`http://127.0.0.1:3001${link.path}`);
      const first = await app.request(link.path);
      expect(first.status).toBe(303);
      expect(first.headers.get('referrer-policy')).toBe('no-referrer');
      const home = await page('/', cookieOf(first));
      expect(home.text).toContain('Acme Labs');
      const second = await app.request(link.path);
      expect(second.status).toBe(410);
      expect(second.headers.get('set-cookie')).toBeNull();
    });

    it('expires unused links and idle sessions on the injected clock', async () => {
      const token = sessions.issueLoginToken({ projectId: 'proj_a', mode: 'test' });
      const cookie = cookieOf(await login(SK_A));
      now += 61_000;
      expect((await app.request(`/login/${token}`)).status).toBe(410);
      expect((await page('/', cookie)).text).toContain('acme'); // session still valid (1 h)
      now += 3_600_000;
      const after = await page('/', cookie);
      expect(after.text).toContain('name="key"');
      expect(after.text).not.toContain('cus_acme');
    });

    it('ends sessions and unused links of a key once it is revoked', async () => {
      const cookie = cookieOf(await login(SK_A2));
      const res = await app.request('/dashboard/login-links', {
        method: 'POST',
        headers: { authorization: `Bearer ${SK_A2}` },
      });
      const { path } = (await res.json()) as { path: string };
      expect((await page('/', cookie)).text).toContain('cus_acme');
      await exec("UPDATE api_keys SET revoked_at = now() WHERE id = 'key_a2'");
      expect((await page('/', cookie)).text).toContain('name="key"');
      expect((await page('/dashboard/runs/run_ok', cookie)).status).toBe(401);
      const viaLink = await app.request(path);
      const after = await page('/', cookieOf(viaLink));
      expect(after.text).toContain('name="key"');
      expect(after.text).not.toContain('cus_acme');
      expect((await login(SK_A2)).status).toBe(401);
    });

    it('logs out', async () => {
      const cookie = cookieOf(await login(SK_A));
      const out = await app.request('/logout', { method: 'POST', headers: { cookie } });
      expect(out.status).toBe(303);
      expect((await page('/', cookie)).text).toContain('name="key"');
    });
  });

  describe('dashboard pages', () => {
    let cookie = '';
    beforeAll(async () => {
      cookie = cookieOf(await login(SK_A));
    });

    it('lists the project customers with usage per meter, balances and charges', async () => {
      const { status, text } = await page('/', cookie);
      expect(status).toBe(200);
      const acme = rowText(text, 'acme');
      // meters in column order: api_calls, legacy_meter, llm_tokens
      expect(acme).toContain('cus_acme');
      expect(acme).toMatch(/ 3 0 1,700 99\.997000 99\.997000 0\.003000 2 charges/);
      const globex = rowText(text, 'globex');
      expect(globex).toMatch(/ 5 7 0 100\.000000 99\.999000 0\.000000 0 charges/);
      expect(text).toContain('data-testid="kpi-customers">3<');
      expect(text).toContain('data-testid="kpi-usage-events">5<');
      expect(text).toContain('data-testid="kpi-charged">0.003000<');
      expect(text).toContain('0.001000 pending');
      expect(text).toContain('charge.succeeded');
      expect(text).toContain('http://127.0.0.1:9/hook');
    });

    it('never shows another project or the other mode', async () => {
      const { text } = await page('/', cookie);
      for (const foreign of [
        'other-project-customer',
        'secret_meter_b',
        'run_other',
        'live-only-customer',
        'Other Co',
      ]) {
        expect(text).not.toContain(foreign);
      }
      expect((await page('/dashboard/runs/run_other', cookie)).status).toBe(404);
      const b = cookieOf(await login(SK_B));
      const other = await page('/', b);
      expect(other.text).toContain('other-project-customer');
      expect(other.text).not.toContain('cus_acme');
    });

    it('lists the first 200 customers and says how many there are', async () => {
      const { text } = await page('/', cookieOf(await login(SK_C)));
      expect(text).toContain('data-testid="kpi-customers">205<');
      expect(text.match(/data-testid="customer-row"/g)).toHaveLength(200);
      expect(text).toContain('The first 200 of 205 customers');
      expect(text).toContain('data-customer="bulk-200"');
      expect(text).not.toContain('data-customer="bulk-201"');
    });

    it('embeds the chart series as JSON that cannot break out of its script element', async () => {
      const { text } = await page('/', cookie);
      const m = /<script type="application\/json" id="usage-data">([\s\S]*?)<\/script>/.exec(text);
      expect(m).not.toBeNull();
      const data = JSON.parse(m?.[1] ?? 'null') as {
        meters: string[];
        bucketSeconds: number;
        points: { customerId: string; usageType: string; quantity: number }[];
        customers: Record<string, string>;
      };
      expect(data.meters).toEqual(['api_calls', 'legacy_meter', 'llm_tokens']);
      // the chart covers the last 24 h of activity: 09:10 → 09:30 is 20 minutes, so 10-second buckets keep
      // it under 120 points, and the usage of three days earlier is left out of the chart (not the table)
      expect(data.bucketSeconds).toBe(10);
      expect(data.points.some((p) => p.usageType === 'legacy_meter')).toBe(false);
      expect(text).toContain('10-second buckets, the last 24 hours of activity');
      const acmeCalls = data.points
        .filter((p) => p.customerId === 'cus_acme' && p.usageType === 'api_calls')
        .reduce((n, p) => n + p.quantity, 0);
      expect(acmeCalls).toBe(3);
      expect(data.customers.cus_hostile).toBe(HOSTILE);
      expect(m?.[1]).not.toContain('</script');
    });

    it('escapes stored strings in HTML', async () => {
      const { text } = await page('/', cookie);
      expect(text).not.toContain(HOSTILE);
      expect(text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
      const run = await page('/dashboard/runs/run_ok', cookie);
      expect(run.text).not.toContain('<img src=x');
      expect(run.text).toContain('&lt;img src=x onerror=alert(1)&gt;');
    });

    it('shows recent runs with status and duration', async () => {
      const { text } = await page('/', cookie);
      const rows = text.match(/<tr data-testid="run-row"[\s\S]*?<\/tr>/g) ?? [];
      expect(rows.map((r) => /data-run-id="([^"]+)"/.exec(r)?.[1])).toEqual(['run_bad', 'run_ok']);
      expect(rows[0]).toContain('FAILED');
      expect(rows[0]).toContain('40 ms');
      expect(rows[1]).toContain('COMPLETED');
      expect(rows[1]).toContain('1.25 s');
    });

    it("shows a run's timeline with its schema-flexible fields", async () => {
      const { status, text } = await page('/dashboard/runs/run_ok', cookie);
      expect(status).toBe(200);
      const events = text.match(/<li class="event"[\s\S]*?<\/li>/g) ?? [];
      expect(events).toHaveLength(2);
      const flat = (s: string) => s.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
      expect(flat(events[0] ?? '')).toMatch(
        /\+300 ms llm\.call SUCCEEDED .*model gpt-4 inputTokens 500 outputTokens 1,200/,
      );
      // jsonb keeps its own key order, so each field is checked on its own
      expect(flat(events[1] ?? '')).toMatch(/^ \+1\.00 s tool\.call SUCCEEDED /);
      expect(flat(events[1] ?? '')).toContain(' name web-search ');
      expect(flat(events[1] ?? '')).toContain(' duration 1,500 ');
      const failed = await page('/dashboard/runs/run_bad', cookie);
      expect(failed.text).toContain('Error: The agent crashed');
      expect(failed.text).toContain('This run has no events.');
    });

    it('sends security headers with every page', async () => {
      const res = await app.request('/', { headers: { cookie } });
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    });

    it('serves Chart.js and its own assets', async () => {
      const chart = await app.request('/dashboard/vendor/chart.umd.min.js');
      expect(chart.status).toBe(200);
      expect(chart.headers.get('content-type')).toContain('text/javascript');
      const body = await chart.text();
      expect(body.length).toBeGreaterThan(100_000);
      expect(body).toContain('Chart');
      expect((await app.request('/dashboard/assets/dashboard.js')).status).toBe(200);
      expect((await app.request('/dashboard/assets/dashboard.css')).headers.get('content-type')).toContain(
        'text/css',
      );
    });
  });
});
