// Fast structural checks of the observability stack: the Grafana dashboards and provisioning, the
// compose file, Prometheus' scrape configuration and Tempo's receivers. Grafana and Docker cannot
// run here; what they would read is checked instead. (Prometheus itself is exercised for real in
// rules.test.ts and prometheus.integration.test.ts.)

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  allPanels,
  COMPOSE_FILE,
  DASHBOARD_PROVIDERS_FILE,
  DATASOURCES_FILE,
  type Dashboard,
  dashboardFiles,
  dataPanels,
  JOB,
  loadDashboard,
  OBS_DIR,
  PROMETHEUS_CONFIG,
  parseLabelValues,
  prometheusQueries,
  readYaml,
  TEMPO_CONFIG,
  variableQuery,
} from './helpers.ts';

type ProvisionedDatasource = {
  name: string;
  uid: string;
  type: string;
  url: string;
  jsonData?: Record<string, unknown>;
};

let datasources: ProvisionedDatasource[];
let dashboards: { file: string; d: Dashboard }[];
let compose: {
  services: Record<
    string,
    {
      image?: string;
      volumes?: string[];
      ports?: string[];
      extra_hosts?: string[];
      command?: string[] | string;
      environment?: Record<string, string>;
    }
  >;
};

before(async () => {
  datasources = (await readYaml(DATASOURCES_FILE)).datasources;
  dashboards = dashboardFiles().map((file) => ({ file, d: loadDashboard(file) }));
  compose = await readYaml(COMPOSE_FILE);
});

const byType = (type: string): ProvisionedDatasource => {
  const found = datasources.filter((d) => d.type === type);
  assert.equal(
    found.length,
    1,
    `datasources.yaml must provision exactly one ${type} data source, found ${found.length}`,
  );
  return found[0];
};

describe('Grafana provisioning', () => {
  test('provisions Prometheus and Tempo with fixed, distinct uids', () => {
    const uids = datasources.map((d) => d.uid);
    assert.equal(new Set(uids).size, uids.length, `duplicate data source uids: ${uids.join(', ')}`);
    for (const d of datasources)
      assert.match(d.uid ?? '', /^[a-zA-Z0-9_-]{1,40}$/, `data source ${d.name} needs a fixed uid`);
    byType('prometheus');
    byType('tempo');
  });

  test("data sources point at the compose services' names and ports", () => {
    assert.equal(new URL(byType('prometheus').url).host, 'prometheus:9090');
    assert.equal(new URL(byType('tempo').url).host, 'tempo:3200');
    assert.ok(
      compose.services.prometheus,
      'compose.yaml needs a service named prometheus (the data source URL uses it)',
    );
    assert.ok(compose.services.tempo, 'compose.yaml needs a service named tempo (the data source URL uses it)');
  });

  test('links Prometheus exemplars and Tempo back to the provisioned uids', () => {
    const prom = byType('prometheus');
    const tempo = byType('tempo');
    const exemplars = (prom.jsonData?.exemplarTraceIdDestinations ?? []) as { datasourceUid: string }[];
    for (const e of exemplars) assert.equal(e.datasourceUid, tempo.uid);
    const t2m = tempo.jsonData?.tracesToMetrics as { datasourceUid?: string } | undefined;
    if (t2m) assert.equal(t2m.datasourceUid, prom.uid);
  });

  test('the dashboard provider reads the folder that compose mounts the dashboards into', async () => {
    const providers = (await readYaml(DASHBOARD_PROVIDERS_FILE)).providers as { options: { path: string } }[];
    assert.equal(providers.length, 1);
    const mounts = compose.services.grafana?.volumes ?? [];
    const mount = mounts.find((v) => v.split(':')[1] === providers[0].options.path);
    assert.ok(mount, `no grafana volume is mounted at ${providers[0].options.path}; volumes: ${mounts.join(', ')}`);
    assert.equal(resolve(OBS_DIR, mount.split(':')[0]), resolve(OBS_DIR, 'grafana', 'dashboards'));
  });
});

