// Shared helpers for the tests of the observability stack in deploy/observability/: file locations,
// YAML loading, the external Prometheus binaries, and walking the Grafana dashboards.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const OBS_DIR = join(ROOT, 'deploy', 'observability');
export const PROMETHEUS_DIR = join(OBS_DIR, 'prometheus');
export const PROMETHEUS_CONFIG = join(PROMETHEUS_DIR, 'prometheus.yml');
export const RULES_DIR = join(PROMETHEUS_DIR, 'rules');
export const RULE_TESTS_DIR = join(PROMETHEUS_DIR, 'tests');
export const DASHBOARDS_DIR = join(OBS_DIR, 'grafana', 'dashboards');
export const DATASOURCES_FILE = join(OBS_DIR, 'grafana', 'provisioning', 'datasources', 'datasources.yaml');
export const DASHBOARD_PROVIDERS_FILE = join(OBS_DIR, 'grafana', 'provisioning', 'dashboards', 'dashboards.yaml');
export const COMPOSE_FILE = join(OBS_DIR, 'compose.yaml');
export const TEMPO_CONFIG = join(OBS_DIR, 'tempo', 'tempo.yaml');
export const OBS_README = join(OBS_DIR, 'README.md');

/** The job name the service is scraped under, everywhere (rules, dashboards, compose). */
export const JOB = 'msg-cls';

export function listFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

export const ruleFiles = (): string[] => listFiles(RULES_DIR, '.rules.yml');
export const ruleTestFiles = (): string[] => listFiles(RULE_TESTS_DIR, '.test.yml');
export const dashboardFiles = (): string[] => listFiles(DASHBOARDS_DIR, '.json');

// --- YAML -------------------------------------------------------------------------------------------
// The project has no YAML parser among its npm dependencies. The `yaml` package is used when it is
// installed; otherwise Python's PyYAML (Debian: python3-yaml) parses the file.

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is checked field by field by the tests
type Yaml = any;
type YamlModule = { parse(src: string): Yaml };

let yamlModule: YamlModule | null | undefined;

async function loadYamlModule(): Promise<YamlModule | null> {
  if (yamlModule !== undefined) return yamlModule;
  const name = 'yaml';
  try {
    yamlModule = (await import(name)) as YamlModule;
  } catch {
    yamlModule = null;
  }
  return yamlModule;
}

const PY_YAML_TO_JSON =
  'import json, sys, yaml\nwith open(sys.argv[1], encoding="utf-8") as f:\n    json.dump(yaml.safe_load(f), sys.stdout)';

export async function readYaml(path: string): Promise<Yaml> {
  const mod = await loadYamlModule();
  if (mod) return mod.parse(readFileSync(path, 'utf8'));
  const r = spawnSync('python3', ['-c', PY_YAML_TO_JSON, path], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `could not parse ${path} as YAML: ${r.error?.message ?? r.stderr.trim()}\n` +
        'Install a YAML parser: `npm install --save-dev yaml`, or `apt-get install -y python3-yaml` (or `pip install pyyaml`).',
    );
  }
  return JSON.parse(r.stdout);
}

// --- External binaries ------------------------------------------------------------------------------

/** Finds `name` on PATH (or at the path in `envVar`), or throws an error that says how to install it. */
export function requireBinary(name: 'promtool' | 'prometheus', envVar: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!existsSync(fromEnv))
      throw new Error(`${envVar}=${fromEnv} does not exist: point it at the ${name} binary, or unset it`);
    return fromEnv;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error(
    `${name} is not on PATH. Install it (Debian/Ubuntu: \`apt-get install -y --no-install-recommends prometheus\`, which ` +
      `provides both prometheus and promtool), or set ${envVar} to its path.`,
  );
}

export type RunResult = { status: number | null; stdout: string; stderr: string; output: string };

export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? ROOT, timeout: 120_000 });
  if (r.error) throw new Error(`could not run ${cmd} ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, output: `${r.stdout}${r.stderr}` };
}

// --- Grafana dashboards -----------------------------------------------------------------------------

export type Datasource = { type?: string; uid?: string };
export type Target = {
  refId?: string;
  datasource?: Datasource;
  expr?: string;
  query?: string;
  queryType?: string;
  [k: string]: unknown;
};
export type Panel = {
  id?: number;
  type: string;
  title?: string;
  datasource?: Datasource;
  targets?: Target[];
  panels?: Panel[];
  gridPos?: { x: number; y: number; w: number; h: number };
  fieldConfig?: { defaults?: { thresholds?: { steps?: { value: number | null }[] } } };
  [k: string]: unknown;
};
export type Variable = {
  name: string;
  type: string;
  datasource?: Datasource;
  query?: unknown;
  definition?: string;
  [k: string]: unknown;
};
export type Dashboard = {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list?: Variable[] };
  [k: string]: unknown;
};

export function loadDashboard(path: string): Dashboard {
  return JSON.parse(readFileSync(path, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included, rows themselves included. */
export function allPanels(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  const walk = (panels: Panel[] | undefined) => {
    for (const p of panels ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

/** Panels that show data (not rows, not text). */
export function dataPanels(d: Dashboard): Panel[] {
  return allPanels(d).filter((p) => p.type !== 'row' && p.type !== 'text');
}

export type PromQuery = { dashboard: string; panelId: number | undefined; panel: string; refId: string; expr: string };

/** Every PromQL expression of every panel of a dashboard. */
export function prometheusQueries(d: Dashboard, prometheusUid: string): PromQuery[] {
  const out: PromQuery[] = [];
  for (const p of dataPanels(d)) {
    for (const t of p.targets ?? []) {
      const uid = t.datasource?.uid ?? p.datasource?.uid;
      if (uid !== prometheusUid) continue;
      out.push({ dashboard: d.uid, panelId: p.id, panel: p.title ?? '', refId: t.refId ?? '', expr: t.expr ?? '' });
    }
  }
  return out;
}

/** The query string of a dashboard variable (Grafana stores it as a string or as {query}). */
export function variableQuery(v: Variable): string {
  if (typeof v.query === 'string') return v.query;
  if (v.query && typeof v.query === 'object' && typeof (v.query as { query?: unknown }).query === 'string') {
    return (v.query as { query: string }).query;
  }
  return v.definition ?? '';
}

/** `label_values(selector, label)` → its selector and label; undefined for any other variable query. */
export function parseLabelValues(q: string): { selector: string; label: string } | undefined {
  const m = /^\s*label_values\(\s*(.+?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/.exec(q);
  return m ? { selector: m[1], label: m[2] } : undefined;
}

/**
 * Replaces Grafana's template variables in a PromQL expression the way Grafana would for one
 * concrete choice, so that Prometheus can run it.
 */
export function substituteVariables(expr: string, values: Record<string, string>): string {
  let out = expr;
  for (const [name, value] of Object.entries(values).sort((a, b) => b[0].length - a[0].length)) {
    out = out.replaceAll(`\${${name}}`, value).replaceAll(`$${name}`, value);
  }
  return out;
}
