import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DripError, DripPermissionError } from '../src/errors';
import { normalizeApiPath, scopeForPath } from '../src/scopes';
import { BASE, PK, makeClient } from './helpers';

const okReply = () => ({ status: 200, body: { data: [] } });

/** Sends `path` with a key and says what happened: the URL fetched, or the error thrown before sending. */
async function attempt(apiKey: string, path: string): Promise<{ url?: string; error?: unknown }> {
  const { client, calls } = makeClient(okReply, { apiKey });
  try {
    await client.request('GET', path, { maxAttempts: 1 });
  } catch (error) {
    expect(calls).toHaveLength(0);
    return { error };
  }
  expect(calls).toHaveLength(1);
  return { url: calls[0]?.url };
}

/**
 * How a server that decodes escapes and resolves dot segments would route a sent URL (an oracle written
 * independently of the client's normaliser: the WHATWG URL parser does the resolving).
 */
function routedBy(url: string): string {
  const path = new URL(url).pathname.slice(new URL(BASE).pathname.length);
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Keep it encoded: a server cannot decode it either.
  }
  const resolved = new URL(`http://h${decoded.replace(/\\/g, '/')}`).pathname.replace(/\/{2,}/g, '/');
  return resolved;
}

describe('the public-key guard judges the path that is sent (issue 12)', () => {
  it.each([
    '//webhooks',
    '/./webhooks',
    '/customers/../webhooks',
    '/%77ebhooks',
    '/customers/%2e%2e/webhooks',
  ])('a pk_ key cannot reach a secret-only route through %s', async (path) => {
    const { error } = await attempt(PK, path);
    expect(error).toBeInstanceOf(DripPermissionError);
    expect(error).toMatchObject({ code: 'PUBLIC_KEY_NOT_ALLOWED' });
  });

  it('a secret key sends the normalised path', async () => {
    expect((await attempt('sk_test_abcdefghijklmnop', '/customers/../webhooks?limit=1')).url).toBe(
      `${BASE}/webhooks?limit=1`,
    );
    expect((await attempt('sk_test_abcdefghijklmnop', '//customers//cus_1/')).url).toBe(
      `${BASE}/customers/cus_1/`,
    );
  });

  it.each([
    ['/../health', 'climb above'],
    ['/customers/../../x', 'climb above'],
    ['customers', 'must start with "/"'],
    ['/customers\\..\\webhooks', 'backslashes'],
    ['/web\nhooks', 'control characters'],
    ['/customers#frag', 'fragment'],
    ['/customers/%zz', 'percent-escape'],
    ['/customers/{id}', 'percent-encoded'],
    ['https://evil.example.com/v1/customers', 'below the client'],
  ])('refuses %s with a VALIDATION_ERROR (%s) before sending', async (path, why) => {
    const { error } = await attempt('sk_test_abcdefghijklmnop', path);
    expect(error).toBeInstanceOf(DripError);
    expect(error).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect((error as DripError).message).toContain(why);
  });

  it('an absolute URL below the base is made relative; the health URL passes', async () => {
    expect((await attempt(PK, `${BASE}/customers/cus_1`)).url).toBe(`${BASE}/customers/cus_1`);
    expect((await attempt(PK, `${BASE}/webhooks`)).error).toBeInstanceOf(DripPermissionError);
    expect((await attempt(PK, 'http://127.0.0.1:3001/health')).url).toBe('http://127.0.0.1:3001/health');
  });

  it('normalizeApiPath is idempotent on what it returns', () => {
    expect(normalizeApiPath('/a/./b/../c//d?x=/../', BASE)).toBe('/a/c/d?x=/../');
    expect(normalizeApiPath(normalizeApiPath('/a/./b/../c//d', BASE), BASE)).toBe('/a/c/d');
  });

  it('property: for any path, a pk_ key is refused exactly when the path sent routes to a secret-only route', async () => {
    const token = fc.constantFrom(
      '/',
      '.',
      '..',
      'webhooks',
      'api-keys',
      'customers',
      'cus_1',
      'balance',
      'adjustments',
      '%2e',
      '%2E',
      '%77',
      '%2F',
      '%2f',
      '%5C',
      '%25',
      '\\',
      '?',
      '#',
      ' ',
      'x',
      '%',
    );
    await fc.assert(
      fc.asyncProperty(fc.array(token, { maxLength: 10 }), async (tokens) => {
        const path = `/${tokens.join('')}`;
        const secret = await attempt('sk_test_abcdefghijklmnop', path);
        const pub = await attempt(PK, path);
        if (secret.error !== undefined) {
          // Refused for both keys alike, as a validation error: the path cannot be sent safely.
          expect(secret.error).toMatchObject({ code: 'VALIDATION_ERROR' });
          expect(pub.error).toMatchObject({ code: 'VALIDATION_ERROR' });
          return;
        }
        const url = secret.url as string;
        const secretOnly =
          scopeForPath(routedBy(url)) === 'secret' ||
          scopeForPath(new URL(url).pathname.slice(3)) === 'secret';
        if (secretOnly) expect(pub.error).toBeInstanceOf(DripPermissionError);
        else expect(pub.url).toBe(url);
      }),
      { numRuns: 400 },
    );
  });
});
