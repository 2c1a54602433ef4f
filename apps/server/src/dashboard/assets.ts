import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The page's stylesheet: plain CSS, system fonts, readable in light and dark schemes.
 *
 * @example
 * ```ts
 * c.body(DASHBOARD_CSS); // served as /dashboard/assets/dashboard.css
 * ```
 */
export const DASHBOARD_CSS = `
:root { color-scheme: light dark; --bg: #f6f7f9; --fg: #17202a; --muted: #5d6b7a; --card: #fff; --line: #dfe3e8;
  --accent: #2563eb; --ok: #15803d; --bad: #b91c1c; --warn: #b45309; --chip: #eef2ff; }
@media (prefers-color-scheme: dark) { :root { --bg: #0f1419; --fg: #e6e9ee; --muted: #97a3b1; --card: #171e26;
  --line: #2a3440; --accent: #60a5fa; --ok: #4ade80; --bad: #f87171; --warn: #fbbf24; --chip: #1e293b; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
header.top { display: flex; align-items: center; gap: 14px; padding: 12px 24px; background: var(--card);
  border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; font-size: 17px; color: var(--fg); } .brand span { color: var(--accent); font-weight: 500; }
.project { font-weight: 600; }
.mode { text-transform: uppercase; font-size: 11px; letter-spacing: .05em; padding: 2px 8px; border-radius: 10px;
  background: #fef3c7; color: #92400e; } .mode-live { background: #dcfce7; color: #166534; }
.logout { margin-left: auto; }
button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--line); background: var(--card);
  color: var(--fg); cursor: pointer; } button:hover { border-color: var(--accent); }
main { max-width: 1280px; margin: 0 auto; padding: 20px 24px; }
footer { text-align: center; color: var(--muted); font-size: 12px; padding: 8px 0 24px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; margin: 0 0 18px; }
h1 { font-size: 20px; margin: 0 0 12px; } h2 { font-size: 16px; margin: 0 0 12px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 14px; margin-bottom: 18px; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.kpi-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.kpi-value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.kpi-sub { font-size: 12px; color: var(--muted); display: flex; flex-wrap: wrap; gap: 6px; margin-top: 4px; }
table.data { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.data th { text-align: left; font-size: 12px; color: var(--muted); font-weight: 600; border-bottom: 1px solid var(--line);
  padding: 6px 8px; white-space: nowrap; }
table.data td { padding: 7px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.data tr:last-child td { border-bottom: none; }
.num { text-align: right; }
.muted { color: var(--muted); } .small { font-size: 12px; }
.empty { color: var(--muted); font-style: italic; }
.badge { display: inline-block; font-size: 11px; font-weight: 600; padding: 1px 7px; border-radius: 9px;
  background: var(--chip); color: var(--fg); letter-spacing: .02em; }
.status-completed, .status-confirmed, .status-delivered, .status-success, .status-succeeded, .status-active {
  background: #dcfce7; color: #166534; }
.status-failed, .status-timeout, .status-cancelled, .status-paused { background: #fee2e2; color: #991b1b; }
.status-pending, .status-running, .status-retrying, .status-low_balance { background: #fef3c7; color: #92400e; }
.error { color: var(--bad); }
.chart-controls { display: flex; align-items: center; gap: 8px; margin-bottom: 8px; }
.chart-controls select { font: inherit; padding: 4px 8px; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: var(--fg); }
.hint { color: var(--muted); font-size: 12px; }
.chart-box { position: relative; height: 280px; }
.login { max-width: 520px; margin: 40px auto; }
.login form { display: flex; flex-direction: column; gap: 8px; }
.login input { font: inherit; padding: 8px 10px; border-radius: 6px; border: 1px solid var(--line); background: var(--bg); color: var(--fg); }
dl.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 10px 24px; margin: 0 0 8px; }
dl.facts dt { color: var(--muted); font-size: 12px; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
td code { overflow-wrap: anywhere; }
ol.timeline { list-style: none; margin: 0; padding: 0; border-left: 2px solid var(--line); }
li.event { display: flex; gap: 16px; padding: 10px 0 10px 16px; position: relative; border-bottom: 1px dashed var(--line); }
li.event::before { content: ""; position: absolute; left: -7px; top: 15px; width: 12px; height: 12px; border-radius: 50%;
  background: var(--accent); }
.event-time { width: 80px; flex: none; color: var(--muted); font-variant-numeric: tabular-nums; }
.event-body { flex: 1; display: flex; flex-direction: column; gap: 4px; }
.event-type { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { background: var(--chip); border-radius: 6px; padding: 2px 8px; font-size: 12.5px; font-variant-numeric: tabular-nums; }
.chip-key { color: var(--muted); }
pre { background: var(--bg); padding: 8px; border-radius: 6px; overflow: auto; max-height: 280px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
.periods { margin: 0 0 8px; color: var(--muted); } .periods strong { color: var(--fg); }
table.tokens tr.group td { border-top: 1px solid var(--line); } table.tokens tr.sub td { color: var(--muted); padding-top: 3px; padding-bottom: 3px; }
table.tokens code { overflow-wrap: anywhere; }
.call { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
`;

