// `msg-cls doctor [DIR]`: the lecture's "common deployment error checklist", automated. Reads fly.toml,
// the Dockerfile and .dockerignore in DIR together with the app's own configuration (CONFIG_VARS, the
// routes the app really serves, the model registry), measures the configured model, and reports every
// problem with the fix. Errors are what breaks a deploy or the running service; warnings are what
// will hurt later; info is context.

import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { CONFIG_VARS, ConfigError, loadConfig } from '../config.ts';
import { buildApp } from '../http/app.ts';
import { createState } from '../http/state.ts';
import { RegistryError, resolveModel } from '../registry/local.ts';
import { createObservability } from '../server.ts';
import {
  type Dockerfile,
  execForm,
  finalStage,
  isIgnored,
  parseDockerfile,
  parseDockerignore,
  parseEnv,
  words,
} from './dockerfile.ts';
import { type Footprint, measureFootprint } from './measure.ts';

export type Severity = 'error' | 'warning' | 'info';

export type Finding = {
  id: string;
  severity: Severity;
  /** The file (relative to DIR) the finding is about, or "app" for the service's own config. */
  file: string;
  message: string;
  fix: string;
};

export type DoctorOptions = {
  /** Measure the configured model's start-up time and peak memory by running it (default true). */
  measure?: boolean;
  /** Use this peak RSS (MB) instead of measuring, e.g. from `npm run bench`. */
  footprintMb?: number;
  /** Model registry on this machine, when MODEL_REGISTRY in the deployment is not under DIR. */
  registry?: string;
};

export type DoctorReport = {
  dir: string;
  files: { fly_toml: boolean; dockerfile: boolean; dockerignore: boolean };
  /** The environment the service will see: Dockerfile ENV, then fly.toml [env]. */
  env: Record<string, string>;
  listen_port: number | undefined;
  footprint: Footprint | { peak_rss_mb: number; source: string } | undefined;
  findings: Finding[];
  summary: { errors: number; warnings: number; infos: number };
};

// Fly.io Machine presets (memory in MB) for `[[vm]] size`; `memory` overrides.
const FLY_VM_SIZES: Record<string, number> = {
  'shared-cpu-1x': 256,
  'shared-cpu-2x': 512,
  'shared-cpu-4x': 1024,
  'shared-cpu-8x': 2048,
  'performance-1x': 2048,
  'performance-2x': 4096,
  'performance-4x': 8192,
  'performance-8x': 16384,
  'performance-16x': 32768,
};
/** Memory of the guest kernel and Fly's init, outside our process — an allowance, not a measurement. */
export const VM_OVERHEAD_MB = 32;
/** Headroom over the measured peak for traffic beyond the measurement and heap growth. */
export const HEADROOM = 1.25;

const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)/i;
const SECRET_VALUE = [
  /^sk-[A-Za-z0-9_-]{16,}$/, // OpenAI-style keys
  /^gh[pousr]_[A-Za-z0-9]{20,}$/, // GitHub tokens
  /^AKIA[0-9A-Z]{16}$/, // AWS access key ids
  /^FlyV1 /, // Fly tokens
  /^xox[abprs]-/, // Slack tokens
  /:\/\/[^/\s:@]+:[^/\s@]+@/, // URLs with user:password@
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v);
const tables = (v: unknown): Table[] => (Array.isArray(v) ? v.filter(isTable) : isTable(v) ? [v] : []);

