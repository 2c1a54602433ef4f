// Bad input on every route: malformed JSON, wrong types, huge and deeply nested bodies, unicode, SQL
// metacharacters and path traversal in ids. Only 4xx envelopes, never a 500, and nothing is written.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BACKENDS, type Json, project, useServer } from './helpers';

const ROUTES: [string, string][] = [
  ['POST', '/customers'],
  ['GET', '/customers'],
  ['GET', '/customers/{id}'],
  ['GET', '/customers/{id}/balance'],
  ['POST', '/customers/{id}/balance/adjustments'],
  ['PUT', '/customers/{id}/spending-cap'],
  ['GET', '/customers/{id}/spending-caps'],
  ['DELETE', '/customers/{id}/spending-caps/{id}'],
  ['POST', '/usage'],
  ['POST', '/usage/async'],
  ['POST', '/usage/internal'],
  ['POST', '/usage/internal/batch'],
  ['POST', '/usage/internal/bulk'],
  ['GET', '/charges'],
  ['GET', '/charges/{id}'],
  ['POST', '/workflows'],
  ['GET', '/workflows'],
  ['POST', '/runs'],
  ['GET', '/runs'],
  ['GET', '/runs/{id}'],
  ['PATCH', '/runs/{id}'],
  ['GET', '/runs/{id}/timeline'],
  ['POST', '/runs/record'],
  ['POST', '/runs/record/bulk'],
  ['POST', '/run-events'],
  ['POST', '/run-events/batch'],
  ['GET', '/events'],
  ['GET', '/events/{id}'],
  ['POST', '/webhooks'],
  ['GET', '/webhooks/{id}'],
  ['PATCH', '/webhooks/{id}'],
  ['DELETE', '/webhooks/{id}'],
  ['POST', '/webhooks/{id}/test'],
  ['POST', '/webhooks/{id}/rotate-secret'],
  ['GET', '/webhooks/{id}/deliveries'],
  ['POST', '/entitlements/check'],
  ['POST', '/api-keys'],
  ['POST', '/api-keys/{id}/rotate'],
  ['POST', '/api-keys/{id}/revoke'],
];

const HOSTILE_IDS = [
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  "x'%20OR%20'1'%3D'1",
  '1%3BDROP%20TABLE%20customers',
  '%00',
  'a'.repeat(300),
  '%F0%9F%98%80',
  '%E2%80%AE',
  '%25',
  '%C0%AF',
];

function deep(n: number): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
}

const HOSTILE_VALUES: unknown[] = [
  "'; DROP TABLE customers; --",
  '\u0000',
  '\ud800',
  '😀'.repeat(300),
  -1,
  1e308,
  -0,
  Number.MAX_SAFE_INTEGER,
  1.0000000000000002,
  true,
  [],
  {},
  [1, [2, [3]]],
  deep(10),
  'x'.repeat(5000),
];

const BODY_FIELDS = [
  'customerId',
  'externalCustomerId',
  'usageType',
  'quantity',
  'idempotencyKey',
  'metadata',
  'workflow',
  'workflowId',
  'status',
  'events',
  'runs',
  'eventType',
  'url',
  'filters',
  'name',
  'slug',
  'capType',
  'limitValue',
  'amountUsdc',
  'featureKey',
  'runId',
  'email',
  'onchainAddress',
  'startedAt',
  'gracePeriodHours',
  'isActive',
];

/** Text of database errors (PostgreSQL and PGlite): must never reach a client. */
const DB_TEXT =
  /invalid byte sequence|invalid input syntax|out of range for type|numeric field overflow|violates|syntax error|relation "|column "|SQLSTATE|unterminated|invalid message format|PGlite|postgres|value too long/i;

/** Query parameter names the routes read (an unknown name is ignored). */
const QUERY_NAMES = [
  'limit',
  'offset',
  'customerId',
  'externalCustomerId',
  'status',
  'from',
  'to',
  'cursor',
  'workflowId',
  'runId',
  'eventType',
  'outcome',
  'actionName',
  'parentEventId',
  'idempotencyKey',
  'productSurface',
  'isActive',
  'isInternal',
];

/** Query text no route can use: NUL bytes and malformed UTF-8. */
const BAD_QUERY_TEXT = ['%00', 'a%00b', '%FF%FE', '%C0%AF', '%E0%80'];
/** Numbers beyond every column type. */
const BAD_QUERY_NUMBERS = ['1e400', '-1e400', '9'.repeat(40), '0.0000000000000000000001'];
const BAD_PATH_VALUES = ['%00', 'a%00b', '%FF%FE', '9'.repeat(40), '1e400'];

