import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSafeKey, requestIdentity, runExternalId, safeKey, usageKey, usageKeyFromBase } from '../keys';
import { compileRoutes, matchRoute, normalizePath, workflowSlug } from './route';
import { base64url, sha256 } from '../sha256';

describe('sha256', () => {
  it('matches node:crypto on any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        expect(base64url(sha256(s))).toBe(createHash('sha256').update(s, 'utf8').digest('base64url'));
      }),
      { numRuns: 300 },
    );
  });
});

describe('request-metering keys (spec 5.7)', () => {
  it('keeps plain keys and hashes long or unusual ones to 46 safe characters', () => {
    expect(usageKey('cus_1', 'abc.1', 'api_calls', 0)).toBe('mw:cus_1:abc.1:api_calls:0');
    expect(runExternalId('cus_1', 'abc.1')).toBe('mw:cus_1:abc.1');
    const hashed = usageKey('user@example.com', 'abc.1', 'api_calls', 0);
    expect(hashed).toMatch(/^mw_[A-Za-z0-9_-]{43}$/);
    expect(hashed).toBe(
      `mw_${createHash('sha256').update('mw:user@example.com:abc.1:api_calls:0').digest('base64url')}`,
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), (c, id) => {
        const k = usageKey(c || 'c', id || 'i', 'm', 0);
        expect(k.length).toBeLessThanOrEqual(128);
        expect(k).toMatch(/^[A-Za-z0-9._:-]+$/);
      }),
      { numRuns: 300 },
    );
  });

  it('never gives two customers or two identities the same key', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.string({ minLength: 1 }), fc.string({ minLength: 1 })), {
          minLength: 2,
          maxLength: 20,
          selector: (t) => `${t[0]}\u0000${t[1]}`,
        }),
        (pairs) => {
          const keys = pairs.map(([c, i]) => usageKey(c, i, 'm', 0));
          // Distinct (customer, identity) pairs may only collide when the plain strings are equal.
          const plain = pairs.map(([c, i]) => `mw:${c}:${i}:m:0`);
          expect(new Set(keys).size).toBe(new Set(plain).size);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('takes a trusted identity only when it is 1-128 printable ASCII characters', () => {
    expect(requestIdentity('req-42')).toBe('req-42');
    const generated = requestIdentity('x'.repeat(129));
    expect(generated).toMatch(/^[a-z2-7]{16}\.[0-9a-z]+$/);
    expect(requestIdentity('bad\nvalue')).not.toBe('bad\nvalue');
    const a = requestIdentity(undefined);
    const b = requestIdentity(undefined);
    expect(a).not.toBe(b);
    expect(safeKey('a b')).toMatch(/^mw_/);
  });
});

describe('usage keys from a checked base', () => {
  it('equals usageKey for any customer, identity and meter', () => {
    const long = 'x'.repeat(120);
    const cases: Array<[string, string, string]> = [
      ['cus_1', 'req.1', 'api_calls'],
      ['user@example.com', 'req.1', 'api_calls'],
      ['cus_1', 'req.1', 'tokens in'],
      [long, 'r', 'm'],
      ['cus_1', 'id with space', 'api_calls'],
    ];
    for (const [c, id, m] of cases) {
      const base = `mw:${c}:${id}`;
      expect(usageKeyFromBase(base, isSafeKey(base), m, 0)).toBe(usageKey(c, id, m, 0));
    }
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 80 }),
        fc.string({ minLength: 1, maxLength: 60 }),
        (c, m) => {
          const base = `mw:${c}:k.1`;
          return usageKeyFromBase(base, isSafeKey(base), m, 0) === usageKey(c, 'k.1', m, 0);
        },
      ),
    );
  });
});

describe('routes', () => {
  it('normalises ids in unknown paths', () => {
    expect(normalizePath('/items/42')).toBe('/items/:id');
    expect(normalizePath('/orders/550e8400-e29b-41d4-a716-446655440000/x')).toBe('/orders/:id/x');
    expect(normalizePath('/blobs/deadbeefdeadbeefdeadbeef')).toBe('/blobs/:id');
    expect(normalizePath('/users/cus_3f9k2m8x7q1w5e4r6t9y/profile')).toBe('/users/:id/profile');
    expect(normalizePath('/api/v1/items/')).toBe('/api/v1/items');
    expect(normalizePath('/search?q=123')).toBe('/search');
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), (ids) => {
        expect(normalizePath(`/a/${ids.join('/b/')}`)).toBe(`/a/${ids.map(() => ':id').join('/b/')}`);
      }),
    );
  });

  it('names workflows after routes with valid slugs', () => {
    expect(workflowSlug('GET', '/items/:id')).toBe('get-items-id');
    expect(workflowSlug('POST', '/api/[slug]/run')).toBe('post-api-slug-run');
    fc.assert(
      fc.property(fc.string(), fc.string(), (m, r) => {
        expect(workflowSlug(m, r)).toMatch(/^[a-z0-9_-]{1,100}$/);
      }),
      { numRuns: 300 },
    );
  });

  it('matches the table by template first, then by path pattern', () => {
    const table = compileRoutes({
      'GET /items/:id': { meter: 'reads' },
      '* /admin/*': { skip: true },
      'POST /items': { meter: 'writes' },
    });
    expect(matchRoute(table, 'GET', '/items/:id', '/items/9')?.rule).toEqual({ meter: 'reads' });
    expect(matchRoute(table, 'GET', undefined, '/items/9')?.rule).toEqual({ meter: 'reads' });
    expect(matchRoute(table, 'DELETE', undefined, '/admin/users/1')?.rule).toEqual({ skip: true });
    expect(matchRoute(table, 'GET', undefined, '/items')).toBeUndefined();
    expect(matchRoute(table, 'POST', undefined, '/items')?.rule).toEqual({ meter: 'writes' });
  });
});