/** Fly durations: "15s", "1m30s", "500ms", or a bare number of `unit`s. */
export function parseDuration(v: unknown, unit: 'ms' | 's'): number | undefined {
  if (typeof v === 'number') return unit === 's' ? v * 1000 : v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * (unit === 's' ? 1000 : 1);
  let total = 0;
  let rest = s;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** Fly memory: 512 (MB), "512mb", "1gb", "2GB". */
export function parseMemoryMb(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(mb|m|gb|g|mib|gib)?\s*$/i.exec(v);
  if (!m) return undefined;
  const unit = (m[2] ?? 'mb').toLowerCase();
  return Number(m[1]) * (unit.startsWith('g') ? 1024 : 1);
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function runDoctor(dirArg: string, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const dir = resolve(dirArg);
  if (!(await exists(dir))) {
    throw new Error(`${dirArg} does not exist: give the directory that holds fly.toml and the Dockerfile`);
  }
  const findings: Finding[] = [];
  const add = (severity: Severity, id: string, file: string, message: string, fix: string) =>
    findings.push({ id, severity, file, message, fix });

  // --- read the files -------------------------------------------------------------------------
  const flyText = await readOptional(join(dir, 'fly.toml'));
  let fly: Table | undefined;
  if (flyText !== undefined) {
    try {
      fly = parseToml(flyText) as Table;
    } catch (err) {
      const e = err as Error & { line?: number };
      add(
        'error',
        'fly-toml-invalid',
        'fly.toml',
        `fly.toml is not valid TOML${e.line ? ` (line ${e.line})` : ''}: ${e.message.split('\n')[0]}`,
        'fix the syntax; `fly config validate` checks it too',
      );
    }
  }
  const build = isTable(fly?.build) ? fly.build : {};
  const dockerfileName = typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile';
  const dockerfileText = await readOptional(join(dir, dockerfileName));
  const df: Dockerfile | undefined = dockerfileText === undefined ? undefined : parseDockerfile(dockerfileText);
  const ignoreName = typeof build.ignorefile === 'string' ? build.ignorefile : '.dockerignore';
  const ignoreText = await readOptional(join(dir, ignoreName));

  if (flyText === undefined) {
    add(
      'info',
      'fly-toml-missing',
      'fly.toml',
      'no fly.toml: the Fly.io checks were skipped',
      "copy this project's fly.toml, then `fly launch --copy-config --no-deploy`",
    );
  }
  if (df === undefined && typeof build.image !== 'string') {
    add(
      'error',
      'dockerfile-missing',
      dockerfileName,
      `no ${dockerfileName}: nothing to build or deploy`,
      "copy this project's Dockerfile into DIR (or set [build] image in fly.toml)",
    );
  }

  // --- the environment the service will see --------------------------------------------------
  const env: Record<string, string> = {};
  const final = df ? finalStage(df) : [];
  let workdir = '/';
  for (const ins of final) {
    if (ins.keyword === 'ENV') Object.assign(env, parseEnv(ins.args));
    if (ins.keyword === 'WORKDIR') workdir = posix.resolve(workdir, ins.args.trim());
  }
  const flyEnv = isTable(fly?.env) ? fly.env : {};
  for (const [k, v] of Object.entries(flyEnv)) env[k] = String(v);

  let config: ReturnType<typeof loadConfig> | undefined;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) {
      add(
        'error',
        'app-config-invalid',
        flyEnv && Object.keys(flyEnv).length ? 'fly.toml' : dockerfileName,
        `the service would refuse to start: ${p}`,
        'correct the value in fly.toml [env] (or the Dockerfile ENV)',
      );
    }
  }
  const listenPort = config?.port;
  const portSource =
    'PORT' in env ? `PORT=${env.PORT}` : `the default PORT ${CONFIG_VARS.find((v) => v.name === 'PORT')?.default}`;

  // --- secrets ----------------------------------------------------------------------------------
  const secretLike = (name: string, value: string) =>
    (SECRET_NAME.test(name) && value.trim() !== '') || SECRET_VALUE.some((re) => re.test(value));
  for (const [k, v] of Object.entries(flyEnv)) {
    if (secretLike(k, String(v))) {
      add(
        'error',
        'secret-in-env',
        'fly.toml',
        `[env] ${k} looks like a secret: fly.toml is committed to git and shown by \`fly config show\``,
        `remove it from [env] and run \`fly secrets set ${k}=...\` (secrets reach the Machine as the same environment variable)`,
      );
    }
  }
  for (const ins of final.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
    const pairs =
      ins.keyword === 'ENV'
        ? parseEnv(ins.args)
        : Object.fromEntries(ins.args.split(/\s+/).map((a) => [a.split('=')[0], a.split('=').slice(1).join('=')]));
    for (const [k, v] of Object.entries(pairs)) {
      if (secretLike(k, v)) {
        add(
          'error',
          'secret-in-image',
          dockerfileName,
          `line ${ins.line}: ${ins.keyword} ${k} bakes a secret into the image, readable by anyone who can pull it`,
          'pass it at run time instead: `fly secrets set`, a Kubernetes Secret, ECS `secrets`, or an env file outside the image',
        );
      }
    }
  }

  // --- Dockerfile ------------------------------------------------------------------------------
  if (df) checkDockerfile(df, dockerfileName, env, listenPort, portSource, add);
  if (df && ignoreText === undefined) {
    add(
      'error',
      'dockerignore-missing',
      ignoreName,
      `no ${ignoreName}: the whole directory (node_modules, .git, local data, .env files) is sent to the build and may end up in the image`,
      `add a ${ignoreName} with at least: node_modules, .git, .env*, *.log, coverage (see this project's .dockerignore)`,
    );
  }
  if (df && ignoreText !== undefined) checkDockerignore(df, dockerfileName, ignoreName, ignoreText, add);

  // --- the routes the app really serves -------------------------------------------------------
  // Built with the deployment's configuration: /metrics, for one, exists only with METRICS_ENABLED=true.
  const appConfig = config ?? loadConfig({});
  const obs = await createObservability({ ...appConfig, logLevel: 'silent' }, { env: {} });
  const app = await buildApp({ config: appConfig, state: createState(), logs: obs.logs, metrics: obs.metrics });
  await app.ready();
  const serves = (path: string) => app.hasRoute({ method: 'GET', url: path.split('?')[0] });

  // --- the model and its footprint ------------------------------------------------------------
  let footprint: DoctorReport['footprint'];
  let registryHere: string | undefined;
  if (config) {
    const reg = opts.registry ?? config.registry;
    if (opts.registry !== undefined) registryHere = resolve(opts.registry);
    else if (!isAbsolute(reg)) registryHere = join(dir, reg);
    else if (reg.startsWith(`${workdir}/`) && workdir !== '/') registryHere = join(dir, reg.slice(workdir.length + 1));
    if (registryHere === undefined) {
      add(
        'info',
        'registry-not-local',
        'app',
        `MODEL_REGISTRY=${reg} is outside the image's app directory, so the model could not be checked here`,
        'pass --registry with a local copy of that registry to check and measure the model',
      );
    } else {
      try {
        await resolveModel(registryHere, config.modelName, { alias: config.modelAlias, version: config.modelVersion });
      } catch (err) {
        if (!(err instanceof RegistryError)) throw err;
        registryHere = undefined;
        add(
          'error',
          'model-not-found',
          'app',
          `the configured model cannot be resolved: ${err.message}`,
          'set MODEL_NAME / MODEL_ALIAS / MODEL_VERSION in fly.toml [env] to a model in the registry that the image contains',
        );
      }
    }
  }
  if (opts.footprintMb !== undefined) {
    footprint = { peak_rss_mb: opts.footprintMb, source: '--footprint-mb' };
  } else if (opts.measure !== false && config && registryHere !== undefined) {
    try {
      footprint = await measureFootprint({
        cwd: dir,
        env: {
          MODEL_REGISTRY: registryHere,
          MODEL_NAME: config.modelName,
          MODEL_ALIAS: config.modelAlias,
          ...(config.modelVersion ? { MODEL_VERSION: config.modelVersion } : {}),
        },
      });
    } catch (err) {
      add(
        'error',
        'model-does-not-start',
        'app',
        `the service did not start with the configured model: ${(err as Error).message}`,
        'run `msg-cls serve` with the same MODEL_* settings to see the full error',
      );
    }
  }

  if (fly) checkFly(fly, { env, config, listenPort, portSource, serves, footprint, df, dockerfileName }, add);
  await app.close();

  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const order: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity]);
  return {
    dir,
    files: { fly_toml: flyText !== undefined, dockerfile: df !== undefined, dockerignore: ignoreText !== undefined },
    env,
    listen_port: listenPort,
    footprint,
    findings,
    summary: { errors: count('error'), warnings: count('warning'), infos: count('info') },
  };
}

