// The dashboard page: polls /dashboard/data every 2 s and draws with uPlot (loaded before this file).
// Plain browser JavaScript, no build step; everything comes from this origin (see the CSP in routes.ts).
/* global uPlot */

const POLL_MS = 2000;
const FINE_KEEP_S = 15 * 60;
const PALETTE = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

const $ = (id) => document.getElementById(id);

let range = 'fine';
let fine = null; // columns of the last 15 min, kept in the page and extended by each poll
let coarse = null;
let last = null; // the last full answer, for the JSON export
const charts = {};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (typeof v !== 'number') return String(v);
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

function duration(seconds) {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

// --- data ------------------------------------------------------------------------------------------

function appendColumns(into, add) {
  if (!into) return add;
  for (const [k, v] of Object.entries(add)) {
    if (k === 'predictions') continue;
    into[k] = into[k].concat(v);
  }
  const n = into.t.length - add.t.length;
  const keys = new Set([...Object.keys(into.predictions), ...Object.keys(add.predictions)]);
  for (const k of keys) {
    const old = into.predictions[k] || new Array(n).fill(0);
    into.predictions[k] = old.concat(add.predictions[k] || new Array(add.t.length).fill(0));
  }
  const cut = into.t.findIndex((t) => t > into.t[into.t.length - 1] - FINE_KEEP_S);
  if (cut > 0) {
    for (const k of Object.keys(into)) {
      if (k === 'predictions') for (const p of Object.keys(into.predictions)) into.predictions[p].splice(0, cut);
      else into[k].splice(0, cut);
    }
  }
  return into;
}

async function poll() {
  const since = fine && fine.t.length > 0 ? fine.t[fine.t.length - 1] : 0;
  const res = await fetch(`/dashboard/data?since=${since}`, { credentials: 'same-origin' });
  if (res.status === 401) {
    location.reload();
    return;
  }
  if (!res.ok) throw new Error(`GET /dashboard/data answered ${res.status}`);
  const data = await res.json();
  fine = since === 0 ? data.fine : appendColumns(fine, data.fine);
  if (data.coarse) coarse = data.coarse;
  last = data;
  render(data);
}

async function pollHealth() {
  try {
    const res = await fetch('/health');
    return { status: res.status, body: await res.json() };
  } catch {
    return null;
  }
}

// --- charts ----------------------------------------------------------------------------------------

function chartWidth(id) {
  return Math.max(240, $(id).clientWidth || 300);
}

function lineChart(id, cols, series, opts = {}) {
  const data = [cols.t, ...series.map((s) => s.values)];
  const key = series.map((s) => s.label).join('|');
  const existing = charts[id];
  if (existing && existing.key === key) {
    existing.plot.setData(data);
    return;
  }
  if (existing) existing.plot.destroy();
  const plot = new uPlot(
    {
      width: chartWidth(id),
      height: 180,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, ...(opts.scales || {}) },
      axes: opts.axes || [{}, { size: 50 }],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color || PALETTE[i % PALETTE.length],
          width: 1.5,
          scale: s.scale || 'y',
          spanGaps: false,
          value: (_u, v) => fmt(v, 2),
        })),
      ],
    },
    data,
    $(id),
  );
  charts[id] = { plot, key };
}

function barChart(id, hist, labelFor) {
  const n = hist.counts.length;
  const xs = Array.from({ length: n }, (_, i) => i);
  const data = [xs, hist.counts];
  const existing = charts[id];
  if (existing && existing.key === `bars${n}`) {
    existing.plot.setData(data);
    return;
  }
  if (existing) existing.plot.destroy();
  const bars = uPlot.paths.bars({ size: [0.8, 40] });
  const plot = new uPlot(
    {
      width: chartWidth(id),
      height: 180,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.5, n - 0.5] } },
      axes: [
        {
          values: (_u, ticks) => ticks.map((i) => labelFor(hist.bounds, i)),
          splits: () => xs,
          size: 40,
        },
        { size: 50 },
      ],
      series: [{}, { label: 'predictions', fill: '#93c5fd', stroke: '#2563eb', paths: bars, points: { show: false } }],
    },
    data,
    $(id),
  );
  charts[id] = { plot, key: `bars${n}` };
}

const EMPTY = { t: [], predictions: {} };

