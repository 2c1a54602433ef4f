// Per-request overhead, measured fairly (issue 17): every app delivers over real HTTP to a minimal Drip-shaped
// sink in its own process (bench/lib/sink.mjs), so no database's CPU shares the cores, and every row is
// measured in the same interleaved run as its baseline. Rows per framework:
//   bare     the app without metering
//   floor    an event pushed into an in-memory array per request, drained: the least any metering can cost
//   floor-deliver  the same two records @drip sends per request, built as plain objects and POSTed in bulk to
//            the sink over keep-alive node:http, answers parsed: the least any metering that delivers what
//            Drip delivers can cost (no validation, retries, request scope or outcome rules)
//   drip     @drip/<adapter> with its usage record and a run with one event per request, delivered
//   posthog  posthog-node (one capture per request, its default batching, delivered to the sink)
//   otel     OpenTelemetry (two spans per request, BatchSpanProcessor + OTLP/HTTP JSON exporter to the sink)
//   noop     a middleware that only calls next() (Express, Hono): what registering any metering middleware
//            costs the framework before the middleware does anything
// Nest (bench/overhead-nest-app.mjs) adds `noop` (an interceptor that only returns next.handle()) and compares
// the metered interceptor with it. Next (`next start` of the built bench/next-app, one server per row, the row
// named by BENCH_MODE) has bare, floor and drip (`withDrip`) rows, reported against the bare route handler.
// Optional diagnostic rows (--extra no-scope,no-run,no-metadata,file-store)
// show each feature's share.
//
// Method: the apps run one at a time under autocannon (its own process, --connections, saturation) for
// --duration seconds, in --rounds rounds whose order alternates (a b c, c b a, ...). Each measurement reads the
// app's process.cpuUsage() before the load and after the app has flushed everything it queued, so the CPU
// includes delivery; the sink's counters are then checked against the app's served count (delivered == served,
// after every measurement). Figures are medians over rounds; "extra" is a row's CPU per request minus the bare
// app's in the same round. Memory per queued record: the metered app with a client whose fetch never answers,
// heap after GC around 4 000 requests. JSON bytes per request: what the sink received, decompressed.
//
// Usage: node bench/overhead.mjs [--frameworks express,hono,nest,next] [--nodes 24,20] [--rounds 3] [--duration 5]
//          [--warmup 2] [--connections 50] [--extra no-scope,file-store] [--rows noop,floor-deliver,drip] [--before DIR]
//          [--quick] [--write false]
//   --rows: only these rows besides the bare app (the restated target's four: more rounds in the same time, fewer
//   processes in the paired phase); written to "bench:overhead-<framework>-rows".
//   --before DIR: adds a `drip-before` row, the adapter and @drip/core from DIR/node_modules/@drip/{core,express,hono}
//   (copies of another build's package.json + dist), measured in the same interleaved rounds.
//   --quick: Node 24 only, rounds of 2 s (a smoke run; its figures are noisy).
// Node 24 is `.tools/node24/node_modules/.bin/node` (scripts/runtimes.sh installs it); `20` is this process's
// Node when it is 20, else `.tools/node20/...`. Each framework writes its own section of BENCHMARKS.md
// ("bench:overhead-<framework>", or "bench:overhead-<framework>-features" with --extra) with the rows of every
// Node it ran on.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, parseFlags, writeSection } from './lib/common.mjs';
import { autocannon, freePort, getJson, stopChild } from './lib/http-bench.mjs';
import { ensureNextBuild, nextAppDir, nextBin, nextReady } from './lib/next-app.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const rootDir = join(benchDir, '..');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const flags = parseFlags(
  argv.filter((a) => a !== '--quick'),
  {
    frameworks: 'express,hono',
    nodes: quick ? '24' : '24,20',
    rounds: 3,
    duration: quick ? 2 : 5,
    warmup: quick ? 1 : 2,
    connections: 50,
    extra: '',
    rows: '',
    before: '',
    rate: 200,
    write: !quick,
  },
);
const log = (...a) => console.error('[overhead]', ...a);
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

