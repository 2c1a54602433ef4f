#!/usr/bin/env node
// The one-command demo (root `npm run demo` / `pnpm start`):
//   builds the local Drip server and the example apps, starts the server on its embedded database,
//   starts every example app wired to it, drives agent-style traffic from three customers, waits for the
//   adapters to deliver, prints a summary read back from the server's API and the dashboard's login link,
//   then keeps serving until Ctrl-C.
//
//   node scripts/demo.mjs [--once] [--duration 10] [--examples express,hono] [--port 3001] [--no-build]
//
//   --once       exit after the summary: code 0 only if the server's numbers match the traffic sent
//   --duration   seconds of traffic (default 10)
//   --examples   which apps/example-* to run (default: every one that builds)
//   --port       port of the local server (default 3001; 0 picks a free one; --once defaults to 0)
//   --no-build   use the existing dist/ folders
//   --seed       seed of the traffic generator's random choices (default 42)
//   --data-dir   embedded database directory (default .drip-data/demo; a database there is replaced)
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from './free-port.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CUSTOMERS = ['acme', 'globex', 'initech'];
const APP_KEYS = { acme: 'key_acme', globex: 'key_globex', initech: 'key_initech' };
const PROMPTS = [
  'Summarise the last quarter of support tickets',
  'What is the weather in Paris today?',
  'Draft a polite reply to the customer who asked about invoices',
  'List three risks in the attached contract',
  'Translate the release notes into French',
  'Which of our regions grew fastest last month, and why?',
  'Plan a two-day offsite for twelve engineers in Lisbon',
  'Explain usage-based billing to a new hire in one paragraph',
];

const { values: args } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    examples: { type: 'string' },
    port: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    seed: { type: 'string', default: '42' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (args.help) {
  const usage = readFileSync(fileURLToPath(import.meta.url), 'utf8')
    .split('\n')
    .slice(1);
  const end = usage.findIndex((l) => !l.startsWith('//'));
  console.log(
    usage
      .slice(0, end)
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n'),
  );
  process.exit(0);
}
const durationMs = Math.round(Number(args.duration) * 1000);
if (!Number.isFinite(durationMs) || durationMs <= 0 || durationMs > 3_600_000)
  fail('--duration must be 0 < s <= 3600');
const serverPort = Number(args.port ?? (args.once ? 0 : 3001));
if (!Number.isInteger(serverPort) || serverPort < 0 || serverPort > 65535) fail('--port must be 0-65535');

process.env.TURBO_TELEMETRY_DISABLED = '1';
process.env.NEXT_TELEMETRY_DISABLED = '1';
process.env.WRANGLER_SEND_METRICS = 'false';

const children = [];
let server;
let shuttingDown = false;

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(2);
}

function step(message) {
  console.log(`\n▸ ${message}`);
}

/** A small seeded PRNG (mulberry32), so a seed gives the same traffic mix every time. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function portIsFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function run(cmd, argv, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, {
      cwd: ROOT,
      stdio: options.quiet ? 'pipe' : 'inherit',
      env: process.env,
    });
    let output = '';
    child.stdout?.on('data', (d) => {
      output += d;
    });
    child.stderr?.on('data', (d) => {
      output += d;
    });
    child.on('error', (err) => resolve({ code: 1, output: String(err) }));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/**
 * Every apps/example-* app (a package.json with a `start` script), as `{ name: 'express', dir, pkg }`;
 * apps/example-agent, the agent they share, is a library and is built as their dependency.
 */
function discoverExamples() {
  const appsDir = join(ROOT, 'apps');
  return readdirSync(appsDir)
    .filter((d) => d.startsWith('example-') && existsSync(join(appsDir, d, 'package.json')))
    .sort((a, b) => (a === 'example-express' ? -1 : b === 'example-express' ? 1 : a.localeCompare(b)))
    .map((d) => ({
      name: d.slice('example-'.length),
      dir: join(appsDir, d),
      pkg: JSON.parse(readFileSync(join(appsDir, d, 'package.json'), 'utf8')),
    }))
    .filter((ex) => typeof ex.pkg.scripts?.start === 'string');
}

