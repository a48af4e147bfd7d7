// The server lifecycle: resolve the model, listen, load and warm the model up, turn ready; and on
// stop, turn unready, drain in-flight requests and close within the shutdown deadline.

import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from './config.ts';
import { startMetricsServer } from './http/access.ts';
import { buildApp } from './http/app.ts';
import { schemaCacheDir } from './http/schema-cache.ts';
import { createState, type LoadedModel, type ServiceState } from './http/state.ts';
import { createModelSlot, type ModelSlot, type ReloadOutcome } from './model/slot.ts';
import { createLogs, type Logs } from './monitoring/logging.ts';
import { createMetrics, type Metrics } from './monitoring/metrics.ts';
import { startTracing, type Tracing, tracingRequested } from './monitoring/tracing.ts';
import { loadWithRetry } from './monitoring/watchdog.ts';
import { type ModelMonitoring, startModelMonitoring } from './quality/monitoring.ts';
import { recoverFromCache } from './registry/cache-recovery.ts';
import { RegistryError } from './registry/local.ts';
import { openRegistry } from './registry/open.ts';
import type { ModelRef, Registry } from './registry/types.ts';
import { createChallenger } from './rollout/challenger.ts';

/** The model could not be loaded (missing/corrupt artifact, unknown format, registry unreachable). */
export class ModelLoadError extends Error {
  constructor(ref: ModelRef | { name: string; version: undefined; dir: string }, cause: unknown) {
    const what =
      ref.version === undefined
        ? `model ${ref.name} from ${ref.dir}`
        : `model ${ref.name} version ${ref.version} (${ref.dir})`;
    super(`${what}: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.name = 'ModelLoadError';
  }
}

export type Observability = { logs: Logs; metrics: Metrics | undefined; tracing: Tracing | undefined };

export async function createObservability(
  config: Config,
  opts: { env?: Record<string, string | undefined>; destination?: DestinationStream } = {},
): Promise<Observability> {
  const env = opts.env ?? process.env;
  const logs = createLogs({
    level: config.logLevel,
    hashKey: config.logHashKey,
    payloadSampleRate: config.payloadSampleRate,
    payloadMaxChars: config.payloadMaxChars,
    businessSampleRate: config.businessLogSampleRate,
    destination: opts.destination,
  });
  const tracing = tracingRequested(env) ? await startTracing(env) : undefined;
  for (const warning of tracing?.warnings ?? []) logs.service.warn({ tracing: true }, warning);
  return {
    logs,
    metrics: config.metricsEnabled ? createMetrics({ droppedLogLines: logs.droppedLines }) : undefined,
    tracing,
  };
}

export type RunningServer = {
  app: FastifyInstance;
  state: ServiceState;
  obs: Observability;
  /** Where the model came from (local directory or MLflow); the hot swap polls it. */
  registry: Registry;
  /** Prediction log, feedback, online quality and drift. */
  monitoring: ModelMonitoring;
  /** The served model: follows MODEL_ALIAS and hot-swaps (src/model/slot.ts). */
  slot: ModelSlot;
  /** The URL the server listens on, e.g. http://127.0.0.1:8000 */
  url: string;
  /** Turns unready, stops accepting connections, waits for in-flight requests (up to the deadline). */
  stop(reason: string): Promise<{ drained: boolean }>;
};

// Loading, warming up and validating a version lives with the hot-swap slot; re-exported for the CLI.
export { loadModel } from './model/slot.ts';

/** How long the start waits for the registry before it listens anyway (and keeps waiting, unready). */
const FIRST_RESOLVE_WAIT_MS = 3000;

export async function startServer(config: Config, obs: Observability): Promise<RunningServer> {
  const { logs, metrics } = obs;
  // The store opens and migrates in the background (SQLite: its worker thread boots on another core)
  // while the registry is read and the app is built; it is awaited before we listen, so a wrong
  // STORE_URL still fails the start before listening, and an unreachable PostgreSQL still does not
  // (the store starts degraded and catches up).
  const monitoring = startModelMonitoring(config, { logs, metrics });
  try {
    return await startServing(config, obs, monitoring);
  } catch (err) {
    await monitoring.close(0);
    throw err;
  }
}

async function startServing(
  config: Config,
  obs: Observability,
  monitoring: ReturnType<typeof startModelMonitoring>,
): Promise<RunningServer> {
  const { logs, metrics } = obs;
  // Resolving first makes a wrong MODEL_NAME/MODEL_ALIAS/MODEL_REGISTRY (or MLflow credentials) fail
  // before we listen. An unreachable MLflow with nothing cached for the alias is retried below, within
  // WATCHDOG_MODEL_LOAD_TIMEOUT_MS, like a model that fails to load.
  const registry = await openRegistry(config, (level, fields, msg) => logs.service[level](fields, msg));
  const selector = { alias: config.modelAlias, version: config.modelVersion };
  const resolve = () => registry.resolve(config.modelName, selector);
  let ref: ModelRef | undefined;
  // A registry that does not answer (a black hole, not a refusal) must not keep us from listening:
  // /alive answers and /ready says why while the first attempt goes on in the background.
  let pending: Promise<ModelRef> | undefined = resolve();
  const early = await Promise.race([
    pending.then(
      (found) => ({ found }),
      (err: unknown) => ({ err }),
    ),
    new Promise<undefined>((r) => setTimeout(() => r(undefined), FIRST_RESOLVE_WAIT_MS).unref()),
  ]);
  const state = createState();
  if (early === undefined) {
    state.reason = `waiting for the model registry ${registry.location}`;
  } else if ('found' in early) {
    ref = early.found;
  } else {
    if (!(early.err instanceof RegistryError && early.err.code === 'unavailable')) throw early.err;
    state.reason = early.err.message;
    pending = undefined;
  }
  const slot = createModelSlot({
    registry,
    name: config.modelName,
    selector,
    role: 'champion',
    pollSeconds: config.modelPollSeconds,
  });
  followSlot(slot, { state, monitoring, obs });
  const challengerAlias = config.rollout.challengerAlias;
  const challenger =
    challengerAlias === undefined
      ? undefined
      : createChallenger({
          config: { ...config.rollout, challengerAlias },
          registry,
          name: config.modelName,
          pollSeconds: config.modelPollSeconds,
          state,
          monitoring,
          logs,
          metrics,
        });
  const app = await buildApp({
    config,
    state,
    logs,
    metrics,
    tracing: obs.tracing,
    monitoring,
    schemaCacheDir: schemaCacheDir(),
    models: {
      async reload() {
        const outcome = await slot.reload('admin');
        await challenger?.check('admin');
        return outcome;
      },
      status: () => (challenger ? [slot.status(), challenger.status()] : [slot.status()]),
    },
  });
  try {
    // Compiles the routes (schemas, serializers) while the store may still be opening.
    await app.ready();
    await monitoring.opened;
    await app.listen({ port: config.port, host: config.host });
    // /metrics on its own internal port (METRICS_PORT); it closes with the app's server.
    if (metrics && config.access.metricsPort > 0) {
      await startMetricsServer(app, metrics, config.access.metricsPort, config.host);
    }
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const localUrl = `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${port}`;
  logs.service.info(
    { host: config.host, port, tracing: obs.tracing !== undefined, metrics: metrics !== undefined },
    'listening',
  );

  const started = performance.now();
  let first: LoadedModel;
  try {
    // Retried while WATCHDOG_MODEL_LOAD_TIMEOUT_MS lasts; then ModelUnloadableError (serve exits 70).
    first = await loadWithRetry(
      async () => {
        if (ref === undefined) {
          const attempt = pending ?? resolve();
          pending = undefined;
          ref = await attempt;
        }
        return slot.load(ref);
      },
      {
        timeoutMs: config.watchdogModelLoadTimeoutMs,
        logger: logs.exception,
        onRetry: (reason) => {
          metrics?.modelLoadFailed();
          state.reason = reason;
        },
      },
    );
  } catch (err) {
    metrics?.modelLoadFailed();
    logs.exception.error({ err, model: { name: config.modelName, version: ref?.version } }, 'model load failed');
    await app.close();
    throw new ModelLoadError(ref ?? { name: config.modelName, version: undefined, dir: registry.location }, err);
  }
  ref = first.ref;
  let recovery: { stop(): void } | undefined;
  if (ref.origin === 'cache') {
    logs.service.warn(
      {
        model: { name: ref.name, version: ref.version, alias: ref.alias ?? null },
        origin: 'cache',
        reason: ref.originReason,
      },
      'serving a cached model version: the registry is unreachable',
    );
    recovery = recoverFromCache({
      registry,
      name: config.modelName,
      selector,
      current: () => slot.current()?.ref,
      log: (level, fields, msg) => logs.service[level](fields, msg),
    });
  }
  slot.install(first, 'start');
  // The challenger loads before /ready says yes, so that a rollout starts with both versions; a
  // challenger that is missing or fails to load does not stop the service (the champion serves).
  await challenger?.check('start');
  monitoring.start();
  state.phase = 'ready';
  state.reason = '';
  logs.service.info(
    {
      model: { name: ref.name, version: ref.version, alias: ref.alias ?? null },
      registry: { kind: registry.kind, location: registry.location },
      origin: ref.origin ?? 'registry',
      load_ms: Math.round(performance.now() - started),
      poll_seconds: slot.status().poll_seconds,
    },
    'model loaded; ready',
  );
  slot.startPolling();
  challenger?.start();

  let stopping: Promise<{ drained: boolean }> | undefined;
  const stop = (reason: string): Promise<{ drained: boolean }> => {
    stopping ??= (async () => {
      state.phase = 'stopping';
      state.reason = reason;
      recovery?.stop();
      // No swap from now on; a check still running is not waited for (a slow registry must not hold
      // up the shutdown), and what it loads is released rather than installed.
      void slot.stop();
      void challenger?.stop();
      logs.service.info({ reason, timeout_ms: config.shutdownTimeoutMs }, 'shutting down: draining in-flight requests');
      const stopAt = performance.now() + config.shutdownTimeoutMs;
      if (config.shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, stopAt - performance.now()));
      });
      const drained = await Promise.race([app.close().then(() => true), deadline]);
      clearTimeout(timer);
      if (!drained) {
        app.server.closeAllConnections();
        logs.service.warn(
          { timeout_ms: config.shutdownTimeoutMs },
          'shutdown deadline reached; closed remaining connections',
        );
      }
      // No request can add a prediction record now: write the queue out within what is left of the deadline.
      await monitoring.close(Math.max(0, stopAt - performance.now()));
      // Exporting the last spans must not hold the exit past the deadline either (at least 1 s to try).
      await Promise.race([
        obs.tracing?.shutdown().catch(() => undefined),
        sleep(Math.max(1000, stopAt - performance.now()), undefined, { ref: false }),
      ]);
      return { drained };
    })();
    return stopping;
  };

  return { app, state, obs, registry, monitoring, slot, url: localUrl, stop };
}

/**
 * Wires the champion slot to the rest of the service: the routes serve what it installs (in the same
 * tick as the swap), and metrics, drift and logs switch to the new version.
 */
function followSlot(
  slot: ModelSlot,
  ctx: { state: ServiceState; monitoring: ModelMonitoring; obs: Observability },
): void {
  const { state, monitoring, obs } = ctx;
  const { logs, metrics } = obs;
  const versionOf = (o: ReloadOutcome) => ('model' in o && o.model ? o.model.version : null);
  slot.on({
    swapped(to, from, outcome) {
      state.model = to;
      monitoring.useModel(to);
      metrics?.modelLoaded(to.info, {
        alias: to.ref.alias,
        loadedAt: to.loadedAt,
        labels: to.classifier.labels,
        role: slot.role,
      });
      if (from === undefined) return;
      metrics?.modelReloaded(slot.role);
      logs.service.info(
        {
          role: slot.role,
          trigger: outcome.trigger,
          from: { version: from.ref.version },
          model: { name: to.ref.name, version: to.ref.version, alias: to.ref.alias ?? null },
          load_ms: outcome.load_ms,
        },
        `model swapped: version ${from.ref.version} → ${to.ref.version}`,
      );
    },
    failed(outcome, err) {
      metrics?.modelReloadFailed(slot.role);
      // The registry answered with a version that would not load: that is a failed model load too.
      if (outcome.target !== null) metrics?.modelLoadFailed();
      logs.exception.error(
        {
          err,
          role: slot.role,
          trigger: outcome.trigger,
          target_version: outcome.target,
          serving_version: versionOf(outcome),
        },
        'model reload failed; the version being served keeps serving',
      );
    },
    released(model, err) {
      if (err) logs.exception.error({ err, model: model.info }, 'releasing a swapped-out model failed');
      else logs.service.debug({ model: model.info }, 'swapped-out model released');
    },
  });
}