/** The Node binary for a major version. */
function nodeBinary(major) {
  if (process.versions.node.split('.')[0] === String(major)) return process.execPath;
  const bin = join(rootDir, '.tools', `node${major}`, 'node_modules', '.bin', 'node');
  if (!existsSync(bin)) throw new Error(`no Node ${major} at ${bin} (scripts/runtimes.sh installs it)`);
  return bin;
}

/**
 * Spawns a child that prints one JSON line when ready (or, with `readyUrl`, any line that says it is ready, for
 * `next start`); resolves with { child, info }.
 */
function start(bin, args, env = {}, readyUrl = undefined) {
  const child = spawn(bin, args, {
    cwd: benchDir,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start within 60 s`)), 60_000);
    child.stdout.on('data', (d) => {
      buf += d;
      // The SDK prints an info line on its first delivery: the ready line is the first JSON object line.
      for (const line of buf.split('\n')) {
        const ready = readyUrl ? nextReady(line) : line.startsWith('{"url"');
        if (!ready) continue;
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, info: readyUrl ? { url: readyUrl } : JSON.parse(line) });
        return;
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code} before it was ready`));
    });
  });
}

const ROW_LABELS = {
  bare: 'bare app',
  floor: 'in-memory floor (event pushed into an array, drained)',
  'floor-deliver': "delivering floor (@drip's two records per request, bulk-POSTed raw, answers parsed)",
  noop: 'no-op middleware (only calls next)',
  drip: '@drip adapter: usage + run with one event, delivered',
  posthog: 'posthog-node, one capture, delivered (reference)',
  otel: 'OpenTelemetry, two spans, batch OTLP/HTTP exporter to the sink (reference)',
  'drip-before': '@drip adapter, the build before this change (--before)',
  'no-scope': 'diagnostic: @drip with `asyncContext: false`',
  'no-run': 'diagnostic: @drip with `run: false` (usage only)',
  'no-metadata': 'diagnostic: @drip with `metadata: false`',
  'file-store': 'diagnostic: @drip with a file-backed durable store',
};

/** What the sink must have received for `served` requests of a mode; a message when it differs. */
function deliveryCheck(mode, served, sunk, flushed) {
  const c = sunk ?? { usage: 0, runs: 0, runEvents: 0, posthog: 0, spans: 0, repeats: 0 };
  switch (mode) {
    case 'bare':
    case 'noop':
      return { ok: true, text: '—' };
    case 'floor':
      return { ok: flushed.delivered === served, text: `${flushed.delivered} / ${served}` };
    case 'posthog':
      return { ok: c.posthog === served && c.repeats === 0, text: `${c.posthog} / ${served}` };
    case 'otel':
      return { ok: c.spans === 2 * served, text: `${c.spans / 2} / ${served} (spans / 2)` };
    case 'no-run':
      return { ok: c.usage === served && c.repeats === 0, text: `${c.usage} / ${served}` };
    default: {
      // A request the client abandoned when autocannon stopped (Next answers slowly enough for some to be in
      // flight) is a CANCELLED run without usage, by the outcome rules: usage + cancelled runs == served.
      const cancelled = c.cancelled ?? 0;
      const ok =
        c.usage + cancelled === served && c.runs === served && c.runEvents === served && c.repeats === 0;
      const text =
        c.usage === c.runs && c.runs === c.runEvents
          ? `${c.usage} / ${served}`
          : `usage ${c.usage}, runs ${c.runs} (${cancelled} cancelled by the client), run events ${c.runEvents} / ${served}`;
      return { ok, text: c.repeats ? `${text}, ${c.repeats} keys sent twice` : text };
    }
  }
}

