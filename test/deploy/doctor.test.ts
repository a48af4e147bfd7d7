// `msg-cls doctor`: fed the repository's own deployment files (clean) and broken copies of them in
// temporary directories; each broken config must produce its finding, with a fix, and a non-zero exit.

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type DoctorReport, runDoctor } from '../../src/doctor/index.ts';
import { measurementEnv } from '../../src/doctor/measure.ts';
import { DEFAULT_REGISTRY, ROOT, spawnCli } from '../helpers/server.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A copy of the repository's fly.toml, Dockerfile and .dockerignore (models linked), with edits. */
function project(
  edit: {
    fly?: (s: string) => string;
    dockerfile?: (s: string) => string;
    dockerignore?: ((s: string) => string) | null;
  } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'msg-cls-doctor-'));
  dirs.push(dir);
  const put = (name: string, f: ((s: string) => string) | null | undefined) => {
    if (f === null) return;
    const text = readFileSync(join(ROOT, name), 'utf8');
    writeFileSync(join(dir, name), f ? f(text) : text);
  };
  put('fly.toml', edit.fly);
  put('Dockerfile', edit.dockerfile);
  put('.dockerignore', edit.dockerignore);
  symlinkSync(DEFAULT_REGISTRY, join(dir, 'models'));
  return dir;
}

/** Replaces the last occurrence (the runtime stage comes last in the Dockerfile). */
const replaceLast = (s: string, from: string, to: string) => {
  const i = s.lastIndexOf(from);
  assert.ok(i >= 0, `${from} is in the file`);
  return s.slice(0, i) + to + s.slice(i + from.length);
};
const ids = (r: DoctorReport, severity?: string) =>
  r.findings.filter((f) => !severity || f.severity === severity).map((f) => f.id);
const finding = (r: DoctorReport, id: string) => {
  const f = r.findings.find((x) => x.id === id);
  assert.ok(f, `expected finding ${id}; got ${JSON.stringify(r.findings, null, 2)}`);
  assert.ok(f.fix.length > 10, 'every finding says how to fix it');
  return f;
};
// The real footprint is measured in one test below; the others pass the bench figure in.
const FOOTPRINT = { footprintMb: 150 };

describe('msg-cls doctor on the repository', () => {
  test("the repository's own fly.toml, Dockerfile and .dockerignore have no errors or warnings", async () => {
    const r = await runDoctor(ROOT, FOOTPRINT);
    assert.deepEqual(ids(r, 'error'), []);
    assert.deepEqual(ids(r, 'warning'), []);
    assert.equal(r.listen_port, 8000);
  });

  test('measures the configured model for real: start-up time and peak RSS under load', async () => {
    const dir = project({ fly: (s) => s.replace('memory = "256mb"', 'memory = "64mb"') });
    const r = await runDoctor(dir);
    assert.ok(r.footprint && 'startup_ms' in r.footprint, JSON.stringify(r.findings));
    assert.ok(r.footprint.startup_ms > 0 && r.footprint.startup_ms < 30_000);
    assert.ok(r.footprint.peak_rss_mb > 30, `peak RSS ${r.footprint.peak_rss_mb} MB is a real process's`);
    assert.ok(r.footprint.requests > 0);
    assert.match(finding(r, 'vm-memory-oom').message, /64 MB .* peaks at [\d.]+ MB RSS/);
    // Measured with the deployment's environment (the Dockerfile sets STORE_URL=off), in a temporary
    // directory: nothing is created in DIR (it used to get data/msg-cls.db).
    assert.equal(existsSync(join(dir, 'data')), false);
  });

  test('a measurement that fails under load ends the doctor with the finding; it does not hang', async () => {
    // A limit the doctor's load text exceeds: every /predict answers 400 during the measurement.
    const dir = project({ fly: (s) => s.replace('[env]\n', '[env]\n  MAX_TEXT_CHARS = "10"\n') });
    const c = spawnCli(['doctor', dir, '--json']);
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((r) => {
      timer = setTimeout(() => r('hung'), 60_000);
    });
    const result = await Promise.race([c.exited, hung]);
    clearTimeout(timer);
    if (result === 'hung') c.proc.kill('SIGKILL');
    assert.notEqual(result, 'hung', 'the doctor exited');
    const report = JSON.parse(c.stdout.join('\n')) as DoctorReport;
    assert.match(
      finding(report, 'model-does-not-start').message,
      /POST \/predict answered 4\d\d during the measurement/,
    );
  });
});

