import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { routeTemplate } from './route-template';

describe('routeTemplate', () => {
  it('replaces dynamic segments with their Next.js names', () => {
    expect(routeTemplate('/api/items/42', { id: '42' })).toBe('/api/items/[id]');
    expect(routeTemplate('/shops/7/items/42', { shop: '7', id: '42' })).toBe('/shops/[shop]/items/[id]');
    expect(routeTemplate('/docs/a/b/c', { slug: ['a', 'b', 'c'] })).toBe('/docs/[...slug]');
    expect(routeTemplate('/docs/a/b/edit', { slug: ['a', 'b'] })).toBe('/docs/[...slug]/edit');
  });

  it('keeps static paths and unknown params as they are', () => {
    expect(routeTemplate('/api/health', undefined)).toBe('/api/health');
    expect(routeTemplate('/api/health', {})).toBe('/api/health');
    expect(routeTemplate('/api/items/42', { id: '43' })).toBe('/api/items/42');
    expect(routeTemplate('/docs', { slug: undefined })).toBe('/docs');
  });

  it('matches params against decoded segments, in order', () => {
    expect(routeTemplate('/api/items/a%20b', { id: 'a b' })).toBe('/api/items/[id]');
    // Same value twice: each param takes the next occurrence.
    expect(routeTemplate('/x/1/y/1', { a: '1', b: '1' })).toBe('/x/[a]/y/[b]');
  });

  it('rebuilds the template for any param values (property)', () => {
    const segment = fc.stringMatching(/^[a-z0-9_-]{1,12}$/);
    fc.assert(
      fc.property(segment, segment, fc.array(segment, { minLength: 1, maxLength: 4 }), (shop, id, rest) => {
        const path = `/shops/${encodeURIComponent(shop)}/items/${encodeURIComponent(id)}/files/${rest.join('/')}`;
        expect(routeTemplate(path, { shop, id, rest })).toBe('/shops/[shop]/items/[id]/files/[...rest]');
      }),
      { numRuns: 300 },
    );
  });
});
