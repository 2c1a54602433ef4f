// A minimal Drip-shaped sink in its own process for bench/overhead.mjs: what posthog-node and Segment benchmark
// against (a dummy endpoint), so the apps' delivery is measured over real HTTP without a database's CPU on the
// same cores. Every app gets its own path prefix (`/<app>/...`) and its own counters:
//   GET  /<app>/health                 `{ status: 'healthy', capabilities: ['usage-bulk', 'runs-record-bulk'] }`
//   POST /<app>/v1/usage/internal/bulk one success per item (`{ results: [{ index, status: 201 }] }`)
//   POST /<app>/v1/runs/record/bulk    one success per run
//   POST /<app>/v1/usage/internal, /<app>/v1/runs/record: one success (the single routes)
//   POST /<app>/batch/, /<app>/i/v0/e/ posthog-node's batches (gzip or not): `{ status: 1 }`
//   POST /<app>/v1/traces              OTLP/HTTP JSON from OpenTelemetry's exporter: `{}`
//   GET  /__sink/stats                 the counters of every app
// Counters per app: usage items, runs, run events, cancelled runs (the client went away: no usage), posthog events, spans, distinct idempotency keys (a key seen
// twice is counted in `repeats`: delivery must not send an accepted record again), request bodies' bytes.
// Prints `{ url }` when ready.
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

const apps = new Map();
function countersOf(app) {
  let c = apps.get(app);
  if (!c) {
    c = {
      usage: 0,
      runs: 0,
      runEvents: 0,
      cancelled: 0,
      posthog: 0,
      spans: 0,
      repeats: 0,
      bytes: 0,
      posts: 0,
      keys: new Set(),
    };
    apps.set(app, c);
  }
  return c;
}
function noteKey(c, key) {
  if (typeof key !== 'string') return;
  if (c.keys.has(key)) c.repeats++;
  else c.keys.add(key);
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    const url = req.url ?? '/';
    const reply = (status, body) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (url === '/__sink/stats') {
      const out = {};
      for (const [app, c] of apps) {
        const { keys, ...rest } = c;
        out[app] = { ...rest, distinctKeys: keys.size };
      }
      return reply(200, out);
    }
    const slash = url.indexOf('/', 1);
    const app = url.slice(1, slash === -1 ? undefined : slash);
    const path = slash === -1 ? '/' : url.slice(slash).split('?')[0];
    const c = countersOf(app);
    if (req.method === 'GET' && path === '/health') {
      return reply(200, { status: 'healthy', capabilities: ['usage-bulk', 'runs-record-bulk'] });
    }
    let raw = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
    c.bytes += raw.length;
    c.posts++;
    let body;
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      return reply(400, { error: { code: 'VALIDATION_ERROR', message: 'not JSON' } });
    }
    // The spec's bulk bounds (1-1000 usage items, 1-500 runs): a client that sends more is refused, as by the
    // API, so a row cannot look cheaper by batching beyond what Drip accepts.
    const tooMany = (items, max) =>
      reply(422, { error: { code: 'VALIDATION_ERROR', message: `${items.length} items, at most ${max}` } });
    if (path === '/v1/usage/internal/bulk') {
      const events = Array.isArray(body.events) ? body.events : [];
      if (events.length === 0 || events.length > 1000) return tooMany(events, 1000);
      for (const e of events) noteKey(c, e.idempotencyKey);
      c.usage += events.length;
      return reply(200, {
        results: events.map((_, index) => ({ index, status: 201, usageEventId: `u${index}` })),
      });
    }
    if (path === '/v1/runs/record/bulk') {
      const runs = Array.isArray(body.runs) ? body.runs : [];
      if (runs.length === 0 || runs.length > 500) return tooMany(runs, 500);
      for (const r of runs) {
        noteKey(c, r.externalRunId ?? r.idempotencyKey);
        c.runEvents += Array.isArray(r.events) ? r.events.length : 0;
        if (r.status === 'CANCELLED') c.cancelled++;
      }
      c.runs += runs.length;
      return reply(200, {
        results: runs.map((_, index) => ({ index, status: 201, run: { id: `r${index}` } })),
      });
    }
    if (path === '/v1/usage/internal') {
      noteKey(c, body.idempotencyKey);
      c.usage++;
      return reply(201, { success: true, usageEventId: 'u' });
    }
    if (path === '/v1/runs/record') {
      noteKey(c, body.externalRunId ?? body.idempotencyKey);
      c.runs++;
      c.runEvents += Array.isArray(body.events) ? body.events.length : 0;
      if (body.status === 'CANCELLED') c.cancelled++;
      return reply(201, { run: { id: 'r' } });
    }
    if (path.startsWith('/batch') || path.startsWith('/i/v0/e')) {
      const batch = Array.isArray(body.batch) ? body.batch : [body];
      for (const e of batch) noteKey(c, e.uuid);
      c.posthog += batch.length;
      return reply(200, { status: 1 });
    }
    if (path === '/v1/traces') {
      for (const rs of body.resourceSpans ?? [])
        for (const ss of rs.scopeSpans ?? []) c.spans += ss.spans?.length ?? 0;
      return reply(200, {});
    }
    return reply(404, { error: { code: 'NOT_FOUND', message: `no route ${path}` } });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