describe('the measurement environment', () => {
  const shell = {
    PATH: '/usr/bin:/bin',
    HOME: '/home/me',
    STORE_URL: 'postgres://me:pw@db.internal/prod',
    MODEL_ALIAS: 'challenger',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    NODE_OPTIONS: '--inspect',
  };

  test("the deployment's settings, not the doctor's shell: no store, model or tracing settings leak in", () => {
    const { env, notes } = measurementEnv(
      { STORE_URL: 'off', MODEL_NAME: 'msg_cls', PORT: '8000', METRICS_PORT: '9091' },
      '/reg',
      '/tmp/w',
      shell,
    );
    // No fixed port on this machine: the deployment's 8000 and 9091 may be taken here.
    assert.equal(env.PORT, '0');
    assert.equal(env.METRICS_PORT, '0');
    assert.equal(env.STORE_URL, 'off');
    assert.equal(env.MODEL_ALIAS, undefined, "the shell's MODEL_ALIAS is not the deployment's");
    assert.equal(env.MODEL_NAME, 'msg_cls');
    assert.equal(env.MODEL_REGISTRY, '/reg');
    assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
    assert.equal(env.NODE_OPTIONS, undefined);
    assert.equal(env.PATH, '/usr/bin:/bin');
    assert.deepEqual(notes, []);
  });

  test('a SQLite store goes to the temporary directory; PostgreSQL and trace export are not used, and said so', () => {
    assert.equal(
      measurementEnv({ STORE_URL: 'sqlite:/data/msg-cls.db' }, '/reg', '/tmp/w', shell).env.STORE_URL,
      'sqlite:/tmp/w/measure.db',
    );
    assert.equal(measurementEnv({}, '/reg', '/tmp/w', shell).env.STORE_URL, 'sqlite:/tmp/w/measure.db', 'the default');
    const pg = measurementEnv(
      { STORE_URL: 'postgres://app@db/prod', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' },
      '/reg',
      '/tmp/w',
      shell,
    );
    assert.equal(pg.env.STORE_URL, 'off');
    assert.equal(pg.env.OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
    assert.equal(pg.notes.length, 2);
    assert.match(
      pg.notes.map((n) => n.message).join('\n'),
      /STORE_URL=off: .* does not write into the deployment's PostgreSQL/,
    );
  });
});

describe('msg-cls doctor on broken configurations', () => {
  test('internal_port differs from the listening port → 502 error', async () => {
    const r = await runDoctor(
      project({ fly: (s) => s.replace('internal_port = 8000', 'internal_port = 8080') }),
      FOOTPRINT,
    );
    const f = finding(r, 'internal-port-mismatch');
    assert.equal(f.severity, 'error');
    assert.match(f.message, /internal_port = 8080 but the app listens on 8000.*502 Bad Gateway/);
    assert.match(f.fix, /internal_port = 8000/);
  });

  test('PORT changed in [env] without internal_port and EXPOSE → both reported', async () => {
    const r = await runDoctor(project({ fly: (s) => s.replace('PORT = "8000"', 'PORT = "9000"') }), FOOTPRINT);
    finding(r, 'internal-port-mismatch');
    assert.match(finding(r, 'expose-mismatch').message, /EXPOSE 8000 but the app listens on 9000/);
  });

  test('EXPOSE differs from the port the app listens on', async () => {
    const r = await runDoctor(project({ dockerfile: (s) => s.replace('EXPOSE 8000', 'EXPOSE 3000') }), FOOTPRINT);
    assert.equal(finding(r, 'expose-mismatch').severity, 'error');
  });

  test('a health-check path the app does not serve', async () => {
    const r = await runDoctor(project({ fly: (s) => s.replace('path = "/alive"', 'path = "/healthz"') }), FOOTPRINT);
    const f = finding(r, 'check-path-not-served');
    assert.match(f.message, /GET \/healthz, which the app does not serve/);
  });

  test('VM memory below the measured footprint → OOM error; a little above → headroom warning; ample → nothing', async () => {
    const oom = await runDoctor(project({ fly: (s) => s.replace('memory = "256mb"', 'memory = "128mb"') }), FOOTPRINT);
    assert.match(finding(oom, 'vm-memory-oom').fix, /fly scale memory 256/);
    const tight = await runDoctor(
      project({ fly: (s) => s.replace('memory = "256mb"', 'memory = "200mb"') }),
      FOOTPRINT,
    );
    assert.equal(finding(tight, 'vm-memory-headroom').severity, 'warning');
    const ample = await runDoctor(project({ fly: (s) => s.replace('memory = "256mb"', 'memory = "1gb"') }), FOOTPRINT);
    assert.ok(!ids(ample).some((i) => i.startsWith('vm-memory')));
  });

  test('auto-stop with no Machine left running, and auto-stop without auto-start', async () => {
    const none = await runDoctor(
      project({ fly: (s) => s.replace(/^ {2}min_machines_running = 1$/m, '  min_machines_running = 0') }),
      FOOTPRINT,
    );
    assert.match(finding(none, 'no-machine-running').fix, /min_machines_running = 1/);
    const dead = await runDoctor(
      project({ fly: (s) => s.replace('auto_start_machines = true', 'auto_start_machines = false') }),
      FOOTPRINT,
    );
    assert.match(finding(dead, 'autostop-no-autostart').message, /no machines available/);
    const off = await runDoctor(
      project({
        fly: (s) =>
          s
            .replace('auto_stop_machines = "stop"', 'auto_stop_machines = "off"')
            .replace(/^ {2}min_machines_running = 1$/m, '  min_machines_running = 0'),
      }),
      FOOTPRINT,
    );
    assert.ok(!ids(off).includes('no-machine-running'), 'auto-stop off keeps every Machine running');
  });

  test('secrets in [env], by name and by value', async () => {
    const r = await runDoctor(
      project({
        fly: (s) =>
          s.replace(
            '[env]',
            '[env]\n  OPENAI_API_KEY = "not-a-real-key"\n  DATABASE_URL = "postgres://app:hunter2@db.internal/app"',
          ),
      }),
      FOOTPRINT,
    );
    const secrets = r.findings.filter((f) => f.id === 'secret-in-env');
    assert.equal(secrets.length, 2);
    assert.match(secrets[0].fix, /fly secrets set/);
  });

  test('a secret baked into the image with ENV', async () => {
    const r = await runDoctor(
      project({
        dockerfile: (s) =>
          s.replace(
            'ENV NODE_ENV=production \\\n    NODE_COMPILE',
            'ENV API_TOKEN=abc123 NODE_ENV=production \\\n    NODE_COMPILE',
          ),
      }),
      FOOTPRINT,
    );
    finding(r, 'secret-in-image');
  });

  test('a container running as root: no USER, or USER root', async () => {
    const none = await runDoctor(project({ dockerfile: (s) => replaceLast(s, 'USER 1000:1000', '') }), FOOTPRINT);
    assert.match(finding(none, 'runs-as-root').message, /no USER in the final stage/);
    const root = await runDoctor(
      project({ dockerfile: (s) => replaceLast(s, 'USER 1000:1000', 'USER root') }),
      FOOTPRINT,
    );
    assert.equal(finding(root, 'runs-as-root').severity, 'error');
  });

  test('missing .dockerignore, and one that excludes what the Dockerfile copies', async () => {
    const missing = await runDoctor(project({ dockerignore: null }), FOOTPRINT);
    assert.equal(finding(missing, 'dockerignore-missing').severity, 'error');
    const excludes = await runDoctor(project({ dockerignore: (s) => `${s}\nmodels\n` }), FOOTPRINT);
    assert.match(finding(excludes, 'dockerignore-excludes-copied').message, /excludes models/);
    const leaky = await runDoctor(project({ dockerignore: () => 'coverage\n' }), FOOTPRINT);
    for (const id of ['dockerignore-node_modules', 'dockerignore-git', 'dockerignore-env']) finding(leaky, id);
  });

  test('shutdown settings that cut the drain short, and restart policy "never"', async () => {
    const r = await runDoctor(
      project({
        fly: (s) =>
          s
            .replace('kill_signal = "SIGTERM"', 'kill_signal = "SIGKILL"')
            .replace('kill_timeout = 15', 'kill_timeout = 5')
            .replace('policy = "on-failure"', 'policy = "never"'),
      }),
      FOOTPRINT,
    );
    assert.equal(finding(r, 'kill-signal').severity, 'error');
    assert.equal(finding(r, 'kill-timeout').severity, 'warning');
    assert.equal(finding(r, 'restart-never').severity, 'error');
  });

  test('invalid TOML, invalid app configuration, unknown model', async () => {
    const toml = await runDoctor(project({ fly: (s) => s.replace('[env]', '[env\n') }), FOOTPRINT);
    assert.match(finding(toml, 'fly-toml-invalid').message, /line \d+/);
    const cfg = await runDoctor(project({ fly: (s) => s.replace('PORT = "8000"', 'PORT = "eighty"') }), FOOTPRINT);
    assert.match(finding(cfg, 'app-config-invalid').message, /PORT="eighty" is not valid/);
    const model = await runDoctor(
      project({ fly: (s) => s.replace('MODEL_NAME = "msg_cls"', 'MODEL_NAME = "no_such_model"') }),
      { measure: false },
    );
    assert.match(finding(model, 'model-not-found').message, /no_such_model/);
  });

  test('[metrics] and METRICS_PORT: scraped where /metrics is served, and without a token', async () => {
    // The repository's fly.toml: METRICS_PORT = "9091" and [metrics] port = 9091 — no metrics finding.
    const clean = await runDoctor(ROOT, { ...FOOTPRINT, secrets: ['ADMIN_TOKEN'] });
    assert.deepEqual(
      ids(clean).filter((i) => i.startsWith('metrics')),
      [],
    );
    // [metrics] left on the main port while METRICS_PORT moves /metrics away → 404 for the scraper.
    const stale = await runDoctor(
      project({ fly: (s) => s.replace('[metrics]\n  port = 9091', '[metrics]\n  port = 8000') }),
      FOOTPRINT,
    );
    const mismatch = finding(stale, 'metrics-port-mismatch');
    assert.equal(mismatch.severity, 'error');
    assert.match(mismatch.message, /port = 8000 is the main port, which has no \/metrics while METRICS_PORT=9091/);
    assert.equal(mismatch.fix, 'set port = 9091');
    // Any other path: the METRICS_PORT server answers only /metrics.
    const path = await runDoctor(
      project({ fly: (s) => s.replace('port = 9091\n  path = "/metrics"', 'port = 9091\n  path = "/prom"') }),
      FOOTPRINT,
    );
    assert.match(finding(path, 'metrics-path-not-served').message, /on METRICS_PORT=9091, which serves only \/metrics/);

    // No METRICS_PORT, [metrics] on the main port: without knowing the secrets, a warning that names both
    // outcomes; with ADMIN_TOKEN among them (--secrets), an error — Fly's scraper would get 401.
    const mainPort = (s: string) =>
      s.replace(/^ {2}METRICS_PORT = "9091"\n/m, '').replace('[metrics]\n  port = 9091', '[metrics]\n  port = 8000');
    const unknown = await runDoctor(project({ fly: mainPort }), FOOTPRINT);
    assert.deepEqual(ids(unknown, 'error'), []);
    const warn = finding(unknown, 'metrics-on-main-port');
    assert.equal(warn.severity, 'warning');
    assert.match(warn.message, /ADMIN_TOKEN.*401.*anyone on the internet can read \/metrics/);
    assert.match(warn.fix, /METRICS_PORT = "9091" in \[env\] and \[metrics\] port = 9091/);
    const secret = await runDoctor(project({ fly: mainPort }), { ...FOOTPRINT, secrets: ['ADMIN_TOKEN', 'API_KEYS'] });
    const locked = finding(secret, 'metrics-needs-token');
    assert.equal(locked.severity, 'error');
    assert.match(locked.message, /ADMIN_TOKEN is set \(in the secrets\).*401.*nothing is scraped/);
    assert.match(locked.fix, /METRICS_PORT = "9091"/);
    assert.ok(!ids(secret).includes('metrics-on-main-port'));
    // The old fly.toml layout, main port without METRICS_PORT, is no longer reported as a port mismatch.
    assert.ok(!ids(secret).includes('metrics-port-mismatch'));

    // METRICS_ENABLED=false: nothing to scrape on any port.
    const off = await runDoctor(
      project({ fly: (s) => s.replace('[env]', '[env]\n  METRICS_ENABLED = "false"') }),
      FOOTPRINT,
    );
    assert.match(finding(off, 'metrics-path-not-served').message, /METRICS_ENABLED=false/);
  });

  test('shell-form CMD through npm, no HEALTHCHECK, Alpine base', async () => {
    const r = await runDoctor(
      project({
        dockerfile: (s) =>
          s
            .replace('CMD ["node", "bin/msg-cls.js", "serve"]', 'CMD npm start')
            .replace(/HEALTHCHECK[^\n]*\\\n[^\n]*\n/, '')
            .replace(/FROM node:24-bookworm-slim\n/, 'FROM node:24-alpine\n'),
      }),
      FOOTPRINT,
    );
    for (const id of ['shell-form-cmd', 'no-healthcheck', 'base-image-musl']) finding(r, id);
  });
});

describe('msg-cls doctor command line', () => {
  test('exit 1 with the finding and its fix on errors; --json prints the report', async () => {
    const dir = project({ fly: (s) => s.replace('internal_port = 8000', 'internal_port = 8080') });
    const text = spawnCli(['doctor', dir, '--footprint-mb', '150']);
    const { code } = await text.exited;
    assert.equal(code, 1);
    const out = text.stdout.join('\n');
    assert.match(out, /ERROR +fly\.toml: \[http_service\] internal_port = 8080/);
    assert.match(out, /fix: set internal_port = 8000/);

    const json = spawnCli(['doctor', dir, '--json', '--footprint-mb', '150']);
    assert.equal((await json.exited).code, 1);
    const report = JSON.parse(json.stdout.join('\n')) as DoctorReport;
    assert.ok(report.summary.errors >= 1);
    assert.ok(report.findings.every((f) => f.fix && f.message && f.severity && f.id && f.file));
  });

  test("--secrets names the app's secrets: ADMIN_TOKEN with /metrics on the main port fails", async () => {
    const dir = project({
      fly: (s) =>
        s.replace(/^ {2}METRICS_PORT = "9091"\n/m, '').replace('[metrics]\n  port = 9091', '[metrics]\n  port = 8000'),
    });
    const warned = spawnCli(['doctor', dir, '--footprint-mb', '150']);
    assert.equal((await warned.exited).code, 0, warned.stdout.join('\n'));
    assert.match(warned.stdout.join('\n'), /WARNING +fly\.toml: \[metrics\] scrapes \/metrics on the main port/);
    const failed = spawnCli(['doctor', dir, '--footprint-mb', '150', '--secrets', 'API_KEYS, ADMIN_TOKEN']);
    assert.equal((await failed.exited).code, 1);
    assert.match(failed.stdout.join('\n'), /ERROR +fly\.toml: ADMIN_TOKEN is set \(in the secrets\)/);
  });

  test('exit 0 when only warnings; --strict makes warnings fail', async () => {
    const dir = project({
      fly: (s) =>
        s
          .replace('force_https = true', 'force_https = false')
          .replace('[metrics]\n  port = 9091\n  path = "/metrics"\n', ''),
    });
    const plain = spawnCli(['doctor', dir, '--footprint-mb', '150']);
    assert.equal((await plain.exited).code, 0, plain.stdout.join('\n'));
    assert.match(plain.stdout.join('\n'), /WARNING +fly\.toml: \[http_service\] force_https/);
    const strict = spawnCli(['doctor', dir, '--footprint-mb', '150', '--strict']);
    assert.equal((await strict.exited).code, 1);
  });

  test('--help, usage errors and a missing directory say what to do', async () => {
    const help = spawnCli(['doctor', '--help']);
    assert.equal((await help.exited).code, 0);
    assert.match(help.stdout.join('\n'), /Usage: msg-cls doctor \[DIR\]/);
    const bad = spawnCli(['doctor', '--footprint-mb', 'lots']);
    assert.equal((await bad.exited).code, 2);
    assert.match(bad.stderr.join(''), /--footprint-mb lots is not a positive number/);
    const missing = spawnCli(['doctor', '/nonexistent/dir']);
    assert.equal((await missing.exited).code, 2);
    assert.match(
      missing.stderr.join(''),
      /\/nonexistent\/dir is not a directory: give the directory that holds fly\.toml/,
    );
  });
});

test('project() copies really are independent of the repository files', () => {
  const dir = project({ fly: (s) => `${s}\n# edited\n` });
  assert.notEqual(readFileSync(join(dir, 'fly.toml'), 'utf8'), readFileSync(join(ROOT, 'fly.toml'), 'utf8'));
  unlinkSync(join(dir, 'fly.toml'));
  cpSync(join(ROOT, 'fly.toml'), join(dir, 'fly.toml'));
});