/** One measurement of one app: saturation under autocannon, then a flush, CPU around both. */
async function measure(app, sinkUrl, rate = 0) {
  const before = await getJson(`${app.url}/__bench/stats`);
  const result = await autocannon(`${app.url}/items/42`, {
    connections: rate ? 10 : flags.connections,
    duration: flags.duration,
    ...(rate ? { rate } : {}),
  });
  // Requests still in flight when autocannon stopped finish before the counts are read.
  for (let last = -1, now = before.served; now !== last; ) {
    last = now;
    await new Promise((r) => setTimeout(r, 100));
    now = (await getJson(`${app.url}/__bench/stats`)).served;
  }
  const flushed = await getJson(`${app.url}/__bench/flush`, { method: 'POST' });
  const after = await getJson(`${app.url}/__bench/stats`);
  const sunk = (await getJson(`${sinkUrl}/__sink/stats`))[app.key];
  const served = after.served - before.served;
  const cpu = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system);
  return {
    rps: result.requests.average,
    errors: result.errors + result.timeouts + result.non2xx,
    cpuUs: served > 0 ? cpu / served : Number.NaN,
    check: deliveryCheck(app.mode, after.served, sunk, flushed),
    bytesPerRequest: sunk ? sunk.bytes / after.served : 0,
  };
}

/**
 * Heap per queued record: the metered app whose delivery never answers, 500 requests to warm the code,
 * then 4 000 measured. Both are fixed counts, not durations: 4 500 requests queue 9 000 records, under the
 * outbox's 10 000-record memory bound (a timed warm-up on a fast machine filled the bound, and past it
 * records spill to disk, so nothing more was queued in memory to measure).
 */
async function queuedMemory(bin, appScript, framework, sinkUrl) {
  const app = await start(bin, ['--expose-gc', appScript, framework, 'queued'], {
    BENCH_SINK: `${sinkUrl}/queued-${framework}`,
  });
  const requireBench = (await import('node:module')).createRequire(join(benchDir, 'package.json'));
  const send = (amount) =>
    new Promise((resolve, reject) => {
      const c = spawn(
        process.execPath,
        [
          requireBench.resolve('autocannon/autocannon.js'),
          '-c',
          '10',
          '-a',
          String(amount),
          `${app.info.url}/items/42`,
        ],
        { stdio: 'ignore' },
      );
      c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`autocannon ${code}`))));
    });
  try {
    await send(500);
    const before = await getJson(`${app.info.url}/__bench/heap`);
    await send(4000);
    const after = await getJson(`${app.info.url}/__bench/heap`);
    const records = after.queued - before.queued;
    return { perRecord: (after.heapUsed - before.heapUsed) / records, records };
  } finally {
    app.child.kill('SIGKILL');
  }
}

/** The app script of Express, Hono and Nest rows (Next runs `next start` instead). */
const appScriptOf = (framework) =>
  join(benchDir, framework === 'nest' ? 'overhead-nest-app.mjs' : 'overhead-app.mjs');

/** One app of a row: `node <script> <framework> <mode>`, or for Next a `next start` of the built app. */
async function startApp(bin, framework, mode, env) {
  if (framework !== 'next') return start(bin, [appScriptOf(framework), framework, mode], env);
  const port = await freePort();
  return start(
    bin,
    [nextBin, 'start', nextAppDir, '-H', '127.0.0.1', '-p', String(port)],
    { ...env, BENCH_MODE: mode, NODE_ENV: 'production' },
    `http://127.0.0.1:${port}`,
  );
}

