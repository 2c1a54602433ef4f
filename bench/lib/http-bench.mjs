// Shared harness of the HTTP adapter benchmarks (bench/http-express.mjs, bench/http-hono.mjs).
//
// Four processes on loopback: the local Drip server, the app without metering ("bare"), the app with the
// adapter ("drip"), and autocannon (its own process, spawned per measurement). Rounds are interleaved
// (bare, drip, drip, bare, ...) so drift on a shared machine hits both sides alike; the figures are
// medians over the rounds. App CPU per request comes from process.cpuUsage() inside the app process,
// read through a control route before and after each measurement.
//
// Two phases:
// - saturation: one app at a time under autocannon (50 connections): throughput, p99 and the CPU per
//   request at that load. At saturation CPU per request is about 1 / throughput, and a bare app that
//   autocannon cannot saturate looks cheaper per request than it is, so this phase gives the ratio.
// - paired, fixed rate: every app at once, each under its own autocannon at the same fixed request rate
//   (well below saturation). The apps share the machine's noise at the same moments, so the difference
//   of their CPU per request is the adapter's cost; p99 at that rate is latency without queueing.
// The local Drip server stores into a throwaway PostgreSQL when scripts/pg-tmp.sh can start one
// (`--db postgres`, the default where PostgreSQL is installed), else into its embedded database.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../scripts/free-port.mjs';
import { median, parseFlags, writeSection } from './common.mjs';

export { freePort, median, parseFlags };

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, '..');
const rootDir = join(benchDir, '..');
const require = createRequire(join(benchDir, 'package.json'));

/** Spawns a Node child that prints one JSON line on stdout when ready; resolves with it. */
export function startChild(script, args, env) {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: benchDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, info: JSON.parse(buf.slice(0, nl)) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready`));
    });
  });
}

/** Stops a child process: SIGTERM, then SIGKILL after 10 s. */
export function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Runs autocannon in its own process and returns its JSON result. */
export function autocannon(url, { connections, duration, rate }) {
  const bin = require.resolve('autocannon/autocannon.js');
  const args = [bin, '-c', String(connections), '-d', String(duration), '-j', url];
  if (rate) args.push('-R', String(rate));
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}: ${err}`));
      resolve(JSON.parse(out));
    });
  });
}

export async function getJson(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** One measurement: CPU and served counters around an autocannon run. */
async function measure(app, opts) {
  const before = await getJson(`${app.url}/__bench/stats`);
  const result = await autocannon(`${app.url}/items/42`, opts);
  const after = await getJson(`${app.url}/__bench/stats`);
  return toMeasurement(result, before, after);
}

/** Paired measurement: every app at once, each under its own autocannon at the same fixed rate. */
async function measurePaired(apps, modes, opts) {
  const before = await Promise.all(modes.map((m) => getJson(`${apps[m].url}/__bench/stats`)));
  const results = await Promise.all(modes.map((m) => autocannon(`${apps[m].url}/items/42`, opts)));
  const after = await Promise.all(modes.map((m) => getJson(`${apps[m].url}/__bench/stats`)));
  return Object.fromEntries(modes.map((m, i) => [m, toMeasurement(results[i], before[i], after[i])]));
}

function toMeasurement(result, before, after) {
  const served = after.served - before.served;
  const cpuMicros = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system);
  return {
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    served,
    cpuPerRequestUs: served > 0 ? cpuMicros / served : Number.NaN,
  };
}

/**
 * Runs the benchmark for one framework.
 * @param {{ name: string, section: string, appScript: string, targets: { ratio: number } }} spec
 */