type Add = (severity: Severity, id: string, file: string, message: string, fix: string) => void;

function checkDockerfile(
  df: Dockerfile,
  name: string,
  env: Record<string, string>,
  listenPort: number | undefined,
  portSource: string,
  add: Add,
): void {
  const final = finalStage(df);
  if (df.stages.length === 0) {
    add(
      'error',
      'dockerfile-no-from',
      name,
      'the Dockerfile has no FROM instruction',
      'start it with e.g. `FROM node:24-bookworm-slim`',
    );
    return;
  }
  const base = df.stages[df.stages.length - 1];
  if (/alpine/i.test(base.image)) {
    add(
      'warning',
      'base-image-musl',
      name,
      `line ${base.line}: the runtime base ${base.image} uses musl; native modules such as onnxruntime-node ship glibc binaries`,
      'use node:24-bookworm-slim',
    );
  }
  if (df.stages.length === 1) {
    add(
      'info',
      'single-stage',
      name,
      'single-stage build: build tools and dev dependencies stay in the image',
      'build in one stage (npm ci, prune) and copy only the result into a slim runtime stage',
    );
  }
  const users = final.filter((i) => i.keyword === 'USER');
  const lastUser = users.at(-1);
  const user = lastUser?.args.trim().split(':')[0];
  if (lastUser === undefined || user === 'root' || user === '0') {
    add(
      'error',
      'runs-as-root',
      name,
      lastUser
        ? `line ${lastUser.line}: the container runs as root (USER ${lastUser.args.trim()})`
        : 'the container runs as root (no USER in the final stage)',
      'add `USER node` (uid 1000 in the official Node images; `USER 1000:1000` lets Kubernetes verify runAsNonRoot) after the last RUN',
    );
  }
  const exposed = final
    .filter((i) => i.keyword === 'EXPOSE')
    .flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.split('/')[0])))
    .filter((p) => Number.isFinite(p));
  if (exposed.length === 0) {
    add(
      'warning',
      'no-expose',
      name,
      'no EXPOSE: platforms that read it (fly launch, docker run -P) cannot guess the port',
      `add \`EXPOSE ${listenPort ?? 8000}\``,
    );
  } else if (listenPort !== undefined && !exposed.includes(listenPort)) {
    add(
      'error',
      'expose-mismatch',
      name,
      `EXPOSE ${exposed.join(' ')} but the app listens on ${listenPort} (${portSource}) → 502 Bad Gateway`,
      `set \`EXPOSE ${listenPort}\`, or PORT to ${exposed[0]} — both must be the same port`,
    );
  }
  const cmd = final.filter((i) => i.keyword === 'CMD').at(-1);
  const entry = final.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
  for (const ins of [entry, cmd]) {
    if (!ins) continue;
    const exec = execForm(ins.args);
    if (exec === undefined) {
      add(
        'warning',
        'shell-form-cmd',
        name,
        `line ${ins.line}: ${ins.keyword} in shell form runs under /bin/sh, which does not pass SIGTERM on: no graceful shutdown`,
        `use the exec form: ${ins.keyword} ["node", "bin/msg-cls.js", "serve"]`,
      );
    } else if (/^(npm|yarn|pnpm|npx)$/.test(exec[0] ?? '')) {
      add(
        'warning',
        'npm-cmd',
        name,
        `line ${ins.line}: ${ins.keyword} runs ${exec[0]}, which does not forward signals reliably and adds memory`,
        `run node directly: ${ins.keyword} ["node", "bin/msg-cls.js", "serve"]`,
      );
    }
  }
  if (!cmd && !entry) {
    add(
      'error',
      'no-cmd',
      name,
      "no CMD or ENTRYPOINT in the final stage: the container runs the base image's default (a Node REPL)",
      'add `CMD ["node", "bin/msg-cls.js", "serve"]`',
    );
  }
  if (!final.some((i) => i.keyword === 'HEALTHCHECK')) {
    add(
      'warning',
      'no-healthcheck',
      name,
      'no HEALTHCHECK: `docker ps` and compose cannot tell a hung service from a healthy one',
      'add `HEALTHCHECK CMD ["node", "deploy/healthcheck.js"]` (the slim image has no curl)',
    );
  }
  if (env.NODE_ENV !== 'production') {
    add('warning', 'node-env', name, 'NODE_ENV is not "production" in the image', 'add `ENV NODE_ENV=production`');
  }
}