async function runOne(framework, major) {
  const bin = nodeBinary(major);
  const nest = framework === 'nest';
  const next = framework === 'next';
  const appScript = appScriptOf(framework);
  let modes = nest
    ? ['bare', 'noop', 'floor', 'drip']
    : next
      ? ['bare', 'floor', 'drip']
      : ['bare', 'noop', 'floor', 'floor-deliver', 'drip', 'posthog', 'otel'];
  // --rows: only these rows (and the bare app), e.g. the four the restated target is judged on: fewer
  // processes on the cores in the paired phase, and more rounds in the same time.
  const wanted = String(flags.rows || '')
    .split(',')
    .filter(Boolean);
  if (wanted.length > 0) modes = modes.filter((m) => m === 'bare' || wanted.includes(m));
  if (next) ensureNextBuild({ log });
  if (flags.before && !nest && !next) modes.push('drip-before');
  for (const m of String(flags.extra || '')
    .split(',')
    .filter(Boolean))
    modes.push(m);
  const loadBefore = loadavg();
  const sink = await start(process.execPath, [join(benchDir, 'lib', 'sink.mjs')]);
  const sinkUrl = sink.info.url;
  const apps = {};
  try {
    for (const mode of modes) {
      const key = `${framework}-${mode}`;
      const started = await startApp(bin, framework, mode, {
        BENCH_SINK: `${sinkUrl}/${key}`,
        ...(flags.before ? { BENCH_BEFORE: String(flags.before) } : {}),
      });
      apps[mode] = { ...started, url: started.info.url, key, mode };
    }
    const version =
      (await new Promise((resolve) => {
        const c = spawn(bin, ['--version']);
        let out = '';
        c.stdout.on('data', (d) => {
          out += d;
        });
        c.once('exit', () => resolve(out.trim()));
      })) || `v${major}`;
    log(`${framework} on Node ${version}: warm-up`);
    for (const mode of modes) {
      await autocannon(`${apps[mode].url}/items/42`, {
        connections: flags.connections,
        duration: flags.warmup,
      });
    }
    const results = Object.fromEntries(modes.map((m) => [m, []]));
    for (let round = 0; round < flags.rounds; round++) {
      const order = round % 2 === 0 ? modes : [...modes].reverse();
      for (const mode of order) {
        const r = await measure(apps[mode], sinkUrl);
        results[mode].push(r);
        log(
          `${framework} ${version} round ${round + 1} ${mode}: ${r.rps.toFixed(0)} req/s, ${r.cpuUs.toFixed(1)} µs/req, ` +
            `delivered ${r.check.text}${r.check.ok ? '' : ' MISMATCH'}`,
        );
      }
    }
    // Paired, fixed rate: every app at once, each under its own autocannon at the same rate (well below
    // saturation), so the machine's noise hits every row at the same moments; the extra CPU per request is a
    // row's minus the bare app's in the same round.
    const paired = Object.fromEntries(modes.map((m) => [m, []]));
    for (let round = 0; round < (flags.rate > 0 ? flags.rounds : 0); round++) {
      const rs = await Promise.all(modes.map((m) => measure(apps[m], sinkUrl, flags.rate)));
      for (const [i, m] of modes.entries()) paired[m].push(rs[i]);
      log(
        `${framework} ${version} paired round ${round + 1} at ${flags.rate} req/s each: ` +
          modes.map((m, i) => `${m} ${rs[i].cpuUs.toFixed(1)} µs/req`).join(', '),
      );
    }
    const memory = nest || next ? undefined : await queuedMemory(bin, appScript, framework, sinkUrl);
    return { framework, version, modes, results, paired, memory, loadBefore, loadAfter: loadavg() };
  } finally {
    await Promise.all(Object.values(apps).map((a) => stopChild(a.child)));
    await stopChild(sink.child);
  }
}