async function build(examples) {
  const turbo = join(ROOT, 'node_modules', '.bin', 'turbo');
  if (!existsSync(turbo)) fail('turbo is missing: run the install first (npm run demo does it)');
  step('Building the local server (turbo, cached after the first time)');
  const core = await run(turbo, ['run', 'build', '--filter=@drip/server', '--output-logs=errors-only']);
  if (core.code !== 0) fail('the server did not build');
  const built = [];
  for (const ex of examples) {
    step(`Building ${ex.pkg.name}`);
    const res = await run(turbo, ['run', 'build', `--filter=${ex.pkg.name}`, '--output-logs=errors-only'], {
      quiet: true,
    });
    if (res.code === 0) built.push(ex);
    else
      console.log(
        `  skipped: ${ex.pkg.name} does not build yet\n${indent(res.output.trim().split('\n').slice(-8).join('\n'))}`,
      );
  }
  return built;
}

function indent(text) {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

async function startLocalServer() {
  const entry = join(ROOT, 'apps', 'server', 'dist', 'index.js');
  if (!existsSync(entry)) fail('apps/server/dist/index.js is missing (build the server, or drop --no-build)');
  // The demo's own data directory, reset on every run so the summary covers this run only.
  const dataDir = args['data-dir'] ? resolve(args['data-dir']) : join(ROOT, '.drip-data', 'demo');
  // Only a database directory (or an empty one) is replaced, never a folder that holds anything else.
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0 && !existsSync(join(dataDir, 'PG_VERSION'))) {
    fail(`${dataDir} is neither empty nor a database directory; pass another --data-dir`);
  }
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dirname(dataDir), { recursive: true });
  const shown = relative(ROOT, dataDir).startsWith('..') ? dataDir : relative(ROOT, dataDir);
  step(`Starting the local Drip server (embedded database in ${shown}/)`);
  let port = serverPort;
  if (port !== 0 && !(await portIsFree(port))) {
    console.log(`  port ${port} is taken; using a free one instead (pass --port to choose)`);
    port = 0;
  }
  const s = await spawnServer(pathToFileURL(entry).href, {
    port,
    host: '127.0.0.1',
    dataDir,
    logLevel: 'warn',
  });
  console.log(`  ${s.url}  (API under ${s.url}/v1, test-mode secret key ${s.apiKey.slice(0, 12)}…)`);
  return s;
}

// Runs in a child process: the embedded database works on its own core, so the traffic generator in
// this process is never held up by it. Reports its URL and keys over IPC; stops cleanly on SIGTERM.
const SERVER_CHILD = `
const { entry, options } = JSON.parse(process.argv[1]);
const { startServer } = await import(entry);
const s = await startServer(options);
process.send({ url: s.url, apiKey: s.apiKey, publicKey: s.publicKey });
let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  s.close().then(() => process.exit(0), () => process.exit(1));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
`;

function spawnServer(entry, options) {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', SERVER_CHILD, JSON.stringify({ entry, options })],
    { cwd: ROOT, detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => rejectStart(new Error('the server did not start within 180 s')), 180_000);
    child.once('message', (info) => {
      clearTimeout(timer);
      resolveStart({
        url: info.url,
        apiKey: info.apiKey,
        publicKey: info.publicKey,
        close: () => stopProcess(child, 15_000),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rejectStart(new Error(`the server exited during start-up (code ${code})`));
    });
  });
}

/** SIGTERM to a child's process group, then SIGKILL if it is still there after `graceMs`. */
function stopProcess(child, graceMs) {
  return new Promise((resolveStop) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
    const t = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      resolveStop();
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolveStop();
    });
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      clearTimeout(t);
      resolveStop();
    }
  });
}