for (const backend of BACKENDS) {
  describe(`bad input on every route (${backend})`, () => {
    const ctx = useServer(backend);

    it('only 4xx JSON envelopes, never a 500, and nothing written', async () => {
      const p = await project(ctx.srv);
      const before = await ctx.srv.store.countRows(p.projectId);
      const raw = async (
        method: string,
        path: string,
        body: string | undefined,
        contentType = 'application/json',
      ) => {
        const res = await fetch(`${ctx.srv.url}/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${p.apiKey}`, 'content-type': contentType },
          body: method === 'GET' ? undefined : body,
        });
        const text = await res.text();
        let json: Json = {};
        try {
          json = JSON.parse(text) as Json;
        } catch {
          throw new Error(`${method} ${path}: non-JSON body (${res.status}): ${text.slice(0, 100)}`);
        }
        return { status: res.status, json };
      };
      const check = (label: string, r: { status: number; json: Json }) => {
        const ok =
          r.status >= 400 &&
          r.status < 500 &&
          typeof r.json.error === 'string' &&
          typeof r.json.code === 'string';
        // Reads with valid-looking filters may succeed with empty data; they must never 5xx.
        const emptyRead =
          r.status === 200 && Array.isArray(r.json.data) && (r.json.data as unknown[]).length === 0;
        if (!ok && !emptyRead)
          throw new Error(`${label}: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
      };

      const bodies: [string, string][] = [
        ['malformed', '{"customerId": '],
        ['not json', 'hello'],
        ['array', '[1,2,3]'],
        ['string', '"x"'],
        ['number', '42'],
        ['null', 'null'],
        ['deep', '['.repeat(100_000) + ']'.repeat(100_000)],
        ['deep object', JSON.stringify(deep(200))],
        ['huge', JSON.stringify({ customerId: 'x', pad: 'y'.repeat(1_100_000) })],
        ['nul', '{"customerId":"\\u0000","idempotencyKey":"\\u0000"}'],
        ['lone surrogate', '{"customerId":"\\ud800","externalCustomerId":"\\udfff","idempotencyKey":"k"}'],
        [
          'sql',
          JSON.stringify({
            customerId: "' OR 1=1 --",
            externalCustomerId: "'); DROP TABLE events; --",
            email: "'; DELETE FROM customers; --",
            idempotencyKey: "';--",
          }),
        ],
        ['wrong types', JSON.stringify(Object.fromEntries(BODY_FIELDS.map((f) => [f, { $ne: null }])))],
        [
          'big numbers',
          JSON.stringify({
            quantity: 1e300,
            limitValue: 1e300,
            amountUsdc: '9'.repeat(400),
            gracePeriodHours: 1e9,
          }),
        ],
      ];

      for (const [method, template] of ROUTES) {
        for (const id of HOSTILE_IDS) {
          const path = template.replaceAll('{id}', id);
          check(`${method} ${path}`, await raw(method, path, '{}'));
        }
        const path = template.replaceAll('{id}', 'cus_doesnotexist');
        if (method === 'GET') {
          for (const q of [
            'limit=0',
            'limit=-1',
            'limit=abc',
            'offset=-5',
            'limit=1e9',
            'status=%27%3B--',
            'from=notadate',
            'cursor=%00',
            'isInternal=maybe',
          ]) {
            check(`${method} ${path}?${q}`, await raw(method, `${path}?${q}`, undefined));
          }
          continue;
        }
        for (const [label, body] of bodies)
          check(`${method} ${path} ${label}`, await raw(method, path, body));
      }

      // Property: random bodies on every write route that refers to a resource (none exist here) are refused
      // with a 4xx envelope; batch and bulk routes may answer 2xx with every item refused. Nothing is written.
      const CREATES = ['/customers', '/workflows', '/webhooks', '/api-keys'];
      const writeRoutes = ROUTES.filter(([m, path]) => m !== 'GET' && !CREATES.includes(path));
      const BATCH = ['/usage/internal/bulk', '/runs/record/bulk', '/run-events/batch'];
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...writeRoutes),
          fc.dictionary(
            fc.constantFrom(...BODY_FIELDS),
            fc.oneof(
              fc.constantFrom(...HOSTILE_VALUES),
              fc.string(),
              fc.double(),
              fc.jsonValue({ maxDepth: 3 }),
            ),
          ),
          async ([method, template], body) => {
            const path = template.replaceAll('{id}', 'zz_missing');
            const r = await raw(method, path, JSON.stringify(body));
            if (BATCH.includes(template) && r.status < 300) return;
            check(`${method} ${path} ${JSON.stringify(body).slice(0, 200)}`, r);
          },
        ),
        { numRuns: 150 },
      );
      expect(await ctx.srv.store.countRows(p.projectId)).toEqual(before);
    });

    it('NUL bytes, invalid UTF-8 and huge numbers in query, path and body: no 5xx, no database text', async () => {
      const p = await project(ctx.srv);
      const cu = await p.call('POST', '/customers', { externalCustomerId: 'edge' });
      const before = await ctx.srv.store.countRows(p.projectId);
      const send = async (method: string, path: string, body?: string | Blob) => {
        const res = await fetch(`${ctx.srv.url}/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${p.apiKey}`, 'content-type': 'application/json' },
          body: method === 'GET' ? undefined : body,
        });
        const text = await res.text();
        const label = `${method} ${path} ${typeof body === 'string' ? body.slice(0, 80) : '<bytes>'}`;
        if (res.status >= 500) throw new Error(`${label}: ${res.status} ${text.slice(0, 300)}`);
        // Database errors name SQLSTATE classes, types and encodings; none of it may reach a client.
        if (DB_TEXT.test(text)) throw new Error(`${label}: database text in ${text.slice(0, 300)}`);
        return { status: res.status, json: JSON.parse(text) as Json };
      };
      for (const [method, template] of ROUTES) {
        const path = template.replaceAll('{id}', String(cu.body.id));
        for (const bad of BAD_QUERY_TEXT) {
          // Text no route can use (NUL, malformed UTF-8): 400 INVALID_PARAMETER on every route, whatever the name.
          for (const n of ['limit', 'customerId', 'from', 'cursor', 'status', 'unknownName']) {
            const r = await send(method, `${path}?${n}=${bad}`, '{}');
            if (r.status !== 400 || r.json.code !== 'INVALID_PARAMETER')
              throw new Error(
                `${method} ${path}?${n}=${bad}: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`,
              );
          }
        }
        for (const bad of BAD_QUERY_NUMBERS) {
          await send(method, `${path}?${QUERY_NAMES.map((n) => `${n}=${bad}`).join('&')}`, '{}');
        }
        for (const bad of BAD_PATH_VALUES) await send(method, template.replaceAll('{id}', bad), '{}');
        if (method === 'GET') continue;
        for (const v of ['"\\u0000"', '"a\\u0000b"', '"\\ud800"', '1e400', '-1e400', '9'.repeat(40)])
          await send(method, path, `{${BODY_FIELDS.map((f) => `"${f}":${v}`).join(',')}}`);
        // Invalid UTF-8 inside a JSON string (decoded to U+FFFD, which is valid text).
        await send(method, path, new Blob(['{"customerId":"', new Uint8Array([0xff, 0xfe]), '"}']));
      }
      expect(await ctx.srv.store.countRows(p.projectId)).toEqual(before);
    }, 180_000);

    it('hostile but valid values are stored verbatim and parameterised (no injection)', async () => {
      const p = await project(ctx.srv);
      const evil = "Robert'); DROP TABLE customers; -- 😀 \u202e";
      const cu = await p.call('POST', '/customers', { externalCustomerId: evil, metadata: { note: evil } });
      expect(cu.status).toBe(201);
      const got = await p.call('GET', `/customers?externalCustomerId=${encodeURIComponent(evil)}`);
      expect((got.body.data as Json[]).map((c) => c.externalCustomerId)).toEqual([evil]);
      const rec = await p.call('POST', '/runs/record', {
        customerId: cu.body.id,
        workflow: 'agent',
        status: 'COMPLETED',
        events: [{ eventType: evil.slice(0, 50), prompt: evil }],
      });
      expect(rec.status).toBe(201);
      const events = await ctx.srv.store.listRunEvents(String((rec.body.run as Json).id));
      expect(events[0]?.attributes).toEqual({ prompt: evil });
      expect((await ctx.srv.store.listCustomers(p.projectId)).length).toBe(1);
    });
  });
}