/**
 * The page's script: draws the usage chart from the JSON block `#usage-data` with Chart.js (global
 * `Chart`), one line per customer for the meter picked in `#meter`. Plain ES2017, no bundler.
 *
 * @example
 * ```ts
 * c.body(DASHBOARD_JS); // served as /dashboard/assets/dashboard.js
 * ```
 */
export const DASHBOARD_JS = `(function () {
  'use strict';
  var dataEl = document.getElementById('usage-data');
  var canvas = document.getElementById('usage-chart');
  var select = document.getElementById('meter');
  if (!dataEl || !canvas || !select || typeof Chart === 'undefined') return;
  var data = JSON.parse(dataEl.textContent || '{}');
  var palette = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
  var step = data.bucketSeconds * 1000;
  var chart = null;
  function label(ms) {
    var d = new Date(ms);
    var iso = d.toISOString();
    return data.bucketSeconds >= 86400 ? iso.slice(0, 10) : iso.slice(11, data.bucketSeconds >= 60 ? 16 : 19);
  }
  function draw(meter) {
    var points = data.points.filter(function (p) { return p.usageType === meter; });
    var all = data.points.map(function (p) { return p.bucketMs; });
    var min = Math.min.apply(null, all), max = Math.max.apply(null, all);
    var buckets = [];
    for (var t = min; t <= max && buckets.length < 1000; t += step) buckets.push(t);
    var byCustomer = {};
    points.forEach(function (p) {
      var series = byCustomer[p.customerId] || (byCustomer[p.customerId] = {});
      series[p.bucketMs] = (series[p.bucketMs] || 0) + p.quantity;
    });
    var datasets = Object.keys(byCustomer).sort(function (a, b) {
      return String(data.customers[a] || a).localeCompare(String(data.customers[b] || b));
    }).map(function (id, i) {
      var color = palette[i % palette.length];
      return { label: data.customers[id] || id, borderColor: color, backgroundColor: color + 'cc', borderWidth: 1, maxBarThickness: 48,
        data: buckets.map(function (b) { return byCustomer[id][b] || 0; }) };
    });
    // Stacked bars: each bucket holds what reached the server in it, so the stack height is the total.
    var config = { type: 'bar', data: { labels: buckets.map(label), datasets: datasets },
      options: { animation: false, maintainAspectRatio: false, interaction: { mode: 'index', intersect: false },
        plugins: { legend: { position: 'bottom' }, title: { display: true, text: meter + ' per ' + data.bucketSeconds + ' s' } },
        scales: { y: { stacked: true, beginAtZero: true, title: { display: true, text: meter } },
          x: { stacked: true, title: { display: true, text: 'time (UTC)' } } } } };
    if (chart) chart.destroy();
    chart = new Chart(canvas, config);
  }
  select.addEventListener('change', function () { draw(select.value); });
  draw(select.value);
})();
`;

let chartJs: Promise<string> | undefined;

/**
 * Chart.js's UMD build, read once from `node_modules`. Chart.js's `exports` map has no `./dist/*`
 * entry, so the file is found next to the resolved main entry (which lives in `dist/`).
 *
 * @example
 * ```ts
 * c.body(await loadChartJs()); // served as /dashboard/vendor/chart.umd.min.js
 * ```
 */
export function loadChartJs(): Promise<string> {
  if (!chartJs) {
    const require = createRequire(import.meta.url);
    const file = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
    chartJs = readFile(file, 'utf8');
    // A failed read is retried on the next request rather than cached forever.
    chartJs.catch(() => {
      chartJs = undefined;
    });
  }
  return chartJs;
}