function checkDockerignore(df: Dockerfile, dockerfileName: string, ignoreName: string, text: string, add: Add): void {
  const rules = parseDockerignore(text);
  for (const [path, why] of [
    [
      'node_modules',
      'host node_modules (with native binaries for your OS) are sent to the build and can overwrite the ones installed inside',
    ],
    ['.git', 'the git history is sent to every build (slow, and it may hold secrets)'],
    ['.env', '.env files with secrets can end up in the image'],
  ] as const) {
    if (!isIgnored(rules, path))
      add(
        'warning',
        `dockerignore-${path.replace('.', '')}`,
        ignoreName,
        `${ignoreName} does not exclude ${path}: ${why}`,
        `add a line \`${path === '.env' ? '.env*' : path}\``,
      );
  }
  const excludedDockerfile = isIgnored(rules, dockerfileName);
  if (excludedDockerfile && dockerfileName !== 'Dockerfile') {
    add(
      'error',
      'dockerignore-excludes-dockerfile',
      ignoreName,
      `line ${excludedDockerfile.line} (${excludedDockerfile.pattern}) excludes ${dockerfileName}, which fly deploy needs in the build context`,
      `remove that line or add \`!${dockerfileName}\``,
    );
  }
  for (const ins of df.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
    const { flags, rest } = words(ins.args);
    if (flags.from !== undefined) continue;
    for (const src of rest.slice(0, -1)) {
      if (/[*?[]/.test(src) || /^https?:/.test(src)) continue;
      const rule = isIgnored(rules, src);
      if (rule) {
        add(
          'error',
          'dockerignore-excludes-copied',
          ignoreName,
          `line ${rule.line} (${rule.negate ? '!' : ''}${rule.pattern}) excludes ${src}, which ${dockerfileName} line ${ins.line} copies: the build fails or the image lacks it`,
          `remove that line, or add \`!${src}\` after it`,
        );
      }
    }
  }
}

type FlyContext = {
  env: Record<string, string>;
  config: ReturnType<typeof loadConfig> | undefined;
  listenPort: number | undefined;
  portSource: string;
  serves(path: string): boolean;
  footprint: DoctorReport['footprint'];
  df: Dockerfile | undefined;
  dockerfileName: string;
};

function checkFly(fly: Table, ctx: FlyContext, add: Add): void {
  const F = 'fly.toml';
  if (typeof fly.app !== 'string' || fly.app === '') {
    add(
      'warning',
      'fly-no-app',
      F,
      'no `app` name',
      'set `app = "your-app-name"` (fly launch --copy-config asks for one)',
    );
  }
  const http = isTable(fly.http_service) ? fly.http_service : undefined;
  const services = tables(fly.services);
  if (!http && services.length === 0) {
    add(
      'error',
      'fly-no-service',
      F,
      'no [http_service] or [[services]]: the app gets no public address',
      'add an [http_service] with internal_port = the port the app listens on',
    );
  }

  // Port: Fly sets no PORT, so internal_port must be the port the app chooses itself.
  const listen = ctx.listenPort;
  const svcPorts: [string, unknown][] = [];
  if (http) svcPorts.push(['[http_service] internal_port', http.internal_port ?? 8080]);
  for (const [i, s] of services.entries())
    svcPorts.push([`[[services]] #${i + 1} internal_port`, s.internal_port ?? 8080]);
  for (const [what, port] of svcPorts) {
    if (listen !== undefined && Number(port) !== listen) {
      add(
        'error',
        'internal-port-mismatch',
        F,
        `${what} = ${port}${http && http.internal_port === undefined ? ' (the default)' : ''} but the app listens on ${listen} (${ctx.portSource}) → 502 Bad Gateway`,
        `set internal_port = ${listen} — or set PORT = "${port}" in [env] and EXPOSE ${port} in the Dockerfile; all three must agree`,
      );
    }
  }
  if (ctx.env.HOST && !['0.0.0.0', '::'].includes(ctx.env.HOST)) {
    add(
      'error',
      'host-not-public',
      F,
      `HOST=${ctx.env.HOST}: Fly's proxy, checks and metrics scraper reach the Machine over its network interface, not loopback`,
      'remove HOST from [env] (the default 0.0.0.0 is right in containers)',
    );
  }
  if (http && http.force_https !== true) {
    add(
      'warning',
      'no-force-https',
      F,
      '[http_service] force_https is not on: plain-HTTP requests are served',
      'set force_https = true',
    );
  }

  // Health checks: paths the app serves, ports it listens on, grace periods longer than start-up.
  type Check = { where: string; path?: string; port?: unknown; grace?: unknown; type?: unknown };
  const checks: Check[] = [];
  const push = (where: string, c: Table) => checks.push({ where, path: c.path as string, grace: c.grace_period });
  if (http) for (const [i, c] of tables(http.checks).entries()) push(`[[http_service.checks]] #${i + 1}`, c);
  for (const [si, s] of services.entries()) {
    for (const [i, c] of tables(s.http_checks).entries()) push(`[[services.http_checks]] #${si + 1}.${i + 1}`, c);
    for (const [i, c] of tables(s.checks).entries()) push(`[[services.checks]] #${si + 1}.${i + 1}`, c);
  }
  if (isTable(fly.checks)) {
    for (const [name, c] of Object.entries(fly.checks)) {
      if (!isTable(c)) continue;
      checks.push({
        where: `[checks.${name}]`,
        path: c.type === 'http' ? ((c.path as string) ?? '/') : undefined,
        port: c.port,
        grace: c.grace_period,
        type: c.type,
      });
    }
  }
  const routed = checks.filter((c) => !c.where.startsWith('[checks.'));
  if ((http || services.length) && routed.length === 0) {
    add(
      'warning',
      'no-service-checks',
      F,
      'no service health checks: Fly routes to a Machine whose model has not loaded, and a deploy does not wait for the new release to be healthy',
      'add [[http_service.checks]] with path = "/alive" (and one on "/ready"), interval = "15s", timeout = "5s"',
    );
  }
  for (const c of checks) {
    if (c.path !== undefined && !ctx.serves(c.path)) {
      add(
        'error',
        'check-path-not-served',
        F,
        `${c.where} checks GET ${c.path}, which the app does not serve (404): the check never passes and Fly routes no traffic`,
        'use path = "/alive" (liveness) or "/ready" (model loaded)',
      );
    }
    if (c.port !== undefined && listen !== undefined && Number(c.port) !== listen) {
      add(
        'error',
        'check-port-mismatch',
        F,
        `${c.where} port = ${c.port} but the app listens on ${listen}`,
        `set port = ${listen}`,
      );
    }
    const grace = parseDuration(c.grace, 'ms');
    const startup = ctx.footprint && 'startup_ms' in ctx.footprint ? ctx.footprint.startup_ms : undefined;
    if (startup !== undefined && (grace ?? 0) < startup * 2) {
      add(
        'warning',
        'grace-too-short',
        F,
        `${c.where} grace_period ${c.grace ?? 'unset (0)'} is less than twice the measured start-up (${startup} ms here; a shared-CPU Machine is slower)`,
        `set grace_period = "${Math.max(10, Math.ceil((startup * 4) / 1000))}s"`,
      );
    }
  }
  const machineChecks = http ? tables(http.machine_checks) : [];
  if (
    (http || services.length) &&
    machineChecks.length === 0 &&
    services.every((s) => tables(s.machine_checks).length === 0)
  ) {
    add(
      'info',
      'no-machine-checks',
      F,
      'no machine_checks: a release that starts but serves wrong answers is rolled out anyway',
      "add [[http_service.machine_checks]] that calls /ready and /predict on FLY_TEST_MACHINE_IP (see this project's fly.toml)",
    );
  }

  // Auto-stop with nothing left running = cold starts, or "no machines available".
  for (const [where, svc] of [
    ['[http_service]', http],
    ...services.map((s, i) => [`[[services]] #${i + 1}`, s] as const),
  ] as const) {
    if (!svc) continue;
    const stop = svc.auto_stop_machines;
    const stopping = stop === true || stop === 'stop' || stop === 'suspend';
    const min = Number(svc.min_machines_running ?? 0);
    if (stopping && svc.auto_start_machines === false) {
      add(
        'error',
        'autostop-no-autostart',
        F,
        `${where} auto_stop_machines = ${JSON.stringify(stop)} with auto_start_machines = false: once stopped, Machines never come back → "no machines available"`,
        'set auto_start_machines = true, or auto_stop_machines = "off"',
      );
    } else if (stopping && min < 1) {
      add(
        'error',
        'no-machine-running',
        F,
        `${where} auto_stop_machines = ${JSON.stringify(stop)} and min_machines_running = ${min}: when idle, no Machine is left running — the next request waits for a cold start (or fails with "no machines available" if start-up fails)`,
        'for a 24×7 service set min_machines_running = 1 (and `fly scale count 1` at least); or auto_stop_machines = "off"',
      );
    }
    const conc = isTable(svc.concurrency) ? svc.concurrency : undefined;
    if (conc) {
      const soft = Number(conc.soft_limit ?? 20);
      const hard = conc.hard_limit === undefined ? undefined : Number(conc.hard_limit);
      if (hard !== undefined && hard < soft) {
        add(
          'error',
          'concurrency-limits',
          F,
          `${where} concurrency hard_limit ${hard} < soft_limit ${soft}`,
          'make hard_limit ≥ soft_limit (see deploy/README.md for how ours were derived)',
        );
      }
      if (conc.type !== 'requests') {
        add(
          'info',
          'concurrency-connections',
          F,
          `${where} concurrency type is "${conc.type ?? 'connections'}": the proxy opens a connection per request and balances on connections`,
          'use type = "requests" for an HTTP API',
        );
      }
    }
  }

  // Shutdown: the signal we handle, and a timeout that covers the drain.
  const sig = fly.kill_signal ?? 'SIGINT';
  if (sig !== 'SIGINT' && sig !== 'SIGTERM') {
    add(
      'error',
      'kill-signal',
      F,
      `kill_signal = ${JSON.stringify(sig)}: the service drains in-flight requests only on SIGTERM or SIGINT`,
      'set kill_signal = "SIGTERM"',
    );
  }
  const killMs = parseDuration(fly.kill_timeout ?? 5, 's');
  if (ctx.config && killMs !== undefined && killMs < ctx.config.shutdownTimeoutMs + 1000) {
    add(
      'warning',
      'kill-timeout',
      F,
      `kill_timeout ${fly.kill_timeout ?? '5 (default)'} s is not above SHUTDOWN_TIMEOUT_MS=${ctx.config.shutdownTimeoutMs} + 1 s: Fly kills the Machine while requests are still draining`,
      `set kill_timeout = ${Math.ceil(ctx.config.shutdownTimeoutMs / 1000) + 5} (or lower SHUTDOWN_TIMEOUT_MS in [env])`,
    );
  }

  // Restarts: the watchdog exits non-zero; only a restart policy brings the Machine back.
  for (const r of tables(fly.restart)) {
    if (r.policy === 'never') {
      add(
        'error',
        'restart-never',
        F,
        '[[restart]] policy = "never": when the watchdog (or a crash) ends the process, the Machine stays stopped',
        'set policy = "on-failure" (or remove [[restart]]; on-failure is the default)',
      );
    }
  }
  const strategy = isTable(fly.deploy) ? fly.deploy.strategy : undefined;
  if (strategy === 'immediate') {
    add(
      'warning',
      'deploy-immediate',
      F,
      '[deploy] strategy = "immediate" replaces every Machine without waiting for health checks',
      'use strategy = "rolling" (or "bluegreen")',
    );
  }

  // Metrics: scraped from a path the app serves, on the port it listens on.
  const metrics = tables(fly.metrics);
  if (metrics.length === 0) {
    add(
      'info',
      'no-metrics',
      F,
      'no [metrics]: Fly does not scrape /metrics into its managed Prometheus',
      'add [metrics] port = <PORT>, path = "/metrics"',
    );
  }
  for (const m of metrics) {
    const path = typeof m.path === 'string' ? m.path : '/metrics';
    if (!ctx.serves(path)) {
      add(
        'error',
        'metrics-path-not-served',
        F,
        `[metrics] path ${path} is not served by the app (404): nothing is scraped`,
        path === '/metrics'
          ? 'this version of msg-cls has no /metrics route: upgrade it, or remove [metrics]'
          : 'set path = "/metrics"',
      );
    }
    if (listen !== undefined && m.port !== undefined && Number(m.port) !== listen) {
      add(
        'error',
        'metrics-port-mismatch',
        F,
        `[metrics] port = ${m.port} but the app listens on ${listen}`,
        `set port = ${listen}`,
      );
    }
  }

  // Memory: the VM must hold the measured footprint with headroom.
  const vms = tables(fly.vm);
  const vm = vms[0];
  let memMb: number | undefined;
  if (vm) {
    memMb =
      parseMemoryMb(vm.memory ?? vm.memory_mb) ??
      (typeof vm.size === 'string' ? FLY_VM_SIZES[vm.size] : undefined) ??
      256;
  } else {
    add(
      'info',
      'no-vm',
      F,
      'no [[vm]]: Machines get shared-cpu-1x with 256 MB, and `fly deploy` does not hold them to any size',
      'add [[vm]] with size and memory (see deploy/README.md)',
    );
    memMb = 256;
  }
  const fp = ctx.footprint;
  if (fp) {
    const need = Math.ceil(fp.peak_rss_mb + VM_OVERHEAD_MB);
    const want = Math.ceil(fp.peak_rss_mb * HEADROOM + VM_OVERHEAD_MB);
    if (memMb < need) {
      add(
        'error',
        'vm-memory-oom',
        F,
        `the VM has ${memMb} MB but the configured model peaks at ${fp.peak_rss_mb} MB RSS under load (+${VM_OVERHEAD_MB} MB for the guest kernel and init) → OOM kill`,
        `\`fly scale memory ${nextSize(want)}\` and set [[vm]] memory = "${nextSize(want)}mb" (or serve a smaller model)`,
      );
    } else if (memMb < want) {
      add(
        'warning',
        'vm-memory-headroom',
        F,
        `the VM has ${memMb} MB; the configured model peaks at ${fp.peak_rss_mb} MB RSS, which leaves less than ${Math.round((HEADROOM - 1) * 100)}% headroom`,
        `set [[vm]] memory = "${nextSize(want)}mb"`,
      );
    }
  }
}

function nextSize(mb: number): number {
  for (const s of [256, 512, 1024, 2048, 4096, 8192, 16384]) if (s >= mb) return s;
  return Math.ceil(mb / 1024) * 1024;
}

export function formatReport(r: DoctorReport): string {
  const out: string[] = [];
  const files = [
    r.files.fly_toml && 'fly.toml',
    r.files.dockerfile && 'Dockerfile',
    r.files.dockerignore && '.dockerignore',
  ].filter(Boolean);
  out.push(`msg-cls doctor: ${r.dir} (${files.join(', ') || 'no deployment files'})`);
  if (r.footprint && 'startup_ms' in r.footprint) {
    const f = r.footprint;
    out.push(
      `measured: ${f.model}: ready in ${f.startup_ms} ms, peak RSS ${f.peak_rss_mb} MB after ${f.requests} requests in ${f.load_ms / 1000} s`,
    );
  } else if (r.footprint) {
    out.push(`footprint: peak RSS ${r.footprint.peak_rss_mb} MB (${r.footprint.source})`);
  }
  out.push('');
  for (const f of r.findings) {
    out.push(`${f.severity.toUpperCase().padEnd(7)} ${f.file}: ${f.message}`);
    out.push(`        fix: ${f.fix}`);
  }
  if (r.findings.length === 0) out.push('no problems found');
  const s = r.summary;
  out.push('', `${s.errors} error(s), ${s.warnings} warning(s), ${s.infos} note(s)`);
  return `${out.join('\n')}\n`;
}
