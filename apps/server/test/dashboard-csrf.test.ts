// The dashboard's state-changing requests (log in, log out, redeem a login link) refuse other sites,
// and the session cookie is Secure behind a TLS-terminating proxy only when the server trusts it.
// Requests go through the server's whole app (API and dashboard), with a server per trust setting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProjectKeys, type RunningServer, startServer } from '../src/index';

const ORIGIN = 'http://127.0.0.1:3001';
let plain: RunningServer;
let proxied: RunningServer;
let other: ProjectKeys;

beforeAll(async () => {
  plain = await startServer({ port: 0, memory: true });
  proxied = await startServer({ port: 0, memory: true, trustProxy: true });
  other = await plain.store.createProject({ name: 'Attacker project' });
});
afterAll(async () => {
  await plain?.close();
  await proxied?.close();
});

function form(key: string): { body: string; headers: Record<string, string> } {
  return {
    body: new URLSearchParams({ key }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  };
}

async function login(srv: RunningServer, key: string, headers: Record<string, string> = {}, url = ORIGIN) {
  const f = form(key);
  return srv.app.request(`${url}/login`, {
    method: 'POST',
    body: f.body,
    headers: { ...f.headers, ...headers },
  });
}

function cookieOf(res: Response): string {
  const m = /drip_dashboard=([^;]+)/.exec(res.headers.get('set-cookie') ?? '');
  if (!m?.[1]) throw new Error(`no session cookie: ${res.status}`);
  return `drip_dashboard=${m[1]}`;
}

/** The project name the overview shows for a cookie, or null on the login page. */
async function projectOf(srv: RunningServer, cookie: string): Promise<string | null> {
  const text = await (await srv.app.request(`${ORIGIN}/`, { headers: { cookie } })).text();
  return /data-testid="project"[^>]*>([^<]*)</.exec(text)?.[1] ?? null;
}

const CROSS_SITE: [string, Record<string, string>][] = [
  ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }],
  ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site', origin: 'http://127.0.0.1:9999' }],
  ['a foreign Origin', { origin: 'https://evil.example' }],
  ['another port as Origin', { origin: 'http://127.0.0.1:9999' }],
  ['Origin: null', { origin: 'null' }],
];

describe('dashboard CSRF', () => {
  it.each(CROSS_SITE)('refuses a login form sent with %s', async (_, headers) => {
    const res = await login(plain, other.apiKey, headers);
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.text()).toContain('Cross-site request refused');
  });

  it.each([
    ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin', origin: ORIGIN }],
    ['Sec-Fetch-Site: none', { 'sec-fetch-site': 'none' }],
    ['its own Origin', { origin: ORIGIN }],
    ['neither header (curl)', {}],
  ])('logs in with %s', async (_, headers) => {
    const res = await login(plain, plain.apiKey, headers);
    expect(res.status).toBe(303);
    expect(await projectOf(plain, cookieOf(res))).toBe('Default project');
  });

  it.each(CROSS_SITE)('refuses a logout form sent with %s, and the session stays', async (_, headers) => {
    const cookie = cookieOf(await login(plain, plain.apiKey));
    const out = await plain.app.request(`${ORIGIN}/logout`, {
      method: 'POST',
      headers: { ...headers, cookie },
    });
    expect(out.status).toBe(403);
    expect(out.headers.get('set-cookie')).toBeNull();
    expect(await projectOf(plain, cookie)).toBe('Default project');
  });

  it('logs out from its own page', async () => {
    const cookie = cookieOf(await login(plain, plain.apiKey));
    const out = await plain.app.request(`${ORIGIN}/logout`, {
      method: 'POST',
      headers: { 'sec-fetch-site': 'same-origin', origin: ORIGIN, cookie },
    });
    expect(out.status).toBe(303);
    expect(await projectOf(plain, cookie)).toBeNull();
  });

  it('asks before redeeming a login link another site sent the visitor to', async () => {
    const link = await plain.app.request(`${ORIGIN}/dashboard/login-links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.apiKey}` },
    });
    const path = String(((await link.json()) as { path: string }).path);
    const sent = await plain.app.request(`${ORIGIN}${path}`, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(sent.status).toBe(200);
    expect(sent.headers.get('set-cookie')).toBeNull();
    expect(await sent.text()).toContain(`action="${path}"`);
    // The confirm button posts from the dashboard's own page; a cross-site post is refused.
    const forged = await plain.app.request(`${ORIGIN}${path}`, {
      method: 'POST',
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(forged.status).toBe(403);
    const confirmed = await plain.app.request(`${ORIGIN}${path}`, {
      method: 'POST',
      headers: { 'sec-fetch-site': 'same-origin', origin: ORIGIN },
    });
    expect(confirmed.status).toBe(303);
    expect(await projectOf(plain, cookieOf(confirmed))).toBe('Attacker project');
    // Used once.
    expect((await plain.app.request(`${ORIGIN}${path}`)).status).toBe(410);
  });

  it('behind a trusted proxy, compares the Origin with the forwarded host', async () => {
    const headers = { origin: 'https://drip.example.com', 'x-forwarded-host': 'drip.example.com' };
    expect((await login(proxied, proxied.apiKey, headers)).status).toBe(303);
    expect((await login(plain, plain.apiKey, headers)).status).toBe(403);
    const fwd = {
      origin: 'https://drip.example.com',
      forwarded: 'for=1.2.3.4;host=drip.example.com;proto=https',
    };
    expect((await login(proxied, proxied.apiKey, fwd)).status).toBe(303);
  });
});

describe('session cookie behind TLS', () => {
  const secure = /;\s*Secure/i;
  const HTTPS_HINTS: [string, Record<string, string>][] = [
    ['X-Forwarded-Proto: https', { 'x-forwarded-proto': 'https' }],
    ['X-Forwarded-Proto: https, http', { 'x-forwarded-proto': 'https, http' }],
    ['Forwarded: proto=https', { forwarded: 'for=192.0.2.1;proto=https' }],
    ['Forwarded: proto="https"', { forwarded: 'proto="https";host=drip.example.com' }],
  ];

  it.each(HTTPS_HINTS)('with trust proxy, %s makes the cookie Secure', async (_, headers) => {
    const res = await login(proxied, proxied.apiKey, headers);
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(secure);
  });

  it.each(HTTPS_HINTS)('without trust proxy, %s is ignored', async (_, headers) => {
    const res = await login(plain, plain.apiKey, headers);
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).not.toMatch(secure);
  });

  it('with trust proxy, plain http stays plain; a TLS request is Secure either way', async () => {
    expect(
      (await login(proxied, proxied.apiKey, { 'x-forwarded-proto': 'http' })).headers.get('set-cookie'),
    ).not.toMatch(secure);
    expect((await login(proxied, proxied.apiKey)).headers.get('set-cookie')).not.toMatch(secure);
    const tls = await login(plain, plain.apiKey, {}, 'https://drip.example.com');
    expect(tls.headers.get('set-cookie')).toMatch(secure);
  });

  it('login links use the forwarded origin only with trust proxy', async () => {
    const ask = async (srv: RunningServer) => {
      const res = await srv.app.request(`${ORIGIN}/dashboard/login-links`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${srv.apiKey}`,
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'drip.example.com',
        },
      });
      return (await res.json()) as { url: string };
    };
    expect((await ask(proxied)).url).toMatch(/^https:\/\/drip\.example\.com\/login\//);
    expect((await ask(plain)).url).toMatch(/^http:\/\/127\.0\.0\.1:3001\/login\//);
  });
});
