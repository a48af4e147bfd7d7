// The observability stack proven against the real thing: the real service (msg-cls serve) on an
// ephemeral loopback port, and a real `prometheus` binary on another, scraping it every second with
// the job definition from deploy/observability/prometheus/prometheus.yml and the committed rule files.
//
// Traffic with known counts goes through the service: predictions (single and batch), feedback labels
// (stored in a SQLite file, so the online-quality, drift and prediction-log panels have data), client
// errors (malformed JSON, missing text, too long text, unknown paths) and — without any test-only switch in
// the service — real 5xx answers: after SIGTERM the service drains with SHUTDOWN_DELAY_MS, and its
// readiness probes answer 503 while /metrics keeps being scraped (exactly what a rolling deploy looks
// like). Then every PromQL expression of both dashboards and of every recording and alerting rule is
// run through Prometheus' HTTP API: each must be valid, and every dashboard panel must return data.
//
// Run with `npm run test:observability` (needs `prometheus` on PATH or PROMETHEUS=/path/to/it).

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Child, DEFAULT_REGISTRY, freePort, postJson, spawnServer } from '../helpers/server.ts';
import {
  dashboardFiles,
  JOB,
  loadDashboard,
  PROMETHEUS_CONFIG,
  parseLabelValues,
  prometheusQueries,
  RULES_DIR,
  readYaml,
  requireBinary,
  ruleFiles,
  substituteVariables,
  variableQuery,
} from './helpers.ts';

const PROMETHEUS_UID = 'msgcls-prometheus';
// How long to wait for something Prometheus should see soon. Only a guard against hanging forever
// when something is broken: nothing here asserts on durations.
const PATIENCE_MS = 60_000;

type Sample = { metric: Record<string, string>; value: [number, string] };
type QueryResponse = {
  status: 'success' | 'error';
  data?: { resultType: string; result: Sample[] | [number, string] };
  errorType?: string;
  error?: string;
};
type RuleState = {
  name: string;
  query: string;
  health: string;
  lastError?: string;
  type: 'recording' | 'alerting';
  state?: string;
};
type RuleGroupState = { name: string; file: string; rules: RuleState[]; lastEvaluation: string };

let service: (Child & { url: string }) | undefined;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let promUrl = '';
let instance = '';
let work = '';