function summarise(run) {
  const { modes, results, paired } = run;
  // The row the others are divided by: Nest's no-op interceptor; else the delivering floor when it ran (the
  // in-memory floor's extra is within noise of zero, so a quotient by it says nothing), else the floor.
  const base =
    run.framework === 'nest' ? 'noop' : modes.includes('floor-deliver') ? 'floor-deliver' : 'floor';
  const havePaired = paired.bare.length > 0;
  const extraIn = (set, mode) => median(set[mode].map((r, i) => r.cpuUs - set.bare[i].cpuUs));
  // The extra CPU per request the targets are judged on: from the saturation rounds (one app at a time, the
  // rows interleaved). The paired fixed-rate phase runs every app and a load generator per app at once; with
  // six rows that is thirteen processes on two cores, and a bare app's round can move by 2x there, so its
  // figures are shown beside the others, not used for the targets.
  const extraOf = (mode) => extraIn(results, mode);
  const ratioOf = (mode) => median(results[mode].map((r, i) => r.rps / results.bare[i].rps));
  const baseExtra = extraOf(base);
  const rows = modes.map((mode) => {
    const rs = results[mode];
    const extra = mode === 'bare' ? 0 : extraOf(mode);
    const vsBase = mode === 'bare' || mode === base ? '' : `${(extra / baseExtra).toFixed(1)}×`;
    const all = [...rs, ...paired[mode]];
    const last = all[all.length - 1];
    const ok = all.every((r) => r.check.ok);
    const errors = all.reduce((a, r) => a + r.errors, 0);
    const sat = mode === 'bare' ? '' : extraIn(results, mode).toFixed(1);
    return (
      `| ${run.framework === 'nest' && mode === 'noop' ? 'no-op interceptor' : (ROW_LABELS[mode] ?? mode)} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${mode === 'bare' ? '1' : ratioOf(mode).toFixed(3)} | ` +
      `${median(rs.map((r) => r.cpuUs)).toFixed(1)} | ${sat} | ${havePaired ? `${median(paired[mode].map((r) => r.cpuUs)).toFixed(1)} | ${mode === 'bare' ? '' : extraIn(paired, mode).toFixed(1)} | ` : ''}${vsBase} | ` +
      `${last.check.text}${ok ? '' : ' **mismatch**'}${errors ? ` (${errors} errors)` : ''} | ${mode === 'bare' || mode === 'noop' ? '' : last.bytesPerRequest.toFixed(0)} |`
    );
  });
  const perRound = (set) =>
    modes.map((mode) => `${mode} ${set[mode].map((r) => r.cpuUs.toFixed(1)).join(' / ')}`).join('; ');
  const dripExtra = extraOf('drip');
  // The restated comparison in one phase: what @drip adds beyond a middleware that does nothing, against what
  // sending the same records raw adds. A delivering floor within noise of zero (or below it) gives no verdict.
  const restated = (set, phase) => {
    const own = extraIn(set, 'drip') - extraIn(set, 'noop');
    const floor = extraIn(set, 'floor-deliver');
    const head = `${phase} ${own.toFixed(1)} µs vs 2 × ${floor.toFixed(1)} µs`;
    if (floor <= 0) return `${head}: no verdict (the delivering floor came out at or below the bare app)`;
    return `${head} (${(own / floor).toFixed(1)}×): ${own <= 2 * floor ? 'met' : '**not met**'}`;
  };
  const ratio = ratioOf('drip');
  const target =
    run.framework === 'next'
      ? `reported against the bare route handler (no target): withDrip's extra ${dripExtra.toFixed(1)} µs, the floor's ${baseExtra.toFixed(1)} µs, throughput ratio ${ratio.toFixed(3)}`
      : run.framework === 'nest'
        ? `@drip interceptor's extra beyond the no-op interceptor ${(dripExtra - baseExtra).toFixed(1)} µs vs 2× the no-op's own ${(2 * baseExtra).toFixed(1)} µs: ${dripExtra - baseExtra <= 2 * baseExtra ? 'met' : '**not met**'}`
        : (modes.includes('floor')
            ? `extra ${dripExtra.toFixed(1)} µs vs 2× floor ${(2 * extraOf('floor')).toFixed(1)} µs: ${dripExtra <= 2 * extraOf('floor') ? 'met' : '**not met**'}`
            : `extra ${dripExtra.toFixed(1)} µs (no in-memory floor row)`) +
          (run.framework === 'express'
            ? `; throughput ratio ${ratio.toFixed(3)} vs 0.88: ${ratio >= 0.88 ? 'met' : '**not met**'}`
            : '') +
          (modes.includes('floor-deliver')
            ? `. Against the delivering floor (the same records sent raw: extra ${extraOf('floor-deliver').toFixed(1)} µs, ratio ${ratioOf('floor-deliver').toFixed(3)}): ${(dripExtra / extraOf('floor-deliver')).toFixed(1)}× its extra, ${dripExtra <= 2 * extraOf('floor-deliver') ? 'within' : '**beyond**'} 2×`
            : '') +
          (modes.includes('floor-deliver') && modes.includes('noop')
            ? `. Restated target (@drip's extra beyond a no-op middleware at most 2× the delivering floor's extra): ${restated(results, 'saturation')}${havePaired ? `; ${restated(paired, 'paired')}` : ''}`
            : '');
  const pairedHead = havePaired ? ` CPU µs/req at ${flags.rate} req/s | extra µs/req (paired) |` : '';
  const pairedSep = havePaired ? ' --- | --- |' : '';
  const memory = run.memory
    ? `Memory per queued record (heap after GC, ${run.memory.records} records queued, delivery never answering): ${run.memory.perRecord.toFixed(0)} bytes.\n`
    : '';
  return `### Node ${run.version}

Load average before ${run.loadBefore}, after ${run.loadAfter}. ${run.version.startsWith('v24') ? 'Target' : 'Node 24 target, applied here for comparison'}: ${target}.

| Row | req/s (saturation) | ratio | CPU µs/req (saturation) | extra µs/req (saturation) |${pairedHead} extra / ${base}'s extra | delivered / served | JSON bytes/req |
| --- | --- | --- | --- | --- |${pairedSep} --- | --- | --- |
${rows.join('\n')}

${memory}CPU µs/req per saturation round: ${perRound(results)}.${havePaired ? `\nCPU µs/req per paired round: ${perRound(paired)}.` : ''}
`;
}