function renderCharts(columns, probability) {
  const cols = new Proxy(columns || EMPTY, { get: (o, k) => o[k] ?? [] });
  lineChart('c-rps', cols, [
    { label: '2xx', values: cols.rps_2xx, color: '#16a34a' },
    { label: '3xx', values: cols.rps_3xx, color: '#0891b2' },
    { label: '4xx', values: cols.rps_4xx, color: '#ca8a04' },
    { label: '5xx', values: cols.rps_5xx, color: '#dc2626' },
  ]);
  lineChart('c-err', cols, [{ label: '5xx share', values: cols.error_ratio, color: '#dc2626' }]);
  lineChart('c-lat', cols, [
    { label: 'p50', values: cols.p50_ms },
    { label: 'p95', values: cols.p95_ms },
    { label: 'p99', values: cols.p99_ms },
  ]);
  lineChart('c-sat', cols, [
    { label: 'active requests', values: cols.active },
    { label: 'event-loop delay p99 (ms)', values: cols.eld_p99_ms },
  ]);
  lineChart(
    'c-res',
    cols,
    [
      { label: 'CPU %', values: cols.cpu_pct },
      { label: 'RSS MB', values: cols.rss_mb, scale: 'mb' },
    ],
    {
      scales: { mb: {} },
      axes: [{}, { size: 50 }, { scale: 'mb', side: 1, size: 50, grid: { show: false } }],
    },
  );
  const predKeys = Object.keys(cols.predictions);
  lineChart(
    'c-pred',
    cols,
    predKeys.length > 0
      ? predKeys.map((k) => ({ label: k, values: cols.predictions[k] }))
      : [{ label: 'no predictions yet', values: cols.t.map(() => 0) }],
  );
  lineChart('c-inf', cols, [
    { label: 'p50', values: cols.infer_p50_ms },
    { label: 'p95', values: cols.infer_p95_ms },
  ]);
  lineChart('c-chars', cols, [{ label: 'p50 characters', values: cols.chars_p50 }]);
  // Every other bucket is labelled: fourteen labels do not fit a phone's width.
  barChart('c-proba', probability, (bounds, i) =>
    i % 2 === 1 ? '' : i < bounds.length ? String(bounds[i]).replace(/^0\./, '.') : '>',
  );
}

// --- panels in words -------------------------------------------------------------------------------

function healthWords(health, state) {
  if (!health) return 'The service did not answer /health.';
  const b = health.body || {};
  const parts = [];
  if (b.status === 'ok') parts.push('Healthy: the model is loaded and serving.');
  else if (b.status === 'degraded') parts.push(`Serving, but degraded: ${b.reason || 'see the store below'}.`);
  else parts.push(`Not serving (${b.status}): ${b.reason || 'no reason given'}.`);
  if (state.store.status === 'off') parts.push('No prediction store (STORE_URL=off): no feedback or online quality.');
  else if (state.store.status === 'ok') parts.push(`The ${state.store.backend} store is writing.`);
  return parts.join(' ');
}