export async function runHttpBenchmark(spec) {
  const flags = parseFlags(process.argv.slice(2), {
    rounds: 3,
    duration: 10,
    warmup: 3,
    connections: 50,
    pairedRounds: 5,
    pairedDuration: 5,
    pairedConnections: 10,
    rate: 0,
    db: 'auto',
    write: true,
  });
  const opts = { connections: flags.connections, duration: flags.duration };
  const loadBefore = loadavg();
  const log = (...a) => console.error(`[${spec.name}]`, ...a);

  const pg = flags.db === 'pglite' ? undefined : startPostgres(flags.db === 'postgres');
  const database = pg ? 'PostgreSQL' : 'embedded (PGlite)';
  const server = await startChild(
    join(benchDir, 'server-child.mjs'),
    pg ? ['--database-url', pg.url] : [],
    {},
  );
  const { url: dripUrl, apiKey } = server.info;
  log(`local Drip server on ${dripUrl} (${database})`);
  const auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const customer = await getJson(`${dripUrl}/v1/customers`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ externalCustomerId: `bench-${spec.name}-${Date.now()}` }),
  });
  const env = { DRIP_API_KEY: apiKey, DRIP_API_URL: dripUrl, BENCH_CUSTOMER_ID: customer.id };
  const bare = await startChild(spec.appScript, ['bare'], env);
  const metered = await startChild(spec.appScript, ['drip'], env);
  // Diagnostic apps (spec.extraModes, or spec.meterOnly for `meter-only`), e.g. `meter-only`: metering whose
  // delivery never answers; `no-scope`: metering with the request scope (AsyncLocalStorage) turned off.
  const extra = spec.extraModes ?? (spec.meterOnly ? [{ mode: 'meter-only', label: METER_ONLY_LABEL }] : []);
  const extraApps = [];
  for (const { mode } of extra) {
    // Each diagnostic app bills its own customer, so the metered app's delivered counts stay its own.
    const own = await getJson(`${dripUrl}/v1/customers`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ externalCustomerId: `bench-${spec.name}-${mode}-${Date.now()}` }),
    });
    const app = await startChild(spec.appScript, [mode], { ...env, BENCH_CUSTOMER_ID: own.id });
    app.customerId = own.id;
    extraApps.push(app);
  }
  const apps = { bare: bare.info, drip: metered.info };
  extra.forEach(({ mode }, i) => {
    apps[mode] = extraApps[i].info;
  });
  const modes = ['bare', 'drip', ...extra.map((e) => e.mode)];
  const results = Object.fromEntries(modes.map((m) => [m, []]));
  try {
    for (const mode of modes) {
      log(`warm-up ${mode} ${flags.warmup} s`);
      await autocannon(`${apps[mode].url}/items/42`, {
        connections: flags.connections,
        duration: flags.warmup,
      });
    }
    for (let round = 0; round < flags.rounds; round++) {
      const order = round % 2 === 0 ? modes : [...modes].reverse();
      for (const mode of order) {
        const r = await measure(apps[mode], opts);
        results[mode].push(r);
        log(
          `round ${round + 1} ${mode}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99} ms, ` +
            `${r.cpuPerRequestUs.toFixed(1)} µs CPU/req, errors ${r.errors}`,
        );
      }
    }
    // Fixed rate: together the apps get a third of the bare app's saturated throughput, so nothing queues.
    const bareRps = median(results.bare.map((r) => r.rps));
    const rate =
      flags.rate > 0 ? flags.rate : Math.max(100, Math.round(bareRps / 3 / modes.length / 100) * 100);
    const paired = Object.fromEntries(modes.map((m) => [m, []]));
    for (let round = 0; round < flags.pairedRounds; round++) {
      const r = await measurePaired(apps, modes, {
        connections: flags.pairedConnections,
        duration: flags.pairedDuration,
        rate,
      });
      for (const mode of modes) paired[mode].push(r[mode]);
      log(
        `paired round ${round + 1} at ${rate} req/s each: ` +
          modes.map((m) => `${m} ${r[m].cpuPerRequestUs.toFixed(1)} µs/req p99 ${r[m].p99} ms`).join(', '),
      );
    }
    log('flushing the metered app');
    const flushStarted = Date.now();
    const delivery = await getJson(`${apps.drip.url}/__bench/flush`, { method: 'POST' });
    const flushMs = Date.now() - flushStarted;
    const servedTotal = delivery.served;
    const runs = await getJson(`${dripUrl}/v1/runs?customerId=${customer.id}&limit=1`, { headers: auth });
    const events = await getJson(
      `${dripUrl}/v1/events?customerId=${customer.id}&eventType=bench.lookup&limit=1`,
      { headers: auth },
    );
    // The diagnostic apps that deliver: what reached the server for each one's own customer.
    const extraDelivery = {};
    for (const [i, { mode }] of extra.entries()) {
      if (mode === 'meter-only') continue; // its delivery never answers
      const flushed = await getJson(`${apps[mode].url}/__bench/flush`, { method: 'POST' });
      const own = await getJson(`${dripUrl}/v1/runs?customerId=${extraApps[i].customerId}&limit=1`, {
        headers: auth,
      });
      extraDelivery[mode] = { served: flushed.served, runs: own.count, dropped: flushed.stats?.dropped };
    }
    const summary = summarise(spec, flags, extra, results, paired, rate, database, {
      extraDelivery,
      servedTotal,
      runsDelivered: runs.count,
      eventsDelivered: events.pagination?.total ?? events.total,
      flushMs,
      loadBefore,
      stats: delivery.stats,
    });
    console.log(summary);
    if (flags.write !== 'false' && flags.write !== false) writeSection(spec.section, summary);
  } finally {
    await Promise.all([
      stopChild(bare.child),
      stopChild(metered.child),
      ...extraApps.map((a) => stopChild(a.child)),
    ]);
    await stopChild(server.child);
    pg?.stop();
  }
}