describe('Grafana dashboards', () => {
  test('there are a Service and a Model dashboard with distinct uids', () => {
    const uids = dashboards.map(({ d }) => d.uid);
    assert.deepEqual([...uids].sort(), ['msgcls-model', 'msgcls-service']);
    for (const { d, file } of dashboards) {
      assert.equal(d.id ?? null, null, `${file}: "id" must be null so that Grafana assigns one`);
      assert.ok(typeof d.title === 'string' && d.title.length > 0, `${file}: needs a title`);
    }
  });

  test('panel ids are unique within each dashboard', () => {
    for (const { d } of dashboards) {
      const ids = allPanels(d).map((p) => p.id);
      for (const id of ids) assert.ok(Number.isInteger(id), `${d.uid}: every panel needs an integer id`);
      const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
      assert.deepEqual(dupes, [], `${d.uid}: duplicate panel ids ${dupes.join(', ')}`);
    }
  });

  test('every panel uses a provisioned data source, by uid', () => {
    const known = new Map(datasources.map((ds) => [ds.uid, ds.type]));
    for (const { d } of dashboards) {
      for (const p of dataPanels(d)) {
        const where = `${d.uid} panel ${p.id} "${p.title}"`;
        assert.ok(
          p.datasource?.uid,
          `${where}: set datasource.uid to a provisioned uid (${[...known.keys()].join(', ')})`,
        );
        assert.equal(
          known.get(p.datasource.uid),
          p.datasource.type,
          `${where}: datasource ${JSON.stringify(p.datasource)} is not provisioned`,
        );
        for (const t of p.targets ?? []) {
          const uid = t.datasource?.uid ?? p.datasource.uid;
          assert.ok(known.has(uid), `${where} target ${t.refId}: datasource uid ${uid} is not provisioned`);
        }
      }
      for (const v of d.templating?.list ?? []) {
        if (v.type !== 'query') continue;
        assert.ok(
          v.datasource?.uid && known.has(v.datasource.uid),
          `${d.uid} variable $${v.name}: datasource uid must be provisioned`,
        );
      }
    }
  });

  test('every panel has at least one query, and every query an expression', () => {
    for (const { d } of dashboards) {
      for (const p of dataPanels(d)) {
        const where = `${d.uid} panel ${p.id} "${p.title}"`;
        assert.ok((p.targets ?? []).length > 0, `${where}: has no query`);
        const refIds = (p.targets ?? []).map((t) => t.refId);
        assert.equal(new Set(refIds).size, refIds.length, `${where}: duplicate refIds ${refIds.join(', ')}`);
        for (const t of p.targets ?? []) {
          const q = (t.expr ?? t.query ?? '').trim();
          assert.ok(q.length > 0, `${where} target ${t.refId}: empty query`);
        }
      }
    }
  });

  test('Prometheus queries select the dashboard job and instance, and use no unknown variables', () => {
    const promUid = byType('prometheus').uid;
    for (const { d } of dashboards) {
      const vars = new Set((d.templating?.list ?? []).map((v) => v.name));
      assert.ok(vars.has('job') && vars.has('instance'), `${d.uid}: needs the $job and $instance variables`);
      for (const q of prometheusQueries(d, promUid)) {
        const where = `${d.uid} panel ${q.panelId} "${q.panel}" ${q.refId}`;
        assert.match(q.expr, /job="\$job"/, `${where}: select job="$job" so the dashboard follows the variable`);
        for (const m of q.expr.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
          const name = m[1];
          assert.ok(vars.has(name) || name.startsWith('__'), `${where}: unknown variable $${name}`);
        }
      }
    }
  });

  test('variables are label_values() queries whose default job is msg-cls', () => {
    for (const { d } of dashboards) {
      for (const v of d.templating?.list ?? []) {
        assert.ok(
          parseLabelValues(variableQuery(v)),
          `${d.uid} variable $${v.name}: expected label_values(selector, label)`,
        );
      }
      const job = (d.templating?.list ?? []).find((v) => v.name === 'job') as
        | { current?: { value?: string } }
        | undefined;
      assert.equal(job?.current?.value, JOB);
    }
  });

  test('panels lie on the 24-column grid without overlapping', () => {
    for (const { d } of dashboards) {
      const boxes = d.panels.map((p) => ({ p, g: p.gridPos }));
      for (const { p, g } of boxes) {
        assert.ok(g, `${d.uid} panel ${p.id}: missing gridPos`);
        assert.ok(
          g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0,
          `${d.uid} panel ${p.id}: gridPos ${JSON.stringify(g)} is off the grid`,
        );
      }
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i].g;
          const b = boxes[j].g;
          if (!a || !b) continue;
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          assert.ok(!overlap, `${d.uid}: panels ${boxes[i].p.id} and ${boxes[j].p.id} overlap`);
        }
      }
    }
  });

  test('the Service dashboard covers the golden signals and the Model dashboard the model signals', () => {
    const exprs = (uid: string) =>
      prometheusQueries(dashboards.find(({ d }) => d.uid === uid)?.d as Dashboard, byType('prometheus').uid)
        .map((q) => q.expr)
        .join('\n');
    const service = exprs('msgcls-service');
    for (const needle of [
      'histogram_quantile(0.50',
      'histogram_quantile(0.95',
      'histogram_quantile(0.99',
      'http_server_request_duration_seconds_count',
      'http_response_status_code=~"5.."',
      'http_server_active_requests',
      'nodejs_eventloop_lag_p99_seconds',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
    ]) {
      assert.ok(service.includes(needle), `the Service dashboard has no query with ${needle}`);
    }
    const model = exprs('msgcls-model');
    for (const needle of [
      'sum by (model_version, label) (rate(msgcls_predictions_total',
      'msgcls_prediction_probability_bucket',
      'msgcls_inference_duration_seconds_bucket',
      'msgcls_model_info',
      'msgcls_input_chars_bucket',
    ]) {
      assert.ok(model.includes(needle), `the Model dashboard has no query with ${needle}`);
    }
  });
});

