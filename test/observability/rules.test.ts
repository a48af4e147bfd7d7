// The Prometheus configuration and rules, checked by the real promtool: `check config`, `check rules`
// and `test rules` on the committed unit tests. Also: every alert has unit tests that make it fire
// and keep it quiet, annotations and a runbook section, and the SLO constants are the same in the
// rules, the dashboards and the docs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  type Dashboard,
  dashboardFiles,
  dataPanels,
  loadDashboard,
  OBS_README,
  PROMETHEUS_CONFIG,
  prometheusQueries,
  RULES_DIR,
  readYaml,
  requireBinary,
  ruleFiles,
  ruleTestFiles,
  run,
} from './helpers.ts';

type Rule = {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};
type RuleFile = { groups: { name: string; rules: Rule[] }[] };
type AlertCase = { eval_time: string; alertname: string; exp_alerts?: unknown[] };
type TestGroup = { name?: string; alert_rule_test?: AlertCase[]; promql_expr_test?: { expr: string }[] };
type TestFile = { rule_files: string[]; tests: TestGroup[] };

const SLO_FILE = join(RULES_DIR, 'msgcls-slo.rules.yml');

let promtool: string;
let rules: Map<string, RuleFile>;
let alerts: Rule[];
let testFiles: Map<string, TestFile>;

before(async () => {
  promtool = requireBinary('promtool', 'PROMTOOL');
  rules = new Map();
  for (const f of ruleFiles()) rules.set(f, await readYaml(f));
  alerts = [...rules.values()].flatMap((rf) => rf.groups.flatMap((g) => g.rules)).filter((r) => r.alert);
  testFiles = new Map();
  for (const f of ruleTestFiles()) testFiles.set(f, await readYaml(f));
});

const promtoolOk = (args: string[]) => {
  const r = run(promtool, args);
  assert.equal(r.status, 0, `promtool ${args.join(' ')} failed:\n${r.output}`);
  return r;
};

describe('promtool', () => {
  test('check config accepts prometheus.yml and the rule files it loads', () => {
    const r = promtoolOk(['check', 'config', PROMETHEUS_CONFIG]);
    for (const f of ruleFiles())
      assert.ok(r.output.includes(basename(f)), `prometheus.yml does not load ${basename(f)}:\n${r.output}`);
  });

  test('check rules accepts every rule file', () => {
    promtoolOk(['check', 'rules', ...ruleFiles()]);
  });

  test('test rules passes every unit test file', () => {
    const files = ruleTestFiles();
    assert.ok(files.length > 0, 'no promtool unit tests found in deploy/observability/prometheus/tests');
    const r = promtoolOk(['test', 'rules', ...files]);
    assert.doesNotMatch(r.output, /FAILED/);
  });

  test('unit test files load the real rule files', () => {
    for (const [file, tf] of testFiles) {
      const loaded = tf.rule_files.map((p) => basename(p)).sort();
      assert.deepEqual(
        loaded,
        ruleFiles().map((f) => basename(f)),
        `${basename(file)} must load every rule file`,
      );
    }
  });
});

describe('recording rules', () => {
  test('every recording rule has a promtool test of its value', () => {
    const exprs = [...testFiles.values()]
      .flatMap((tf) => tf.tests.flatMap((g) => g.promql_expr_test ?? []))
      .map((t) => t.expr)
      .join('\n');
    const records = [...rules.values()].flatMap((rf) => rf.groups.flatMap((g) => g.rules)).filter((r) => r.record);
    assert.ok(records.length > 0);
    for (const r of records) {
      assert.ok(
        new RegExp(`\\b${r.record}\\b`).test(exprs),
        `${r.record}: add a promql_expr_test that checks its value`,
      );
    }
  });
});