/**
 * A throwaway PostgreSQL from scripts/pg-tmp.sh (or BENCH_DATABASE_URL); `undefined` when none can start
 * and `required` is false.
 */
export function startPostgres(required) {
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL, stop: () => {} };
  try {
    const out = execFileSync('bash', [join(rootDir, 'scripts/pg-tmp.sh')], { encoding: 'utf8' }).trim();
    const [port, dir] = out.split(/\s+/);
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      stop: () => execFileSync('bash', [join(rootDir, 'scripts/pg-tmp.sh'), 'stop', dir]),
    };
  } catch (err) {
    if (required) throw err;
    return undefined;
  }
}

const METER_ONLY_LABEL = 'metering only, delivery never answers';

function summarise(spec, flags, extra, results, paired, rate, database, delivery) {
  const m = (mode, key) => median(results[mode].map((r) => r[key]));
  const pm = (mode, key) => median(paired[mode].map((r) => r[key]));
  const bareRps = m('bare', 'rps');
  const dripRps = m('drip', 'rps');
  const ratio = dripRps / bareRps;
  const satCpuExtra = m('drip', 'cpuPerRequestUs') - m('bare', 'cpuPerRequestUs');
  const satP99Extra = m('drip', 'p99') - m('bare', 'p99');
  // Per paired round, the drip app's CPU per request minus the bare app's at the same moments.
  const pairedExtra = paired.drip.map((d, i) => d.cpuPerRequestUs - (paired.bare[i]?.cpuPerRequestUs ?? 0));
  const cpuExtra = median(pairedExtra);
  const p99Extra = pm('drip', 'p99') - pm('bare', 'p99');
  const ok = (pass) => (pass ? 'met' : '**not met**');
  const node = process.version;
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const rows = results.bare
    .map((b, i) => {
      const d = results.drip[i];
      return `| ${i + 1} | ${b.rps.toFixed(0)} | ${d.rps.toFixed(0)} | ${b.p99} | ${d.p99} | ${b.cpuPerRequestUs.toFixed(1)} | ${d.cpuPerRequestUs.toFixed(1)} |`;
    })
    .join('\n');
  const pairedRows = paired.bare
    .map((b, i) => {
      const d = paired.drip[i];
      const more = extra.map(({ mode }) => ` ${paired[mode][i].cpuPerRequestUs.toFixed(1)} |`).join('');
      return `| ${i + 1} | ${b.cpuPerRequestUs.toFixed(1)} | ${d.cpuPerRequestUs.toFixed(1)} |${more} ${(d.cpuPerRequestUs - b.cpuPerRequestUs).toFixed(1)} | ${b.p99} | ${d.p99} |`;
    })
    .join('\n');
  const extraHead = extra.map(({ label }) => ` ${label}: CPU µs/req |`).join('');
  const extraSep = extra.map(() => ' --- |').join('');
  const extraRows = extra
    .map(({ mode, label }) => {
      const delta = median(
        paired[mode].map((o, i) => o.cpuPerRequestUs - (paired.bare[i]?.cpuPerRequestUs ?? 0)),
      );
      const ratioMode = m(mode, 'rps') / bareRps;
      const d = delivery.extraDelivery?.[mode];
      const dropped = d?.dropped ? Object.values(d.dropped).reduce((a, b) => a + b, 0) : 0;
      const runs = d
        ? `| Runs delivered / requests served, ${label} | ${d.runs} / ${d.served} (dropped ${dropped}) | (diagnostic) |\n`
        : '';
      return `| Extra app CPU per request, ${label} (paired) / throughput ratio (saturation) | ${delta.toFixed(2)} µs / ${ratioMode.toFixed(3)} | (diagnostic) |\n${runs}`;
    })
    .join('');
  return `## HTTP: ${spec.title}

Command: \`node bench/${spec.name}.mjs\`. ${spec.description}
Local Drip server: ${database}. Measured ${date} UTC, Node ${node}, ${process.platform}/${process.arch}, ${navigatorCores()} cores shared by the
Drip server, the apps and autocannon; load average before the run ${delivery.loadBefore}, after ${loadavg()}.

Saturation: ${flags.rounds} interleaved rounds of ${flags.duration} s per app after a ${flags.warmup} s warm-up, one app at a time,
autocannon ${flags.connections} connections in its own process, \`GET /items/:id\` returning small JSON.

| Round | bare req/s | drip req/s | bare p99 ms | drip p99 ms | bare CPU µs/req | drip CPU µs/req |
| --- | --- | --- | --- | --- | --- | --- |
${rows}

Paired, fixed rate: ${flags.pairedRounds} rounds of ${flags.pairedDuration} s with every app at once, each under its own autocannon
(${flags.pairedConnections} connections) at ${rate} req/s each (together a third of the bare app's saturated throughput); the extra CPU is the
metered app's CPU per request minus the bare app's in the same round.

| Round | bare CPU µs/req | drip CPU µs/req |${extraHead} extra µs/req | bare p99 ms | drip p99 ms |
| --- | --- | --- |${extraSep} --- | --- | --- |
${pairedRows}

| Median | Value | Target |
| --- | --- | --- |
| Throughput bare / drip (saturation) | ${bareRps.toFixed(0)} / ${dripRps.toFixed(0)} req/s | |
| Throughput ratio drip / bare (saturation) | ${ratio.toFixed(3)} | ≥ ${spec.targets.ratio} (${ok(ratio >= spec.targets.ratio)}) |
| Extra app CPU per request (paired, ${rate} req/s) | ${cpuExtra.toFixed(2)} µs | ≤ 10 µs (${ok(cpuExtra <= 10)}) |
| p99 latency added (paired, ${rate} req/s) | ${p99Extra.toFixed(2)} ms | ≤ 1 ms (${ok(p99Extra <= 1)}) |
| Extra app CPU per request / p99 added at saturation (diagnostic) | ${satCpuExtra.toFixed(2)} µs / ${satP99Extra.toFixed(2)} ms | |
${extraRows}| Runs delivered / requests served (metered app, warm-up included) | ${delivery.runsDelivered} / ${delivery.servedTotal} | equal (${ok(delivery.runsDelivered === delivery.servedTotal)}) |
| Run events delivered / requests served | ${delivery.eventsDelivered} / ${delivery.servedTotal} | equal (${ok(delivery.eventsDelivered === delivery.servedTotal)}) |
| Final flush | ${delivery.flushMs} ms | |

Outbox after the flush: \`${JSON.stringify(delivery.stats)}\`
`;
}

function loadavg() {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

function navigatorCores() {
  try {
    return os.availableParallelism();
  } catch {
    return '?';
  }
}