function renderState(data, health) {
  const s = data.state;
  $('model-title').textContent = s.model ? `— ${s.model.name} v${s.model.version}` : '';
  $('health-words').textContent = healthWords(health, s);
  const rows = [
    ['Model', s.model ? `${s.model.name} version ${s.model.version}` : 'not loaded'],
    ['Alias', s.model?.alias ?? '—'],
    ['Labels', s.model ? s.model.labels.join(', ') : '—'],
    ['Loaded at', s.model ? new Date(s.model.loaded_at).toLocaleString() : '—'],
    ['Phase', s.reason ? `${s.phase} (${s.reason})` : s.phase],
    [
      'Store',
      s.store.status === 'off'
        ? 'off'
        : `${s.store.status}, ${s.store.backend}${s.store.queue_depth !== undefined ? `, ${s.store.queue_depth} queued` : ''}`,
    ],
    ['Uptime', duration(s.uptime_s)],
    ['Watchdog', s.watchdog_limit_ms ? `restarts after ${s.watchdog_limit_ms / 1000} s of blocked event loop` : 'off'],
    ['Service', `${s.service.name} ${s.service.version} on Node ${s.service.node}`],
  ];
  const dl = $('state-list');
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function table(head, rows) {
  return el(
    'table',
    {},
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
    el(
      'tbody',
      {},
      ...rows.map((r) => el('tr', {}, ...r.map((c) => (c instanceof Node ? el('td', {}, c) : el('td', {}, c))))),
    ),
  );
}

function badge(verdict) {
  return el('span', { class: `badge ${verdict || 'none'}` }, verdict || 'not enough data');
}

function renderDrift(drift) {
  const box = $('drift');
  if (!drift) {
    box.replaceChildren(el('p', {}, 'No model loaded yet.'));
    return;
  }
  const rows = Object.entries(drift.features || {}).map(([name, f]) => [name, fmt(f.psi), badge(f.verdict)]);
  const note =
    drift.status === 'insufficient_data'
      ? `Not enough predictions yet (${drift.window?.predictions ?? 0} of ${drift.window?.min_count ?? '?'} needed).`
      : `Over the last ${drift.window?.predictions ?? '?'} predictions of version ${drift.model_version}.`;
  box.replaceChildren(el('p', {}, note), table(['Feature', 'PSI', 'Verdict'], rows));
}

function renderQuality(quality, storeStatus) {
  const box = $('quality');
  if (!quality) {
    box.replaceChildren(
      el(
        'p',
        {},
        storeStatus === 'off'
          ? 'Online quality needs a store (STORE_URL) and feedback labels (POST /feedback).'
          : 'No figures yet: they appear once predictions receive feedback labels.',
      ),
    );
    return;
  }
  const rows = [];
  for (const m of quality.models || []) {
    const w = m.windows.time || m.windows.count;
    if (!w) continue;
    for (const [label, f] of Object.entries(w.labels || {})) {
      rows.push([
        `v${m.model_version}`,
        label,
        fmt(f.precision),
        fmt(f.recall),
        fmt(f.f1),
        `${f.support} / ${w.labelled}`,
      ]);
    }
  }
  box.replaceChildren(
    el(
      'p',
      {},
      `Labelled predictions in the last ${quality.windows.time.minutes} minutes; computed ${new Date(quality.computed_at).toLocaleTimeString()}.`,
    ),
    rows.length > 0
      ? table(['Version', 'Label', 'Precision', 'Recall', 'F1', 'Support / labelled'], rows)
      : el('p', {}, 'No labelled predictions in the window.'),
  );
}

function pct(v) {
  return v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`;
}

function renderRollout(report) {
  const panel = $('rollout-panel');
  if (!report) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const r = report.rollout;
  const v = report.verdict;
  const rows = [
    ['Mode', `${r.mode} (challenger alias ${r.challenger_alias ?? '—'})`],
    ['Challenger traffic', `${pct(r.challenger_weight)} of users (configured ${pct(r.configured_weight)})`],
    ['Guard', r.guard.tripped ? `rolled back: ${r.guard.tripped.reason ?? 'limit broken'}` : 'within limits'],
  ];
  if (r.agreement) {
    const share = r.agreement.compared > 0 ? r.agreement.agreed / r.agreement.compared : null;
    rows.push([
      'Shadow agreement',
      `${pct(share)} of ${r.agreement.compared} compared (mean score difference ${fmt(r.agreement.mean_score_diff)})`,
    ]);
  }
  for (const t of [r.versions.champion, r.versions.challenger]) {
    if (t) rows.push([`v${t.version} (${t.role})`, `${t.calls} calls, ${t.errors} errors, p95 ${fmt(t.p95_ms, 2)} ms`]);
  }
  $('rollout').replaceChildren(
    el('p', { class: 'words' }, `Verdict: ${v.decision}${v.reasons?.length ? ` — ${v.reasons.join('; ')}` : ''}`),
    table(['Figure', 'Value'], rows),
  );
}

let healthCache = null;
let healthAt = 0;

async function render(data) {
  if (Date.now() - healthAt > 5000) {
    healthCache = await pollHealth();
    healthAt = Date.now();
  }
  renderState(data, healthCache);
  renderDrift(data.drift);
  renderQuality(data.quality, data.state.store.status);
  renderRollout(data.rollout);
  renderCharts(range === 'fine' ? fine : coarse, data.probability);
  document.body.dataset.updated = String(data.now);
}

// --- try it, exports, controls ---------------------------------------------------------------------

async function tryIt(event) {
  event.preventDefault();
  const out = $('try-result');
  const text = $('try-text').value;
  const headers = { 'content-type': 'application/json' };
  const key = $('try-key').value;
  if (key) headers['x-api-key'] = key;
  out.textContent = '…';
  try {
    const res = await fetch('/predict', { method: 'POST', headers, body: JSON.stringify({ text }) });
    const body = await res.json();
    if (res.status === 401) $('try-key-row').hidden = false;
    if (!res.ok) {
      out.textContent = `${res.status} ${body.error}: ${body.detail}`;
      return;
    }
    const probs = Object.entries(body.probabilities)
      .map(([label, p]) => `${label} ${(p * 100).toFixed(1)} %`)
      .join(', ');
    out.replaceChildren(el('strong', { class: 'label' }, body.label), ` (${probs}; model v${body.model.version})`);
  } catch (err) {
    out.textContent = `request failed: ${err.message}`;
  }
}

function download(name, href) {
  const a = el('a', { href, download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

function exportJson() {
  const payload = { exported_at: new Date().toISOString(), range, fine, coarse, latest: last };
  const url = URL.createObjectURL(new Blob([JSON.stringify(payload, null, 2)], { type: 'application/json' }));
  download(`msg-cls-dashboard-${Date.now()}.json`, url);
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

function exportPng(id) {
  const chart = charts[id];
  if (!chart) return;
  const src = chart.plot.ctx.canvas;
  const canvas = document.createElement('canvas');
  canvas.width = src.width;
  canvas.height = src.height;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(src, 0, 0);
  download(`msg-cls-${id.slice(2)}-${Date.now()}.png`, canvas.toDataURL('image/png'));
}

function resize() {
  for (const [id, c] of Object.entries(charts)) {
    if (c.plot) c.plot.setSize({ width: chartWidth(id), height: 180 });
  }
}

function start() {
  $('try-form').addEventListener('submit', tryIt);
  $('export-json').addEventListener('click', exportJson);
  for (const b of document.querySelectorAll('button.png'))
    b.addEventListener('click', () => exportPng(b.dataset.chart));
  $('range').addEventListener('change', (e) => {
    range = e.target.value;
    for (const c of Object.values(charts)) c.plot?.destroy();
    for (const k of Object.keys(charts)) delete charts[k];
    if (last) render(last);
  });
  let resizeTimer;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(resize, 150);
  });
  const loop = async () => {
    try {
      await poll();
    } catch (err) {
      $('health-words').textContent = `Cannot reach the service: ${err.message}. Retrying…`;
    }
    setTimeout(loop, POLL_MS);
  };
  loop();
}

start();