describe('alert rules', () => {
  test('the issue-3, issue-4 and issue-12 alert sets are present', () => {
    assert.deepEqual(alerts.map((a) => a.alert).sort(), [
      'MsgClsDriftHigh',
      'MsgClsErrorBudgetBurnFast',
      'MsgClsErrorBudgetBurnSlow',
      'MsgClsEventLoopLagHigh',
      'MsgClsHighErrorRatio',
      'MsgClsLatencyP95High',
      'MsgClsLoadShedding',
      'MsgClsModelLoadFailed',
      'MsgClsModelReloadFailing',
      'MsgClsNoPredictions',
      'MsgClsOnlineQualityLow',
      'MsgClsStoreWritesFailing',
      'MsgClsTargetDown',
    ]);
  });

  test('every alert has a severity, a summary, a description and a runbook that exists in the README', () => {
    const readme = readFileSync(OBS_README, 'utf8');
    const anchors = new Set(
      [...readme.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
        m[1]
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9 _-]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const a of alerts) {
      assert.match(
        a.labels?.severity ?? '',
        /^(critical|warning)$/,
        `${a.alert}: severity must be critical or warning`,
      );
      for (const key of ['summary', 'description', 'runbook']) {
        assert.ok((a.annotations?.[key] ?? '').trim().length > 0, `${a.alert}: missing the ${key} annotation`);
      }
      const runbook = a.annotations?.runbook ?? '';
      const m = /^deploy\/observability\/README\.md#([a-z0-9_-]+)$/.exec(runbook);
      assert.ok(m, `${a.alert}: runbook must be deploy/observability/README.md#<section>, not "${runbook}"`);
      assert.equal(m[1], (a.alert ?? '').toLowerCase(), `${a.alert}: runbook anchor should be the alert name`);
      assert.ok(anchors.has(m[1]), `${a.alert}: README.md has no section "${m[1]}" (add a heading "${a.alert}")`);
    }
  });

  test('every alert has unit tests that make it fire and that keep it quiet', () => {
    for (const a of alerts) {
      const cases = [...testFiles.values()]
        .flatMap((tf) => tf.tests.flatMap((g) => g.alert_rule_test ?? []))
        .filter((c) => c.alertname === a.alert);
      assert.ok(
        cases.some((c) => (c.exp_alerts ?? []).length > 0),
        `${a.alert}: add a promtool test case in which it fires`,
      );
      assert.ok(
        cases.some((c) => (c.exp_alerts ?? []).length === 0),
        `${a.alert}: add a promtool test case in which it stays quiet`,
      );
    }
  });
});

describe('quality thresholds', () => {
  test('the drift alert uses the service default DRIFT_PSI and the dashboard draws it', async () => {
    const { CONFIG_VARS } = await import('../../src/config.ts');
    const drifted = CONFIG_VARS.find((v) => v.name === 'DRIFT_PSI')?.default;
    const moderate = CONFIG_VARS.find((v) => v.name === 'DRIFT_MODERATE_PSI')?.default;
    const alert = alerts.find((a) => a.alert === 'MsgClsDriftHigh');
    assert.ok(alert);
    assert.match(alert.expr.trim(), new RegExp(`>= ${drifted?.replace('.', '\\.')}$`));
    assert.equal(alert.for, '15m', 'the issue asks for drift above the threshold for 15 minutes');
    const model = dashboardFiles()
      .map(loadDashboard)
      .find((d) => d.uid === 'msgcls-model') as Dashboard;
    const psi = dataPanels(model).find((p) => p.title === 'PSI by feature');
    const steps = (psi?.fieldConfig?.defaults?.thresholds?.steps ?? []).map((s) => s.value);
    assert.deepEqual(steps, [null, Number(moderate), Number(drifted)]);
  });

  test('the quality floor of the alert is the line on the quality panel', () => {
    const alert = alerts.find((a) => a.alert === 'MsgClsOnlineQualityLow');
    const floor = /msgcls_online_f1\{[^}]*\}\)\s*<\s*([0-9.]+)/.exec(alert?.expr ?? '')?.[1];
    assert.ok(floor, 'MsgClsOnlineQualityLow must compare msgcls_online_f1 with a floor');
    const model = dashboardFiles()
      .map(loadDashboard)
      .find((d) => d.uid === 'msgcls-model') as Dashboard;
    const panel = dataPanels(model).find((p) => p.title === 'Online precision / recall / F1 by version');
    const steps = (panel?.fieldConfig?.defaults?.thresholds?.steps ?? []).map((s) => s.value);
    assert.ok(steps.includes(Number(floor)), `the panel's thresholds ${steps} must include the floor ${floor}`);
  });
});