async function promGet<T>(path: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${promUrl}${path}`);
  } catch (err) {
    throw new Error(
      `could not reach Prometheus at ${promUrl}${path}: ${(err as Error).cause ?? err}\nprometheus log:\n${prometheusLog.slice(-3000)}`,
    );
  }
  return (await res.json()) as T;
}

async function query(expr: string): Promise<QueryResponse> {
  return promGet<QueryResponse>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
}

/** The samples of an instant query that must succeed. */
async function samples(expr: string): Promise<Sample[]> {
  const r = await query(expr);
  assert.equal(r.status, 'success', `Prometheus rejected ${expr}: ${r.errorType}: ${r.error}`);
  return r.data?.resultType === 'vector' ? (r.data.result as Sample[]) : [];
}

async function scalar(expr: string): Promise<number | undefined> {
  const s = await samples(expr);
  return s.length === 1 ? Number(s[0].value[1]) : undefined;
}

/** Polls `check` until it returns true; fails with `what` and the last observation otherwise. */
async function waitFor(what: string, check: () => Promise<{ ok: boolean; seen: unknown }>): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  let seen: unknown;
  for (;;) {
    const r = await check();
    if (r.ok) return;
    seen = r.seen;
    if (Date.now() > deadline) {
      throw new Error(
        `gave up waiting for ${what}; last seen: ${JSON.stringify(seen)}\n` +
          `Check that the service exposes /metrics and that Prometheus scrapes it (${promUrl}/targets).\n` +
          `prometheus log:\n${prometheusLog.slice(-3000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const waitForValue = (what: string, expr: string, expected: number) =>
  waitFor(`${what} (${expr} == ${expected})`, async () => {
    const v = await scalar(expr);
    return { ok: v === expected, seen: v };
  });

// --- The traffic ----------------------------------------------------------------------------------

const TEXTS = [
  'WINNER!! As a valued customer you have been selected to receive a £900 prize reward. Call now to claim.',
  'Hi Anna, are we still on for lunch tomorrow at 12:30? I can book the usual place.',
  'URGENT: your account has been suspended. Verify your details at http://example.com/verify within 24 hours.',
  'Thanks for the notes from the meeting, I will send the revised budget by Friday.',
  'Cheap meds online!!! No prescription needed, discreet shipping, order today and save 80%.',
  'ok',
  'Réunion déplacée à jeudi — merci de confirmer. 会议改到星期四。',
  `Long newsletter: ${'This quarter the team shipped the new search, fixed the export bug and planned the migration. '.repeat(30)}`,
];
const SINGLE_PREDICTS = 10;
const BATCHES = [TEXTS.slice(0, 5), TEXTS.slice(3, 8)];
const PREDICTIONS_PER_ROUND = SINGLE_PREDICTS + BATCHES.reduce((n, b) => n + b.length, 0);
const READY_503 = 2;
const HEALTH_503 = 1;
// Traffic is sent in two rounds with a scrape in between: rate() and increase() see a counter grow
// only between two scrapes, and a series first scraped at its final value shows no growth at all.
const ROUNDS = 2;

/** What the service must have counted, as (method, route, status) → requests, after all rounds. */
const EXPECTED: { method: string; route: string; status: string; count: number }[] = [
  { method: 'POST', route: '/predict', status: '200', count: ROUNDS * (SINGLE_PREDICTS + BATCHES.length) },
  { method: 'POST', route: '/predict', status: '400', count: ROUNDS * 6 },
  { method: 'POST', route: '/predict', status: '413', count: ROUNDS * 1 },
  { method: 'GET', route: 'unmatched', status: '404', count: ROUNDS * 3 },
  { method: 'GET', route: 'unmatched', status: '405', count: ROUNDS * 1 },
  { method: 'POST', route: '/feedback', status: '200', count: ROUNDS * 2 },
  { method: 'POST', route: '/feedback', status: '404', count: ROUNDS * 1 },
  { method: 'GET', route: '/version', status: '200', count: ROUNDS * 2 },
  { method: 'GET', route: '/ready', status: '200', count: ROUNDS * 2 },
  { method: 'GET', route: '/health', status: '200', count: ROUNDS * 2 },
  { method: 'GET', route: '/ready', status: '503', count: ROUNDS * READY_503 },
  { method: 'GET', route: '/health', status: '503', count: ROUNDS * HEALTH_503 },
];

async function get(path: string, expected: number): Promise<void> {
  try {
    const res = await fetch(`${service?.url}${path}`);
    const body = await res.text();
    assert.equal(
      res.status,
      expected,
      `GET ${path} answered ${res.status} ${body}, not ${expected}\nservice log:\n${service?.stdout.slice(-10).join('\n')}`,
    );
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    throw new Error(
      `GET ${path} on the service failed: ${(err as Error).cause ?? err}\nservice stderr:\n${service?.stderr.join('')}`,
    );
  }
}

/** One round of ordinary traffic: predictions and client errors. */
async function driveTraffic(url: string): Promise<void> {
  const singles: { request_id: string; label: string }[] = [];
  for (let i = 0; i < SINGLE_PREDICTS; i++) {
    const r = await postJson(`${url}/predict`, { text: TEXTS[i % TEXTS.length] });
    assert.equal(r.status, 200, r.text);
    singles.push({ request_id: r.json.request_id, label: r.json.label });
  }
  let batchId = '';
  for (const texts of BATCHES) {
    const r = await postJson(`${url}/predict`, { texts });
    assert.equal(r.status, 200, r.text);
    batchId = r.json.request_id;
  }
  // Feedback: one label (against the model), a batch of labels (agreeing with it), one unknown id.
  const flip = (label: string) => (label === 'spam' ? 'ham' : 'spam');
  let f = await postJson(`${url}/feedback`, { request_id: singles[0].request_id, label: flip(singles[0].label) });
  assert.equal(f.status, 200, f.text);
  f = await postJson(`${url}/feedback`, {
    items: [
      ...singles.slice(1, 6).map((s) => ({ request_id: s.request_id, label: s.label })),
      { request_id: batchId, index: 4, label: 'ham' },
    ],
  });
  assert.equal(f.status, 200, f.text);
  f = await postJson(`${url}/feedback`, { request_id: 'never-predicted', label: 'ham' });
  assert.equal(f.status, 404, f.text);
  // Client errors: 400 (malformed JSON ×3, no text ×2, empty text), 413 (too long), 404 and 405.
  const bad: [unknown, number][] = [
    ['{"text": "unterminated', 400],
    ['{not json', 400],
    ['[1, 2', 400],
    [{}, 400],
    [{ texts: null, other: 1 }, 400],
    [{ text: '' }, 400],
    [{ text: 'x'.repeat(20_001) }, 413],
  ];
  for (const [body, status] of bad) {
    const r = await postJson(`${url}/predict`, body);
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 40)} → ${r.status} ${r.text}`);
  }
  for (const path of ['/nope', '/admin/../etc', '/wp-login.php']) await get(path, 404);
  await get('/predict', 405);
  for (const path of ['/version', '/version', '/ready', '/ready', '/health', '/health']) await get(path, 200);
}

// --- Setup ----------------------------------------------------------------------------------------

before(
  async () => {
    const promBin = requireBinary('prometheus', 'PROMETHEUS');
    work = mkdtempSync(join(tmpdir(), 'msgcls-prometheus-'));

    // A registry whose challenger (a copy of the default model) scores every text in shadow mode,
    // so that the dashboard's Rollout row has data; shadow predictions carry role="shadow".
    const registry = join(work, 'models');
    for (const v of ['1', '2']) {
      cpSync(join(DEFAULT_REGISTRY, 'msg_cls', 'versions', '1'), join(registry, 'msg_cls', 'versions', v), {
        recursive: true,
      });
    }
    writeFileSync(join(registry, 'msg_cls', 'aliases.json'), JSON.stringify({ challenger: '2', champion: '1' }));

    // The service drains for a minute after SIGTERM: /ready answers 503, /metrics keeps working.
    service = await spawnServer({
      MODEL_REGISTRY: registry,
      ROLLOUT_MODE: 'shadow',
      CHALLENGER_ALIAS: 'challenger',
      SHUTDOWN_DELAY_MS: '60000',
      SHUTDOWN_TIMEOUT_MS: '120000',
      ML_PAYLOAD_SAMPLE_RATE: '0',
      STORE_URL: `sqlite:${join(work, 'store.db')}`,
      QUALITY_REFRESH_S: '1',
      DRIFT_MIN_COUNT: '10',
    });
    instance = new URL(service.url).host;

    // Prometheus with the shipped job definition, pointed at the test service, scraping every second.
    const shipped = await readYaml(PROMETHEUS_CONFIG);
    const job = (shipped.scrape_configs as { job_name: string; [k: string]: unknown }[]).find(
      (j) => j.job_name === JOB,
    );
    assert.ok(job, `prometheus.yml has no job ${JOB}`);
    const { scrape_interval: _i, scrape_timeout: _t, ...jobRest } = job;
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [join(RULES_DIR, '*.rules.yml')],
      scrape_configs: [{ ...jobRest, static_configs: [{ targets: [instance] }] }],
    };
    const configFile = join(work, 'prometheus.yml');
    writeFileSync(configFile, JSON.stringify(config, null, 2)); // JSON is YAML
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      promBin,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(work, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout?.on('data', (d: Buffer) => {
      prometheusLog += d.toString('utf8');
    });
    prometheus.stderr?.on('data', (d: Buffer) => {
      prometheusLog += d.toString('utf8');
    });
    const exited = new Promise<never>((_, reject) =>
      prometheus?.on('exit', (code) =>
        reject(new Error(`prometheus exited (code ${code}) during set-up:\n${prometheusLog}`)),
      ),
    );
    await Promise.race([
      exited,
      waitFor('Prometheus to be ready', async () => {
        try {
          const res = await fetch(`${promUrl}/-/ready`);
          return { ok: res.status === 200, seen: res.status };
        } catch (err) {
          return { ok: false, seen: String(err) };
        }
      }),
    ]);
    exited.catch(() => undefined);

    for (let round = 1; round <= ROUNDS; round++) {
      await driveTraffic(service.url);
      await waitForValue(
        `round ${round} of predictions to be scraped`,
        `sum(msgcls_predictions_total{job="${JOB}",role!="shadow"})`,
        round * PREDICTIONS_PER_ROUND,
      );
      await waitForValue(
        `round ${round} of feedback labels to be scraped`,
        `sum(msgcls_feedback_labels_total{job="${JOB}",result="recorded"})`,
        round * 7,
      );
      await waitForValue(
        `round ${round} of labels in the online figures`,
        `max(msgcls_online_labelled_predictions{job="${JOB}",window="time"})`,
        round * 7,
      );
      await waitForValue(
        `round ${round} of client errors to be scraped`,
        `sum(http_server_request_duration_seconds_count{job="${JOB}",http_route="/predict",http_response_status_code="400"})`,
        round * 6,
      );
    }

    // Real 5xx: a draining instance answers its readiness probes with 503.
    service.proc.kill('SIGTERM');
    await service.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('shutting down'));
    for (let round = 1; round <= ROUNDS; round++) {
      for (let i = 0; i < READY_503; i++) await get('/ready', 503);
      for (let i = 0; i < HEALTH_503; i++) await get('/health', 503);
      await waitForValue(
        `round ${round} of 503s to be scraped`,
        `sum(http_server_request_duration_seconds_count{job="${JOB}",http_response_status_code="503"})`,
        round * (READY_503 + HEALTH_503),
      );
    }

    // Every rule group evaluated at least once on all of that data.
    const seenAt = Date.now();
    await waitFor('every rule group to be evaluated after the traffic', async () => {
      const r = await promGet<{ data: { groups: RuleGroupState[] } }>('/api/v1/rules');
      const stale = r.data.groups.filter((g) => Date.parse(g.lastEvaluation) <= seenAt).map((g) => g.name);
      return { ok: r.data.groups.length > 0 && stale.length === 0, seen: stale };
    });
  },
  { timeout: 5 * PATIENCE_MS },
);

after(async () => {
  const stops: Promise<unknown>[] = [];
  if (service && service.proc.exitCode === null) {
    service.proc.kill('SIGKILL');
    stops.push(service.exited);
  }
  if (prometheus && prometheus.exitCode === null) {
    const p = prometheus;
    stops.push(new Promise((resolve) => p.on('exit', resolve)));
    p.kill('SIGTERM');
  }
  await Promise.all(stops);
  if (work) rmSync(work, { recursive: true, force: true });
});

// --- Checks ---------------------------------------------------------------------------------------

/** Values for Grafana's variables, as Grafana would fill them for this service. */
const variables = () => ({
  job: JOB,
  instance,
  __rate_interval: '1m',
  __interval: '5s',
  __range: '5m',
});

describe('Prometheus scraping the real service', () => {
  test('counts every request by method, route template and status code', async () => {
    const got = await samples(
      `sum by (http_request_method, http_route, http_response_status_code) (http_server_request_duration_seconds_count{job="${JOB}",http_route!="/metrics"})`,
    );
    const actual = Object.fromEntries(
      got.map((s) => [
        `${s.metric.http_request_method} ${s.metric.http_route} ${s.metric.http_response_status_code}`,
        Number(s.value[1]),
      ]),
    );
    const expected = Object.fromEntries(EXPECTED.map((e) => [`${e.method} ${e.route} ${e.status}`, e.count]));
    assert.deepEqual(actual, expected);
  });

  test('counts every prediction by model and label, and exposes the model info', async () => {
    assert.equal(
      await scalar(`sum(msgcls_predictions_total{job="${JOB}",role!="shadow"})`),
      ROUNDS * PREDICTIONS_PER_ROUND,
    );
    assert.equal(
      await scalar(`sum(msgcls_prediction_probability_count{job="${JOB}",role!="shadow"})`),
      ROUNDS * PREDICTIONS_PER_ROUND,
    );
    assert.equal(await scalar(`sum(msgcls_input_chars_count{job="${JOB}"})`), ROUNDS * PREDICTIONS_PER_ROUND);
    const labels = await samples(`sum by (label) (msgcls_predictions_total{job="${JOB}",role!="shadow"})`);
    assert.ok(labels.length >= 2, `expected both spam and ham predictions: ${JSON.stringify(labels)}`);
    const info = await samples(`msgcls_model_info{job="${JOB}",role="champion"}`);
    assert.equal(info.length, 1);
    const shadow = await samples(`msgcls_model_info{job="${JOB}",role="shadow"}`);
    assert.equal(shadow.length, 1, 'the challenger scoring in shadow mode has its own model_info series');
    assert.equal(shadow[0].metric.model_version, '2');
    for (const label of ['model_name', 'model_version', 'model_alias', 'loaded_at']) {
      assert.ok(info[0].metric[label], `msgcls_model_info lacks ${label}`);
    }
    // Both series exist from the start, so the first failure is seen by increase().
    assert.equal(await scalar(`sum(msgcls_model_load_total{job="${JOB}",result="failure"})`), 0);
    assert.equal(await scalar(`sum(msgcls_model_load_total{job="${JOB}",result="success"})`), 2, 'champion and shadow');
  });

  test('dashboard variables resolve to this service', async () => {
    for (const file of dashboardFiles()) {
      const d = loadDashboard(file);
      for (const v of d.templating?.list ?? []) {
        const lv = parseLabelValues(variableQuery(v));
        assert.ok(lv, `${d.uid} $${v.name}: not a label_values() query`);
        const selector = substituteVariables(lv.selector, variables());
        const r = await promGet<{ status: string; data: string[] }>(
          `/api/v1/label/${lv.label}/values?match[]=${encodeURIComponent(selector)}`,
        );
        assert.equal(r.status, 'success');
        const want = v.name === 'job' ? JOB : instance;
        assert.ok(r.data.includes(want), `${d.uid} $${v.name} offers ${JSON.stringify(r.data)}, not ${want}`);
      }
    }
  });

  test('every dashboard query is valid PromQL and its panel shows data', async () => {
    const problems: string[] = [];
    let count = 0;
    for (const file of dashboardFiles()) {
      for (const q of prometheusQueries(loadDashboard(file), PROMETHEUS_UID)) {
        count++;
        const expr = substituteVariables(q.expr, variables());
        const where = `${q.dashboard} panel ${q.panelId} "${q.panel}" ${q.refId}`;
        if (expr.includes('$')) {
          problems.push(`${where}: unresolved variable in ${expr}`);
          continue;
        }
        const r = await query(expr);
        if (r.status !== 'success') {
          problems.push(`${where}: invalid: ${r.errorType}: ${r.error}\n    ${expr}`);
          continue;
        }
        const result = (r.data?.result ?? []) as Sample[];
        if (result.length === 0) problems.push(`${where}: no data\n    ${expr}`);
        else if (!result.some((s) => Number.isFinite(Number(s.value[1])))) {
          problems.push(`${where}: only NaN/Inf values\n    ${expr}`);
        }
      }
    }
    assert.ok(count >= 40, `expected the dashboards' ~49 queries, found ${count}`);
    assert.deepEqual(problems, []);
  });

  test('the 5xx answers reach the per-route error panel, and not the SLI', async () => {
    const service = loadDashboard(dashboardFiles().find((f) => f.endsWith('msgcls-service.json')) as string);
    const panel = prometheusQueries(service, PROMETHEUS_UID).find((q) => q.panel === '5xx ratio by route (all routes)');
    assert.ok(panel, 'panel "5xx ratio by route (all routes)" not found');
    const byRoute = await samples(substituteVariables(panel.expr, variables()));
    const ready = byRoute.find((s) => s.metric.http_route === '/ready');
    assert.ok(ready && Number(ready.value[1]) > 0, `no 5xx ratio for /ready: ${JSON.stringify(byRoute)}`);
    // Probe 503s and client 4xx are not API errors: the SLI error ratio is exactly 0.
    for (const w of ['5m', '30m', '1h', '6h']) {
      assert.equal(await scalar(`job:msgcls_api_errors:ratio_rate${w}{job="${JOB}"}`), 0, `error ratio over ${w}`);
    }
    assert.ok(((await scalar(`job:msgcls_api_requests:rate5m{job="${JOB}"}`)) ?? 0) > 0);
  });

  test('every recording and alerting rule is loaded, evaluates without error, and is valid PromQL', async () => {
    const expectedNames: string[] = [];
    for (const f of ruleFiles()) {
      const rf = (await readYaml(f)) as { groups: { rules: { alert?: string; record?: string }[] }[] };
      for (const g of rf.groups) for (const r of g.rules) expectedNames.push((r.alert ?? r.record) as string);
    }
    const r = await promGet<{ data: { groups: RuleGroupState[] } }>('/api/v1/rules');
    const rules = r.data.groups.flatMap((g) => g.rules);
    assert.deepEqual(rules.map((x) => x.name).sort(), expectedNames.sort(), 'Prometheus did not load every rule file');
    const problems: string[] = [];
    for (const rule of rules) {
      if (rule.health !== 'ok') problems.push(`${rule.name}: health ${rule.health}: ${rule.lastError}`);
      const q = await query(rule.query);
      if (q.status !== 'success') problems.push(`${rule.name}: invalid: ${q.error}`);
      else if (rule.type === 'recording' && ((q.data?.result ?? []) as Sample[]).length === 0) {
        problems.push(`${rule.name}: recording rule has no data\n    ${rule.query}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('no alert fires on this healthy traffic', async () => {
    const r = await promGet<{ data: { alerts: { labels: Record<string, string>; state: string }[] } }>(
      '/api/v1/alerts',
    );
    const firing = r.data.alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname);
    assert.deepEqual(firing, []);
  });
});