async function startExampleApp(ex, apiUrl, apiKey) {
  const script = ex.pkg.scripts?.start;
  if (!script) return null;
  const port = await freePort();
  const bin = [join(ex.dir, 'node_modules', '.bin'), join(ROOT, 'node_modules', '.bin')].join(':');
  // Its own process group, so Ctrl-C stops the whole tree (npm/next spawn children of their own).
  const child = spawn('sh', ['-c', script], {
    cwd: ex.dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      DRIP_API_URL: apiUrl,
      DRIP_API_KEY: apiKey,
      NODE_ENV: 'production',
    },
  });
  let log = '';
  const keep = (d) => {
    log = (log + d).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return { name: ex.name, pkgName: ex.pkg.name, url, child };
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  console.log(
    `  skipped: ${ex.pkg.name} did not answer /health\n${indent(log.trim().split('\n').slice(-10).join('\n'))}`,
  );
  await stopProcess(child, 3000);
  return null;
}

/** What the demo sent, per customer, to compare with what the server recorded. */
function newTally() {
  return Object.fromEntries(
    CUSTOMERS.map((c) => [
      c,
      {
        requests: 0,
        ok: 0,
        failed: 0,
        unexpected: 0,
        llmTokens: 0,
        inputTokens: 0,
        outputTokens: 0,
        agentOk: 0,
        items: 0,
        agent: 0,
        charges: 0,
        chargesRefused: 0,
      },
    ]),
  );
}

async function callApp(app, customer, method, path, body) {
  const headers = { 'x-api-key': APP_KEYS[customer] };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // keep null
  }
  return { status: res.status, json };
}

/** Customer profiles: how often each one talks to the agent, fails, and buys a premium report. */
const PROFILES = {
  acme: { agent: 0.6, fail: 0.03, report: 0.25, thinkMs: [60, 180] },
  globex: { agent: 0.25, fail: 0.02, report: 0.1, thinkMs: [80, 220] },
  initech: { agent: 0.45, fail: 0.12, report: 0, thinkMs: [100, 260] },
};

async function driveTraffic(apps, drip, customerIds) {
  const tally = newTally();
  const random = rng(Number(args.seed) || 42);
  const until = Date.now() + durationMs;
  let reportSeq = 0;
  const runTag = Date.now().toString(36);

  // Unauthenticated calls are answered 401 by each app's own auth and never metered.
  for (const app of apps) {
    const res = await fetch(`${app.url}/api/items/1`);
    if (res.status !== 401) tally.acme.unexpected++;
  }

  const worker = async (app, customer) => {
    const p = PROFILES[customer];
    const t = tally[customer];
    while (Date.now() < until) {
      const r = random();
      let res;
      t.requests++;
      try {
        if (r < p.fail) {
          res = await callApp(app, customer, 'GET', '/api/fail');
        } else if (r < p.fail + p.agent) {
          t.agent++;
          const prompt = PROMPTS[Math.floor(random() * PROMPTS.length)];
          res = await callApp(app, customer, 'POST', '/api/agent', { prompt });
          if (res.status === 200) {
            const u = res.json?.usage ?? {};
            t.agentOk++;
            t.inputTokens += Number(u.inputTokens ?? 0);
            t.outputTokens += Number(u.outputTokens ?? 0);
            t.llmTokens += Number(u.inputTokens ?? 0) + Number(u.outputTokens ?? 0);
          }
          if (res.status === 200 && random() < p.report) {
            // The app's billing step for a paid feature: an immediate charge (the client's charge()).
            const c = await drip.post('/usage', {
              customerId: customerIds[customer],
              usageType: 'premium_report',
              quantity: 1,
              idempotencyKey: `demo-${runTag}-report-${++reportSeq}`,
            });
            if (c.status === 201) t.charges++;
            else t.chargesRefused++;
          }
        } else {
          t.items++;
          res = await callApp(app, customer, 'GET', `/api/items/${1 + Math.floor(random() * 500)}`);
        }
        if (res.status === 200) t.ok++;
        else if (res.status === 500) t.failed++;
        else t.unexpected++;
      } catch {
        t.unexpected++;
      }
      const [lo, hi] = p.thinkMs;
      await sleep(lo + random() * (hi - lo));
    }
  };
  const workers = [];
  for (const app of apps) for (const c of CUSTOMERS) workers.push(worker(app, c), worker(app, c));
  let ticker;
  if (process.stdout.isTTY) {
    ticker = setInterval(() => {
      const sent = Object.values(tally).reduce((n, t) => n + t.requests, 0);
      process.stdout.write(
        `\r  ${sent} requests sent, ${Math.max(0, Math.ceil((until - Date.now()) / 1000))} s left   `,
      );
    }, 500);
  }
  await Promise.all(workers);
  if (ticker) {
    clearInterval(ticker);
    process.stdout.write('\n');
  }
  return tally;
}

