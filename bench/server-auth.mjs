// Cost of authentication per request on the local Drip server, on the embedded database (PGlite) and on
// PostgreSQL. Authentication reads the key's row on every request (no per-process cache, so a revocation
// through any instance stops the key at once); this measures what that read costs against a whole request.
//
// In process, one request at a time, no sockets (the server's Hono app through `app.request()`), so the
// figures are per request and not throughput under load:
//   - "auth lookup": the statement authentication runs (`SELECT ... FROM api_keys WHERE <hash> ...`), plus
//     the SHA-256 of the key, through the server's own driver;
//   - "request": `GET /v1/customers/<id>` with a valid secret key (authentication, one indexed read, JSON).
// Wall time per call and CPU time of this process per call (on PGlite the database runs in this process,
// so its CPU is included; on PostgreSQL the database's CPU is not). Medians over the rounds.
//
// Usage: node bench/server-auth.mjs [--calls 2000] [--rounds 3] [--backends pglite,postgres] [--write false]
import { createHash } from 'node:crypto';
import { startServer } from '@drip/server';
import { machine, parseFlags, startPostgres, writeSection } from './server-common.mjs';

const flags = parseFlags(process.argv.slice(2), {
  calls: 2000,
  rounds: 3,
  backends: 'pglite,postgres',
  write: true,
});

// The statement of apps/server/src/auth.ts.
const AUTH_SQL = `SELECT id, project_id, mode, public_key_hash, secret_key_hash, previous_secret_key_hash, previous_secret_key_expires_at, revoked_at
  FROM api_keys WHERE public_key_hash = $1 OR secret_key_hash = $1 OR previous_secret_key_hash = $1 LIMIT 1`;

/** Runs `fn` `n` times one after another; wall and CPU µs per call. */
async function perCall(n, fn) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1000 / n;
  const c = process.cpuUsage(cpu0);
  return { wall, cpu: (c.user + c.system) / n };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const rows = [];
for (const backend of String(flags.backends).split(',')) {
  const pg = backend === 'postgres' ? startPostgres() : undefined;
  const srv = await startServer({
    port: 0,
    host: '127.0.0.1',
    databaseUrl: pg?.url,
    memory: !pg,
    logLevel: 'error',
  });
  try {
    const headers = { authorization: `Bearer ${srv.apiKey}` };
    const created = await srv.app.request('/v1/customers', {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ externalCustomerId: 'bench-auth' }),
    });
    const customer = await created.json();
    if (!customer.id) throw new Error(`customer not created: ${JSON.stringify(customer)}`);
    const hash = () => createHash('sha256').update(srv.apiKey).digest('hex');
    const lookup = async () => {
      const [row] = await srv.store.query(AUTH_SQL, [hash()]);
      if (!row) throw new Error('key not found');
    };
    const request = async () => {
      const res = await srv.app.request(`/v1/customers/${customer.id}`, { headers });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      await res.arrayBuffer();
    };
    // Warm-up (JIT, plans, pool), not counted.
    await perCall(500, lookup);
    await perCall(500, request);
    const got = { lookup: [], request: [] };
    for (let r = 0; r < flags.rounds; r++) {
      got.lookup.push(await perCall(flags.calls, lookup));
      got.request.push(await perCall(flags.calls, request));
    }
    const m = (list, k) => median(list.map((x) => x[k]));
    const row = {
      backend,
      lookupWall: m(got.lookup, 'wall'),
      lookupCpu: m(got.lookup, 'cpu'),
      requestWall: m(got.request, 'wall'),
      requestCpu: m(got.request, 'cpu'),
    };
    rows.push(row);
    console.error(JSON.stringify(row));
  } finally {
    await srv.close();
    pg?.stop();
  }
}

const m = await machine();
const f = (x) => x.toFixed(1);
const pct = (a, b) => `${Math.round((100 * a) / b)} %`;
const text = [
  '## Server: authentication',
  '',
  `Command: \`node bench/server-auth.mjs --calls ${flags.calls} --rounds ${flags.rounds}\``,
  `(${m}.) In process, one call at a time through the server's Hono app (\`app.request()\`, no sockets);`,
  '"auth lookup" = SHA-256 of the key plus the statement authentication runs on every request, through the server\'s',
  'driver; "request" = `GET /v1/customers/<id>` with a secret key (authentication, one indexed read, JSON). CPU = this',
  "process (on PGlite the database runs in it; PostgreSQL's own CPU is not counted). Medians over the rounds.",
  '',
  '| Database | Auth lookup: wall µs | Auth lookup: CPU µs | Request: wall µs | Request: CPU µs | Lookup share of request (wall) |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.backend} | ${f(r.lookupWall)} | ${f(r.lookupCpu)} | ${f(r.requestWall)} | ${f(r.requestCpu)} | ${pct(r.lookupWall, r.requestWall)} |`,
  ),
  '',
].join('\n');
console.log(text);
if (flags.write !== false && flags.write !== 'false') writeSection('server-auth', text);