describe('compose.yaml', () => {
  test('runs Prometheus, Grafana OSS and Tempo from pinned image versions', () => {
    const images = Object.fromEntries(Object.entries(compose.services).map(([name, s]) => [name, s.image ?? '']));
    assert.match(images.prometheus, /^prom\/prometheus:v\d+\.\d+\.\d+$/);
    assert.match(images.grafana, /^grafana\/grafana-oss:\d+\.\d+\.\d+$/);
    assert.match(images.tempo, /^grafana\/tempo:\d+\.\d+\.\d+$/);
    for (const [name, image] of Object.entries(images)) {
      assert.match(
        image,
        /:v?\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?$/,
        `service ${name}: pin the image to a version (not "${image}")`,
      );
    }
  });

  test('Prometheus reaches the host through host-gateway', () => {
    assert.ok((compose.services.prometheus.extra_hosts ?? []).includes('host.docker.internal:host-gateway'));
  });

  test('publishes ports on loopback only, OTLP on 4317 and 4318', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const p of s.ports ?? [])
        assert.match(p, /^127\.0\.0\.1:\d+:\d+$/, `service ${name}: publish ${p} on 127.0.0.1 only`);
    }
    const tempoPorts = (compose.services.tempo.ports ?? []).map((p) => p.split(':').slice(1).join(':'));
    assert.ok(
      tempoPorts.includes('4317:4317') && tempoPorts.includes('4318:4318'),
      `tempo ports: ${tempoPorts.join(', ')}`,
    );
  });

  test('every bind-mounted file or folder exists in the repository', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const src = v.split(':')[0];
        if (!src.startsWith('.')) continue;
        assert.ok(existsSync(join(OBS_DIR, src)), `service ${name}: ${src} does not exist next to compose.yaml`);
      }
    }
  });

  test('Grafana allows anonymous viewers only, and the admin password can be set', () => {
    const env = compose.services.grafana.environment ?? {};
    assert.equal(env.GF_AUTH_ANONYMOUS_ENABLED, 'true');
    assert.equal(env.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer');
    assert.match(env.GF_SECURITY_ADMIN_PASSWORD ?? '', /^\$\{GRAFANA_ADMIN_PASSWORD/);
    const home = env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    assert.ok(home.endsWith('/msgcls-service.json'), `home dashboard: ${home}`);
  });
});

describe('prometheus.yml and tempo.yaml', () => {
  test(`scrapes the service as job ${JOB} at host.docker.internal:8000/metrics every 5–15 s`, async () => {
    const cfg = await readYaml(PROMETHEUS_CONFIG);
    const job = (
      cfg.scrape_configs as {
        job_name: string;
        metrics_path?: string;
        scrape_interval?: string;
        static_configs: { targets: string[] }[];
      }[]
    ).find((j) => j.job_name === JOB);
    assert.ok(job, `prometheus.yml has no scrape job named ${JOB}`);
    assert.equal(job.metrics_path ?? '/metrics', '/metrics');
    assert.deepEqual(
      job.static_configs.flatMap((s) => s.targets),
      ['host.docker.internal:8000'],
    );
    const interval = job.scrape_interval ?? cfg.global.scrape_interval;
    const seconds = Number(/^(\d+)s$/.exec(interval)?.[1]);
    assert.ok(seconds >= 5 && seconds <= 15, `scrape interval ${interval}: use 5s to 15s`);
    assert.deepEqual(cfg.rule_files, ['rules/*.rules.yml']);
  });

  test('Tempo binds its OTLP receivers to all interfaces (since 2.7 the default is localhost)', async () => {
    const cfg = await readYaml(TEMPO_CONFIG);
    const protocols = cfg.distributor.receivers.otlp.protocols;
    assert.equal(protocols.grpc.endpoint, '0.0.0.0:4317');
    assert.equal(protocols.http.endpoint, '0.0.0.0:4318');
    const command = ([] as string[]).concat(compose.services.tempo.command ?? []).join(' ');
    const mount = (compose.services.tempo.volumes ?? []).find((v) => v.startsWith('./tempo/tempo.yaml:'));
    assert.ok(
      mount && command.includes(`-config.file=${mount.split(':')[1]}`),
      'tempo must be started with the mounted tempo.yaml',
    );
    assert.ok(readFileSync(TEMPO_CONFIG, 'utf8').length > 0);
  });
});
