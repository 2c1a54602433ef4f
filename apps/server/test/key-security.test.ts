// API key security on both back ends: a rotated-out secret cannot manage keys (so a leaked key does not
// survive its rotation), a configured key gets a random public key that is stored and reported as
// stored, a retired configured key is not revived at start, and a revocation through one instance stops
// the key at once on another instance sharing the same PostgreSQL.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/index';
import { BACKENDS, type Backend, client, freshDatabase, type Json, project, useServer } from './helpers';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

/** Starts servers on one database of `backend` (a data directory for PGlite), one after another. */
async function sharedDatabase(backend: Backend): Promise<(apiKey?: string) => Promise<RunningServer>> {
  if (backend === 'postgres') {
    const db = await freshDatabase();
    cleanup.push(db.drop);
    return (apiKey) => startServer({ port: 0, databaseUrl: db.url, poolSize: 4, apiKey });
  }
  const dir = mkdtempSync(join(tmpdir(), 'drip-keys-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return (apiKey) => startServer({ port: 0, dataDir: dir, apiKey });
}

for (const backend of BACKENDS) {
  describe(`API key security (${backend})`, () => {
    const ctx = useServer(backend);

    it('a secret key rotated out cannot rotate, revoke or create keys during its grace period', async () => {
      const p = await project(ctx.srv);
      const keys = (await p.call('GET', '/api-keys')).body.data as Json[];
      const pairId = String(keys.find((k) => k.publicKey === p.publicKey)?.id);
      const other = await p.call('POST', '/api-keys', { name: 'other' });
      expect(other.status).toBe(201);

      // The leaked key is rotated out by its owner (with the key itself, as a client would).
      const rotated = await p.call('POST', `/api-keys/${pairId}/rotate`, { gracePeriodHours: 1 });
      expect(rotated.status).toBe(200);
      const fresh = client(ctx.srv, String(rotated.body.secretKey));
      const leaked = p.call;
      // During the grace period the old key still reads and writes data ...
      expect((await leaked('GET', '/customers')).status).toBe(200);
      // ... but every key-management call is refused.
      for (const [path, body] of [
        [`/api-keys/${pairId}/rotate`, { gracePeriodHours: 0 }],
        [`/api-keys/${other.body.id}/rotate`, {}],
        [`/api-keys/${other.body.id}/revoke`, undefined],
        ['/api-keys', { name: 'backdoor' }],
      ] as const) {
        const res = await leaked('POST', path, body);
        expect(res.status, path).toBe(403);
        expect(res.body.code, path).toBe('FORBIDDEN');
      }
      // The new key still works, the other pair is intact and no pair was added.
      expect((await fresh('GET', '/customers')).status).toBe(200);
      expect((await client(ctx.srv, String(other.body.secretKey))('GET', '/customers')).status).toBe(200);
      const after = (await fresh('GET', '/api-keys')).body as { count: number; data: Json[] };
      expect(after.count).toBe(2);
      expect(after.data.every((k) => k.revokedAt === null || k.revokedAt === undefined)).toBe(true);

      // The current key (and another pair's secret key) still manage keys.
      const again = await fresh('POST', `/api-keys/${pairId}/rotate`, { gracePeriodHours: 0 });
      expect(again.status).toBe(200);
      expect((await leaked('GET', '/customers')).status).toBe(401);
      const byOther = await client(ctx.srv, String(other.body.secretKey))(
        'POST',
        `/api-keys/${pairId}/rotate`,
        {},
      );
      expect(byOther.status).toBe(200);
    });

    it('a secret key rotated out cannot create a webhook, point one elsewhere or take its secret', async () => {
      const p = await project(ctx.srv);
      const hook = await p.call('POST', '/webhooks', {
        url: 'https://example.com/hook',
        events: ['charge.succeeded'],
      });
      expect(hook.status).toBe(201);
      const keys = (await p.call('GET', '/api-keys')).body.data as Json[];
      const pairId = String(keys.find((k) => k.publicKey === p.publicKey)?.id);
      const rotated = await p.call('POST', `/api-keys/${pairId}/rotate`, { gracePeriodHours: 1 });
      const fresh = client(ctx.srv, String(rotated.body.secretKey));
      for (const [method, path, body] of [
        ['POST', '/webhooks', { url: 'https://evil.example/hook', events: ['charge.succeeded'] }],
        ['PATCH', `/webhooks/${hook.body.id}`, { url: 'https://evil.example/hook' }],
        ['POST', `/webhooks/${hook.body.id}/rotate-secret`, undefined],
      ] as const) {
        const res = await p.call(method, path, body);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.code).toBe('FORBIDDEN');
      }
      const list = (await fresh('GET', '/webhooks')).body.data as Json[];
      expect(list.map((w) => w.url)).toEqual(['https://example.com/hook']);
      expect((await fresh('PATCH', `/webhooks/${hook.body.id}`, { description: 'ok' })).status).toBe(200);
    });

    // No key cache on either database (README "Security"): a key that was just accepted, and so would sit
    // in any per-process cache, is refused on the very next request after its pair changes.
    it('a key accepted on one request is refused on the very next one after rotation or revocation', async () => {
      const p = await project(ctx.srv);
      const pair = await p.call('POST', '/api-keys', { name: 'hot' });
      const secret = client(ctx.srv, String(pair.body.secretKey));
      const publicKey = client(ctx.srv, String(pair.body.publicKey));
      expect((await secret('GET', '/customers')).status).toBe(200);
      expect((await publicKey('GET', '/customers')).status).toBe(200);
      const rotated = await p.call('POST', `/api-keys/${pair.body.id}/rotate`, { gracePeriodHours: 0 });
      expect(rotated.status).toBe(200);
      expect((await secret('GET', '/customers')).status).toBe(401);
      const current = client(ctx.srv, String(rotated.body.secretKey));
      expect((await current('GET', '/customers')).status).toBe(200);
      expect((await publicKey('GET', '/customers')).status).toBe(200);
      expect((await p.call('POST', `/api-keys/${pair.body.id}/revoke`)).status).toBe(200);
      const afterCurrent = await current('GET', '/customers');
      expect(afterCurrent.status).toBe(401);
      expect(afterCurrent.body.code).toBe('UNAUTHORIZED');
      expect((await publicKey('GET', '/customers')).status).toBe(401);
    });

    it('rotating or revoking a revoked pair changes nothing', async () => {
      const p = await project(ctx.srv);
      const other = await p.call('POST', '/api-keys', { name: 'gone' });
      expect((await p.call('POST', `/api-keys/${other.body.id}/revoke`)).status).toBe(200);
      const rot = await p.call('POST', `/api-keys/${other.body.id}/rotate`, {});
      expect(rot.status).toBe(404);
      expect(rot.body.code).toBe('API_KEY_NOT_FOUND');
      expect((await client(ctx.srv, String(other.body.secretKey))('GET', '/customers')).status).toBe(401);
    });
  });

  describe(`configured API key (${backend})`, () => {
    it('gets a random public key, stored, and reported as stored on the next start', async () => {
      const start = await sharedDatabase(backend);
      const apiKey = `sk_test_${createHash('sha256').update(`cfg-${backend}-${Date.now()}`).digest('hex').slice(0, 32)}`;
      const derived = `pk_test_${createHash('sha256').update(apiKey).digest('hex').slice(0, 32)}`;
      const first = await start(apiKey);
      let firstPublic: string;
      try {
        firstPublic = first.publicKey;
        expect(firstPublic).toMatch(/^pk_test_[A-Za-z0-9]{32}$/);
        expect(firstPublic).not.toBe(derived);
        const keys = (await client(first, apiKey)('GET', '/api-keys')).body.data as Json[];
        expect(keys.map((k) => k.publicKey)).toContain(firstPublic);
        // The public key it printed works.
        expect((await client(first, firstPublic)('GET', '/customers')).status).toBe(200);
      } finally {
        await first.close();
      }
      const second = await start(apiKey);
      try {
        expect(second.publicKey).toBe(firstPublic);
        expect((await client(second, second.publicKey)('GET', '/customers')).status).toBe(200);
      } finally {
        await second.close();
      }
    });

    it('a configured key that was rotated out or revoked is refused at start, not revived', async () => {
      const start = await sharedDatabase(backend);
      const apiKey = `sk_test_${createHash('sha256').update(`old-${backend}-${Date.now()}`).digest('hex').slice(0, 32)}`;
      const srv = await start(apiKey);
      let newKey: string;
      let pairId: string;
      try {
        const call = client(srv, apiKey);
        const keys = (await call('GET', '/api-keys')).body.data as Json[];
        pairId = String(keys.find((k) => k.publicKey === srv.publicKey)?.id);
        const rotated = await call('POST', `/api-keys/${pairId}/rotate`, { gracePeriodHours: 1 });
        newKey = String(rotated.body.secretKey);
      } finally {
        await srv.close();
      }
      await expect(start(apiKey)).rejects.toThrow(/rotated out/);
      const again = await start(newKey);
      try {
        const other = await client(again, newKey)('POST', '/api-keys', { name: 'admin' });
        const res = await client(again, String(other.body.secretKey))('POST', `/api-keys/${pairId}/revoke`);
        expect(res.status).toBe(200);
      } finally {
        await again.close();
      }
      await expect(start(apiKey)).rejects.toThrow(/revoked/);
      await expect(start(newKey)).rejects.toThrow(/revoked/);
    });
  });
}

describe('revocation across instances on one PostgreSQL', () => {
  it('after revoke returns on one instance, the next request on the other instance is 401', async () => {
    const db = await freshDatabase();
    cleanup.push(db.drop);
    const a = await startServer({ port: 0, databaseUrl: db.url, poolSize: 4 });
    cleanup.push(() => a.close());
    const b = await startServer({ port: 0, databaseUrl: db.url, poolSize: 4 });
    cleanup.push(() => b.close());
    const adminA = client(a, a.apiKey);
    for (let round = 0; round < 5; round++) {
      const created = await adminA('POST', '/api-keys', { name: `victim-${round}` });
      const onB = client(b, String(created.body.secretKey));
      const pubOnB = client(b, String(created.body.publicKey));
      // Warm whatever B may keep about the key.
      expect((await onB('GET', '/customers')).status).toBe(200);
      expect((await pubOnB('GET', '/customers')).status).toBe(200);
      const revoked = await adminA('POST', `/api-keys/${created.body.id}/revoke`);
      expect(revoked.status).toBe(200);
      expect((await onB('GET', '/customers')).status).toBe(401);
      expect((await pubOnB('GET', '/customers')).status).toBe(401);
    }
    // A rotation with no grace stops the old secret on the other instance at once as well.
    const created = await adminA('POST', '/api-keys', { name: 'rotated' });
    const oldOnB = client(b, String(created.body.secretKey));
    expect((await oldOnB('GET', '/customers')).status).toBe(200);
    const rotated = await adminA('POST', `/api-keys/${created.body.id}/rotate`, { gracePeriodHours: 0 });
    expect(rotated.status).toBe(200);
    expect((await oldOnB('GET', '/customers')).status).toBe(401);
  });
});