const frameworks = String(flags.frameworks).split(',').filter(Boolean);
const nodes = String(flags.nodes).split(',').filter(Boolean);
let failed = false;
const REFERENCE_ROWS = new Set(['posthog', 'otel']);
for (const framework of frameworks) {
  const sections = [];
  for (const major of nodes) {
    const run = await runOne(framework, major);
    const text = summarise(run);
    console.log(text);
    sections.push(text);
    // A lost record fails the run for our rows only: the reference rows are reported as they behave
    // (posthog-node drops its oldest event past maxQueueSize, 10 000 by default, when the app produces
    // faster than it flushes, as at saturation).
    const ours = Object.entries(run.results).filter(([mode]) => !REFERENCE_ROWS.has(mode));
    if (ours.some(([, rs]) => rs.some((r) => !r.check.ok))) failed = true;
  }
  const title = {
    express: 'Express 5',
    hono: 'Hono 4 on @hono/node-server',
    nest: 'NestJS 11 (Express platform)',
    next: 'Next.js 16 route handler (`withDrip`) under `next start`',
  }[framework];
  const body = `## Overhead: ${title}, against a sink${flags.extra ? ' (feature shares)' : ''}${flags.rows ? ' (the rows of the restated target)' : ''}

Command: \`node bench/overhead.mjs --frameworks ${framework} --nodes ${nodes.join(',')} --rounds ${flags.rounds} --duration ${flags.duration}${flags.extra ? ` --extra ${flags.extra}` : ''}${flags.rows ? ` --rows ${flags.rows}` : ''}\`.
Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${process.platform}/${process.arch}, ${os.availableParallelism()} cores shared with other
work (see the load averages). Each app delivers over real HTTP to a minimal Drip-shaped sink process (\`bench/lib/sink.mjs\`);
autocannon (${flags.connections} connections, saturation) runs in its own process; ${flags.rounds} interleaved rounds of ${flags.duration} s per app; medians.
CPU per request is the app process's \`process.cpuUsage()\` from before the load until the app has flushed what it queued
(delivery included); "extra" is a row's CPU per request minus the bare app's in the same round; "ratio" is its
throughput over the bare app's in the same round. Delivered is checked against served after every measurement (sink
counters: usage items, runs and run events for Drip, captures for posthog-node, spans / 2 for OpenTelemetry). A
posthog-node "mismatch" at saturation is its own bound: past \`maxQueueSize\` (10 000 by default) it drops its oldest
event with a warning; the run fails only when a Drip row (or the floor) loses a record.

${sections.join('\n')}`;
  if (flags.write !== false && flags.write !== 'false')
    writeSection(
      `bench:overhead-${framework}${flags.extra ? '-features' : ''}${flags.rows ? '-rows' : ''}`,
      body,
    );
}
process.exit(failed ? 1 : 0);
