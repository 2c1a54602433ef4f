// Bad input on the security surfaces added for self-hosting: the local admin route of a server on a data
// directory (`POST /_drip/keys`), and the dashboard's state-changing forms under hostile Origin,
// Sec-Fetch-Site, Forwarded and X-Forwarded-* headers, with and without trust proxy. Never a 500, never
// a session or a key for a request that should not get one.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEYS_PATH } from '../src/admin';
import { LOCK_FILE } from '../src/db/data-dir-lock';
import { type RunningServer, startServer } from '../src/index';
import { client, type Json } from './helpers';

let onDisk: RunningServer;
let memory: RunningServer;
let proxied: RunningServer;
let dir = '';
let token = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'drip-fuzz-sec-'));
  onDisk = await startServer({ port: 0, dataDir: dir });
  token = String((JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as Json).adminToken);
  memory = await startServer({ port: 0, memory: true });
  proxied = await startServer({ port: 0, memory: true, trustProxy: true });
});
afterAll(async () => {
  await onDisk?.close();
  await memory?.close();
  await proxied?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function keyCount(srv: RunningServer): Promise<number> {
  return Number((await client(srv, srv.apiKey)('GET', '/api-keys')).body.count);
}

describe('local admin route', () => {
  it('is only mounted on a server that holds a data directory', async () => {
    const res = await fetch(`${memory.url}${ADMIN_KEYS_PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(404);
  });

  it('refuses every credential but its token (API keys of the project included), and bad bodies', async () => {
    const before = await keyCount(onDisk);
    const other = await onDisk.store.createProject();
    const creds = [
      '',
      'Bearer',
      `Bearer ${onDisk.apiKey}`,
      `Bearer ${onDisk.publicKey}`,
      `Bearer ${other.apiKey}`,
      `Bearer ${token.slice(0, -1)}`,
      `Bearer ${token}x`,
      `Basic ${token}`,
      `Bearer ${'a'.repeat(10_000)}`,
    ];
    for (const authorization of creds) {
      const res = await fetch(`${onDisk.url}${ADMIN_KEYS_PATH}`, {
        method: 'POST',
        headers: authorization ? { authorization } : {},
        body: '{}',
      });
      expect(res.status, authorization.slice(0, 20)).toBe(401);
      expect(((await res.json()) as Json).code).toBe('UNAUTHORIZED');
    }
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
          fc.record({ mode: fc.jsonValue(), name: fc.jsonValue() }).map((v) => JSON.stringify(v)),
        ),
        async (body) => {
          const res = await fetch(`${onDisk.url}${ADMIN_KEYS_PATH}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body,
          });
          expect(res.status).toBeLessThan(500);
          const json = (await res.json()) as Json;
          if (res.status === 201) {
            // A valid body: a working key pair of the default project.
            expect(String(json.secretKey)).toMatch(/^sk_(test|live)_/);
            expect(json.projectId).toBe(onDisk.projectId);
          } else {
            expect(res.status).toBe(422);
            expect(json.code).toBe('VALIDATION_ERROR');
          }
        },
      ),
      { numRuns: 60 },
    );
    // Nothing reached the other project.
    expect(Number((await client(onDisk, other.apiKey)('GET', '/api-keys')).body.count)).toBe(1);
    expect(await keyCount(onDisk)).toBeGreaterThanOrEqual(before);
  });
});

describe('dashboard forms under hostile headers', () => {
  const HEADER_VALUES = fc.oneof(
    fc.constantFrom(
      'https://evil.example',
      'null',
      'http://127.0.0.1',
      'http://127.0.0.1:1',
      'file://',
      'http://127.0.0.1:3001@evil.example',
      'cross-site',
      'same-site',
      'same-origin',
      'none',
      'https',
      'proto=https;host=evil.example',
      'for="[::1]";proto=https, proto=http',
      '\u00ff',
      '',
    ),
    fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
  );
  const HEADERS = fc.dictionary(
    fc.constantFrom('origin', 'sec-fetch-site', 'forwarded', 'x-forwarded-proto', 'x-forwarded-host', 'host'),
    HEADER_VALUES,
  );

  it('never 500; a session only for a same-origin request with a valid key; Secure only when https is believed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(memory, proxied),
        fc.constantFrom('/login', '/logout', '/login/not-a-token'),
        HEADERS,
        async (srv, path, headers) => {
          const res = await srv.app.request(`http://127.0.0.1:3001${path}`, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ key: srv.apiKey }).toString(),
          });
          expect(res.status).toBeLessThan(500);
          const cookie = res.headers.get('set-cookie') ?? '';
          // As sent: a Headers object (and Node's HTTP parser) strips surrounding whitespace, so " " arrives
          // as an empty value, which the server reads like a missing header.
          const site = headers['sec-fetch-site']?.trim().toLowerCase();
          const crossSite = site ? site !== 'same-origin' && site !== 'none' : false;
          if (crossSite) {
            expect(res.status).toBe(403);
            expect(cookie).toBe('');
          }
          if (path === '/login' && res.status === 303) {
            // RFC 7239: the first hop's proto wins over X-Forwarded-Proto; both only count when trusted.
            const pairs = (headers.forwarded?.split(',')[0] ?? '').split(';').map((p) => p.split('='));
            const fwdProto = pairs
              .filter(([name, value]) => value !== undefined && name?.trim().toLowerCase() === 'proto')
              .map(([, ...value]) =>
                value
                  .join('=')
                  .trim()
                  .replace(/^"(.*)"$/, '$1')
                  .toLowerCase(),
              )
              .pop();
            const xProto = headers['x-forwarded-proto']?.split(',')[0]?.trim().toLowerCase() || undefined;
            const https = srv === proxied && (fwdProto ?? xProto) === 'https';
            expect(/;\s*Secure/i.test(cookie)).toBe(https);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
