// `msg-cls doctor [DIR]`: the lecture's "common deployment error checklist", automated. Reads fly.toml,
// the Dockerfile and .dockerignore in DIR into one context — with the environment the service will see
// there (Dockerfile ENV, then fly.toml [env]), the app configuration and routes that environment gives,
// the configured model measured under that same environment — and runs the rules (./rules/*.ts, pure
// functions of the context) over it. Errors are what breaks a deploy or the running service; warnings are
// what will hurt later; info is context.

import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { CONFIG_VARS, ConfigError, loadConfig } from '../config.ts';
import { buildApp } from '../http/app.ts';
import { createState } from '../http/state.ts';
import { RegistryError, resolveModel } from '../registry/local.ts';
import { createObservability } from '../server.ts';
import { collect, type DoctorContext, type Finding, isTable, type Rule, type Severity, type Table } from './context.ts';
import { finalStage, parseDockerfile, parseEnv } from './dockerfile.ts';
import { type Footprint, measureFootprint } from './measure.ts';
import { appRules } from './rules/app.ts';
import { dockerfileRules } from './rules/dockerfile.ts';
import { dockerignoreRules } from './rules/dockerignore.ts';
import { flyRules } from './rules/fly.ts';
import { flyMetricsRules } from './rules/fly-metrics.ts';
import { secretRules } from './rules/secrets.ts';

export type { Finding, Severity } from './context.ts';
export { parseDuration, parseMemoryMb } from './context.ts';
export { formatReport } from './report.ts';
export { HEADROOM, VM_OVERHEAD_MB } from './rules/fly.ts';

export const RULES: Rule[] = [appRules, secretRules, dockerfileRules, dockerignoreRules, flyRules, flyMetricsRules];

export type DoctorOptions = {
  /** Measure the configured model's start-up time and peak memory by running it (default true). */
  measure?: boolean;
  /** Use this peak RSS (MB) instead of measuring, e.g. from `npm run bench`. */
  footprintMb?: number;
  /** Model registry on this machine, when MODEL_REGISTRY in the deployment is not under DIR. */
  registry?: string;
  /** Names of the secrets set on the platform (`fly secrets list`); their values are never needed. */
  secrets?: string[];
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

/** Reads DIR into the rules' context (everything but the footprint, which is measured afterwards). */
async function readDeployment(
  dir: string,
): Promise<Omit<DoctorContext, 'serves' | 'footprint' | 'secretNames'> & { workdir: string }> {
  const flyText = await readOptional(join(dir, 'fly.toml'));
  let fly: Table | undefined;
  let flyError: string | undefined;
  if (flyText !== undefined) {
    try {
      fly = parseToml(flyText) as Table;
    } catch (err) {
      const e = err as Error & { line?: number };
      flyError = `fly.toml is not valid TOML${e.line ? ` (line ${e.line})` : ''}: ${e.message.split('\n')[0]}`;
    }
  }
  const build = isTable(fly?.build) ? fly.build : {};
  const dockerfileName = typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile';
  const dockerfileText = await readOptional(join(dir, dockerfileName));
  const df = dockerfileText === undefined ? undefined : parseDockerfile(dockerfileText);
  const ignoreName = typeof build.ignorefile === 'string' ? build.ignorefile : '.dockerignore';
  const ignoreText = await readOptional(join(dir, ignoreName));

  const env: Record<string, string> = {};
  const final = df ? finalStage(df) : [];
  let workdir = '/';
  for (const ins of final) {
    if (ins.keyword === 'ENV') Object.assign(env, parseEnv(ins.args));
    if (ins.keyword === 'WORKDIR') workdir = posix.resolve(workdir, ins.args.trim());
  }
  const flyEnv = isTable(fly?.env) ? fly.env : {};
  for (const [k, v] of Object.entries(flyEnv)) env[k] = String(v);

  let config: DoctorContext['config'];
  let configProblems: string[] = [];
  try {
    // MODEL_REGISTRY unset means ./models of the image's app directory, never this machine's bundled one.
    config = loadConfig({ MODEL_REGISTRY: './models', ...env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    configProblems = err.problems;
  }
  return {
    fly,
    flyPresent: flyText !== undefined,
    flyError,
    flyEnv,
    dockerfileName,
    df,
    final,
    ignoreName,
    ignoreText,
    env,
    config,
    configProblems,
    listenPort: config?.port,
    portSource:
      'PORT' in env ? `PORT=${env.PORT}` : `the default PORT ${CONFIG_VARS.find((v) => v.name === 'PORT')?.default}`,
    workdir,
  };
}

export async function runDoctor(dirArg: string, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const dir = resolve(dirArg);
  if (!(await exists(dir))) {
    throw new Error(`${dirArg} does not exist: give the directory that holds fly.toml and the Dockerfile`);
  }
  const { workdir, ...deployment } = await readDeployment(dir);
  const { config, env } = deployment;
  const { out: findings, add } = collect();

  // The routes the app really serves, built with the deployment's configuration: /metrics, for one,
  // exists only with METRICS_ENABLED=true.
  const appConfig = config ?? loadConfig({ MODEL_REGISTRY: './models' });
  const obs = await createObservability({ ...appConfig, logLevel: 'silent' }, { env: {} });
  const app = await buildApp({ config: appConfig, state: createState(), logs: obs.logs, metrics: obs.metrics });
  await app.ready();

  // The model and its footprint.
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
      const measured = await measureFootprint({ deploymentEnv: env, registry: registryHere });
      footprint = measured.footprint;
      for (const note of measured.notes) add('info', 'measured-differently', 'app', note.message, note.fix);
    } catch (err) {
      add(
        'error',
        'model-does-not-start',
        'app',
        `the service failed with the configured model: ${(err as Error).message}`,
        'run `msg-cls serve` with the same MODEL_* settings to see the full error',
      );
    }
  }

  const ctx: DoctorContext = {
    ...deployment,
    secretNames: opts.secrets ?? [],
    serves: (path) => app.hasRoute({ method: 'GET', url: path.split('?')[0] }),
    footprint,
  };
  for (const rule of RULES) findings.push(...rule(ctx));
  await app.close();

  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const order: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity]);
  return {
    dir,
    files: {
      fly_toml: deployment.flyPresent,
      dockerfile: deployment.df !== undefined,
      dockerignore: deployment.ignoreText !== undefined,
    },
    env,
    listen_port: deployment.listenPort,
    footprint,
    findings: findings as Finding[],
    summary: { errors: count('error'), warnings: count('warning'), infos: count('info') },
  };
}