function apiClient(baseUrl, apiKey) {
  const call = async (method, path, body) => {
    const res = await fetch(`${baseUrl}/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // keep null
    }
    return { status: res.status, json };
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    /** Every item of an offset-paginated list. */
    async all(path, max = 100_000) {
      const out = [];
      const sep = path.includes('?') ? '&' : '?';
      for (let offset = 0; offset < max; offset += 100) {
        const res = await call('GET', `${path}${sep}limit=100&offset=${offset}`);
        if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
        const data = res.json?.data ?? [];
        out.push(...data);
        if (data.length < 100) break;
      }
      return out;
    },
  };
}

async function resolveCustomers(drip) {
  const ids = {};
  for (const c of CUSTOMERS) {
    const res = await drip.get(`/customers?externalCustomerId=${encodeURIComponent(c)}`);
    const found = (res.json?.data ?? []).find((x) => x.externalCustomerId === c);
    if (found) ids[c] = found.id;
  }
  return ids;
}

async function readSummary(drip, customerIds) {
  const rows = {};
  for (const c of CUSTOMERS) {
    const id = customerIds[c];
    const row = {
      usage: {},
      // Per model: input/output tokens and calls from the llm.call run events (@drip/ai records one per
      // model call), and the llm_tokens usage billed with that model in its metadata.
      models: {},
      runs: {},
      runTotal: 0,
      charges: 0,
      chargedMicros: 0n,
      balance: '',
      available: '',
    };
    rows[c] = row;
    if (!id) continue;
    const model = (name) => {
      row.models[name] ??= { calls: 0, input: 0, output: 0, billed: 0 };
      return row.models[name];
    };
    for (const e of await drip.all(`/events?customerId=${id}&eventType=USAGE`)) {
      const meter = e.usageType ?? 'generic';
      row.usage[meter] = (row.usage[meter] ?? 0) + Number(e.quantity ?? 0);
      if (meter === 'llm_tokens') model(String(e.metadata?.model ?? '?')).billed += Number(e.quantity ?? 0);
    }
    for (const e of await drip.all(`/events?customerId=${id}&eventType=llm.call`)) {
      const a = e.attributes ?? {};
      const m = model(String(a.model ?? '?'));
      m.calls++;
      m.input += Number(a.inputTokens ?? 0);
      m.output += Number(a.outputTokens ?? 0);
    }
    for (const status of ['COMPLETED', 'FAILED', 'RUNNING', 'PENDING', 'CANCELLED', 'TIMEOUT']) {
      const res = await drip.get(`/runs?customerId=${id}&status=${status}&limit=1`);
      const n = Number(res.json?.count ?? 0);
      if (n > 0) row.runs[status] = n;
      row.runTotal += n;
    }
    for (const ch of await drip.all(`/charges?customerId=${id}`)) {
      if (ch.status !== 'CONFIRMED') continue;
      row.charges++;
      row.chargedMicros += BigInt(String(ch.amountToken ?? '0'));
    }
    const bal = await drip.get(`/customers/${id}/balance`);
    row.balance = bal.json?.balanceUsdc ?? '?';
    row.available = bal.json?.availableUsdc ?? '?';
  }
  return rows;
}

/** The checks `--once` exits on: what the server recorded must match what the demo sent. */
function checks(tally, summary, hooks) {
  const out = [];
  if (hooks) {
    const charges = CUSTOMERS.reduce((n, c) => n + summary[c].charges, 0);
    const failed = CUSTOMERS.reduce((n, c) => n + (summary[c].runs.FAILED ?? 0), 0);
    out.push([
      'webhooks: charge.succeeded received = confirmed charges',
      hooks.byType['charge.succeeded'] ?? 0,
      charges,
    ]);
    out.push(['webhooks: run.failed received = FAILED runs', hooks.byType['run.failed'] ?? 0, failed]);
    out.push(['webhooks: deliveries with a bad signature', hooks.badSignatures, 0]);
  }
  for (const c of CUSTOMERS) {
    const t = tally[c];
    const s = summary[c];
    out.push([`${c}: runs recorded = metered requests sent`, s.runTotal, t.ok + t.failed]);
    out.push([`${c}: COMPLETED runs = 200 answers`, s.runs.COMPLETED ?? 0, t.ok]);
    out.push([`${c}: FAILED runs = 500 answers`, s.runs.FAILED ?? 0, t.failed]);
    out.push([`${c}: api_calls = successful requests`, s.usage.api_calls ?? 0, t.ok]);
    out.push([`${c}: llm_tokens = tokens the agent reported`, s.usage.llm_tokens ?? 0, t.llmTokens]);
    const models = Object.values(s.models);
    const sum = (field) => models.reduce((n, m) => n + m[field], 0);
    // The example agent makes two model calls per answer (the web search, then the answer).
    out.push([`${c}: llm.call events = 2 per agent answer`, sum('calls'), 2 * t.agentOk]);
    out.push([`${c}: llm.call input tokens = input the agent reported`, sum('input'), t.inputTokens]);
    out.push([`${c}: llm.call output tokens = output the agent reported`, sum('output'), t.outputTokens]);
    out.push([
      `${c}: llm_tokens per model = llm.call input + output per model`,
      models.filter((m) => m.billed !== m.input + m.output).length,
      0,
    ]);
    out.push([`${c}: confirmed charges = premium reports billed`, s.charges, t.charges]);
    out.push([`${c}: unexpected answers`, t.unexpected, 0]);
  }
  return out.map(([label, got, want]) => ({ label, got, want, ok: got === want }));
}

async function waitForDelivery(drip, customerIds, tally) {
  // The adapters deliver in the background (batched); poll until every run has landed or 30 s pass.
  const want = Object.fromEntries(CUSTOMERS.map((c) => [c, tally[c].ok + tally[c].failed]));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    let done = true;
    for (const c of CUSTOMERS) {
      if (!customerIds[c]) continue;
      const res = await drip.get(`/runs?customerId=${customerIds[c]}&limit=1`);
      if (Number(res.json?.count ?? 0) < want[c]) done = false;
    }
    if (done) return;
    await sleep(300);
  }
}

function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i])))
      .join('  ');
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)]
    .map((l) => `  ${l}`)
    .join('\n');
}

const fmtQty = (n) => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(6));
const fmtMicros = (m) => `${m / 1_000_000n}.${(m % 1_000_000n).toString().padStart(6, '0')}`;

function printSummary(apps, tally, summary) {
  const meters = [...new Set(CUSTOMERS.flatMap((c) => Object.keys(summary[c].usage)))].sort();
  step('Summary (read back from the server API)');
  console.log(
    `  apps: ${apps.map((a) => a.pkgName).join(', ')} · ${(durationMs / 1000).toFixed(0)} s of traffic`,
  );
  console.log('\n  Usage per customer and meter');
  console.log(
    table(
      ['customer', ...meters],
      CUSTOMERS.map((c) => [c, ...meters.map((m) => fmtQty(summary[c].usage[m] ?? 0))]),
    ),
  );
  const modelRows = CUSTOMERS.flatMap((c) =>
    Object.entries(summary[c].models)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([model, m]) => [
        c,
        model,
        fmtQty(m.calls),
        fmtQty(m.input),
        fmtQty(m.output),
        fmtQty(m.input + m.output),
        fmtQty(m.billed),
      ]),
  );
  console.log('\n  Tokens per customer and model (llm.call run events; billed = llm_tokens usage)');
  console.log(
    modelRows.length > 0
      ? table(['customer', 'model', 'calls', 'input', 'output', 'total', 'billed'], modelRows)
      : '  (no model calls)',
  );
  const statuses = [...new Set(CUSTOMERS.flatMap((c) => Object.keys(summary[c].runs)))].sort();
  console.log('\n  Runs by status');
  console.log(
    table(
      ['customer', ...statuses, 'total', 'requests sent'],
      CUSTOMERS.map((c) => [
        c,
        ...statuses.map((s) => summary[c].runs[s] ?? 0),
        summary[c].runTotal,
        tally[c].ok + tally[c].failed,
      ]),
    ),
  );
  console.log('\n  Charges (premium reports, charged with POST /v1/usage) and balances (USDC)');
  console.log(
    table(
      ['customer', 'charges', 'charged', 'balance', 'available'],
      CUSTOMERS.map((c) => [
        c,
        summary[c].charges,
        fmtMicros(summary[c].chargedMicros),
        summary[c].balance,
        summary[c].available,
      ]),
    ),
  );
}

async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  // The apps first (they deliver what they still hold), then the server they deliver to.
  await Promise.all(children.map((child) => stopProcess(child, 8000)));
  if (server) await server.close().catch(() => {});
  process.exit(code);
}

/**
 * A webhook endpoint in this process: counts the events it receives and checks each signature with
 * @drip/core's verifier (spec §8.2). Deliveries are deduplicated on the event id, as receivers should.
 */
async function startWebhookReceiver() {
  const core = join(ROOT, 'packages', 'core', 'dist', 'index.js');
  const { verifyWebhookSignature } = await import(pathToFileURL(core).href);
  const hooks = { secret: '', seen: new Set(), byType: {}, badSignatures: 0 };
  const srv = createHttpServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const ok = await verifyWebhookSignature(
        body,
        String(req.headers['x-drip-signature'] ?? ''),
        hooks.secret,
      ).catch(() => false);
      let event = null;
      try {
        event = JSON.parse(body);
      } catch {
        // counted as a bad signature below if unsigned; otherwise ignored
      }
      if (!ok) hooks.badSignatures++;
      else if (event?.id && !hooks.seen.has(event.id)) {
        hooks.seen.add(event.id);
        hooks.byType[event.type] = (hooks.byType[event.type] ?? 0) + 1;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  hooks.url = `http://127.0.0.1:${srv.address().port}/webhooks/drip`;
  srv.unref();
  return hooks;
}

async function main() {
  let examples = discoverExamples();
  if (args.examples) {
    const wanted = args.examples.split(',').map((s) => s.trim().replace(/^example-/, ''));
    const unknown = wanted.filter((w) => !examples.some((e) => e.name === w));
    if (unknown.length) fail(`unknown example(s): ${unknown.join(', ')}`);
    examples = examples.filter((e) => wanted.includes(e.name));
  }
  if (!args['no-build']) examples = await build(examples);
  server = await startLocalServer();
  const drip = apiClient(server.url, server.apiKey);
  // The apps get a key pair of their own (POST /v1/api-keys), as a team would issue one per service.
  const issued = await drip.post('/api-keys', { name: 'demo example apps' });
  const appKey =
    issued.status === 201 && typeof issued.json?.secretKey === 'string'
      ? issued.json.secretKey
      : server.apiKey;
  if (appKey !== server.apiKey)
    console.log(
      `  issued a key pair for the example apps: ${appKey.slice(0, 12)}… (${issued.json?.publicKey})`,
    );
  const appDrip = apiClient(server.url, appKey);
  // A signed-webhook endpoint for charges and failed runs, as a billing team would register one.
  let hooks = null;
  try {
    const receiver = await startWebhookReceiver();
    const created = await drip.post('/webhooks', {
      url: receiver.url,
      events: ['charge.succeeded', 'run.failed'],
      description: 'demo receiver',
    });
    if (created.status === 201) {
      receiver.secret = created.json.secret;
      hooks = receiver;
      console.log(`  registered a webhook endpoint for charge.succeeded and run.failed: ${receiver.url}`);
    }
  } catch (err) {
    console.log(`  no webhook receiver: ${err instanceof Error ? err.message : String(err)}`);
  }

  step('Starting the example apps');
  const apps = [];
  for (const ex of examples) {
    const app = await startExampleApp(ex, server.url, appKey);
    if (app) {
      apps.push(app);
      console.log(`  ${app.pkgName.padEnd(22)} ${app.url}`);
    }
  }
  if (apps.length === 0) {
    console.error('demo: no example app started');
    return shutdown(1);
  }
  const customerIds = await resolveCustomers(drip);

  step(`Sending agent-style traffic from ${CUSTOMERS.join(', ')} for ${(durationMs / 1000).toFixed(0)} s`);
  const tally = await driveTraffic(apps, appDrip, customerIds);
  const sent = CUSTOMERS.reduce((n, c) => n + tally[c].requests, 0);
  console.log(
    `  ${sent} requests sent to ${apps.length} app(s), plus ${apps.length} unauthenticated (answered 401)`,
  );

  step('Waiting for the adapters to deliver');
  await waitForDelivery(drip, customerIds, tally);
  // Runs and usage travel in separate batches: read until the numbers hold, for at most 10 s more.
  let summary;
  let results;
  const settleBy = Date.now() + 10_000;
  for (;;) {
    summary = await readSummary(drip, customerIds);
    results = checks(tally, summary, hooks);
    if (results.every((r) => r.ok) || Date.now() > settleBy) break;
    await sleep(500);
  }
  printSummary(apps, tally, summary);
  if (hooks) {
    const types = Object.entries(hooks.byType)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    console.log(
      `\n  Webhooks received (signed, verified with @drip/core): ${types || 'none'}${hooks.badSignatures ? `, ${hooks.badSignatures} with a bad signature` : ''}`,
    );
  }
  const bad = results.filter((r) => !r.ok);
  console.log(
    `\n  Checks: ${results.length - bad.length}/${results.length} hold (server numbers = traffic sent)` +
      (bad.length
        ? `\n${bad.map((r) => `  ✗ ${r.label}: server ${r.got}, expected ${r.want}`).join('\n')}`
        : ''),
  );

  const link = await fetch(`${server.url}/dashboard/login-links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}` },
  })
    .then((r) => (r.status === 201 ? r.json() : null))
    .catch(() => null);
  step('Dashboard');
  if (link?.url)
    console.log(
      `  ${link.url}\n  (one-time login link; afterwards log in at ${server.url}/ with the secret key)`,
    );
  else console.log(`  ${server.url}/  (log in with the secret key)`);
  console.log(`  secret key: ${server.apiKey}`);

  if (args.once) return shutdown(bad.length === 0 ? 0 : 1);
  console.log('\nServing until Ctrl-C.');
}

process.once('SIGINT', () => {
  console.log('\nStopping…');
  shutdown(0);
});
process.once('SIGTERM', () => shutdown(0));

main().catch((err) => {
  console.error(err);
  shutdown(1);
});