describe('SLO constants', () => {
  // The SLOs as documented in msgcls-slo.rules.yml: 99.9 % availability (budget 0.001) and a p95
  // /predict latency of 0.1 s. Read them from the alerts, then check everything else agrees.
  const alert = (name: string) => {
    const a = alerts.find((r) => r.alert === name);
    assert.ok(a, `alert ${name} not found`);
    return a;
  };
  const budget = () => {
    const fast = /\(\s*14\.4\s*\*\s*([0-9.]+)\s*\)/.exec(alert('MsgClsErrorBudgetBurnFast').expr);
    const slow = /\(\s*6\s*\*\s*([0-9.]+)\s*\)/.exec(alert('MsgClsErrorBudgetBurnSlow').expr);
    assert.ok(fast && slow, 'burn-rate alerts must compare with (14.4 * budget) and (6 * budget)');
    assert.equal(fast[1], slow[1], 'both burn-rate alerts must use the same error budget');
    return fast[1];
  };
  const latency = () => {
    const m = />\s*([0-9.]+)\s*$/.exec(alert('MsgClsLatencyP95High').expr.trim());
    assert.ok(m, 'MsgClsLatencyP95High must end with "> <seconds>"');
    return m[1];
  };
  const dashboards = (): Dashboard[] => dashboardFiles().map(loadDashboard);

  test('the error budget is 0.001 (99.9 %) and the latency SLO 0.1 s, as documented', () => {
    assert.equal(budget(), '0.001');
    assert.equal(latency(), '0.1');
    const slo = readFileSync(SLO_FILE, 'utf8');
    assert.match(slo, /99\.9 %/);
    assert.match(slo, /0\.1 s/);
    const readme = readFileSync(OBS_README, 'utf8');
    assert.match(readme, /99\.9 %/);
    assert.match(readme, /100 ms/);
  });

  test('the API-route filter of the SLI is the same in every recording rule and dashboard query', () => {
    const filters = new Set<string>();
    const sli = rules.get(SLO_FILE) as RuleFile;
    for (const r of sli.groups.flatMap((g) => g.rules))
      for (const m of r.expr.matchAll(/http_route!~"([^"]*)"/g)) filters.add(m[1]);
    assert.equal(filters.size, 1, `recording rules use different route filters: ${[...filters].join(' | ')}`);
    const [filter] = filters;
    for (const d of dashboards()) {
      for (const q of prometheusQueries(d, 'msgcls-prometheus')) {
        for (const m of q.expr.matchAll(/http_route!~"([^"]*)"/g)) {
          assert.equal(m[1], filter, `${d.uid} panel "${q.panel}" uses another API-route filter than the SLI`);
        }
      }
    }
  });

  test('dashboards draw the same thresholds as the alerts', () => {
    const b = budget();
    const service = dashboards().find((d) => d.uid === 'msgcls-service') as Dashboard;
    const panels = dataPanels(service);
    const steps = (title: string) => {
      const p = panels.find((x) => x.title === title);
      assert.ok(p, `Service dashboard panel "${title}" not found`);
      return (p.fieldConfig?.defaults?.thresholds?.steps ?? []).map((s) => s.value);
    };
    assert.ok(
      steps('/predict latency p50 / p95 / p99').includes(Number(latency())),
      'the latency panel must mark the latency SLO',
    );
    assert.ok(steps('p95 /predict (5 m)').includes(Number(latency())), 'the p95 stat must turn red at the latency SLO');
    assert.deepEqual(
      steps('Error budget burn rate')
        .filter((v) => v !== null)
        .sort(),
      [14.4, 6].sort(),
    );
    for (const q of prometheusQueries(service, 'msgcls-prometheus')) {
      if (/job:msgcls_api_errors|Error budget left/.test(`${q.expr} ${q.panel}`)) {
        assert.ok(q.expr.includes(`/ ${b}`), `panel "${q.panel}" must divide by the error budget ${b}`);
      }
    }
  });
});
