// The server lifecycle: resolve the model, listen, load and warm the model up, turn ready; and on
// stop, turn unready, drain in-flight requests and close within the shutdown deadline.

import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from './config.ts';
import { buildApp } from './http/app.ts';
import { createState, type LoadedModel, type ServiceState } from './http/state.ts';
import { loadClassifier } from './model/load.ts';
import { createLogs, type Logs } from './monitoring/logging.ts';
import { createMetrics, type Metrics } from './monitoring/metrics.ts';
import { startTracing, type Tracing, tracingRequested } from './monitoring/tracing.ts';
import { loadWithRetry } from './monitoring/watchdog.ts';
import { type ModelMonitoring, startModelMonitoring } from './quality/monitoring.ts';
import { createLocalRegistry } from './registry/local.ts';
import type { ModelRef } from './registry/types.ts';

/** The model could not be loaded (missing/corrupt artifact, unknown format). */
export class ModelLoadError extends Error {
  constructor(ref: ModelRef, cause: unknown) {
    super(`model ${ref.name} version ${ref.version} (${ref.dir}): ${(cause as Error)?.message ?? String(cause)}`, {
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
  /** Prediction log, feedback, online quality and drift. */
  monitoring: ModelMonitoring;
  /** The URL the server listens on, e.g. http://127.0.0.1:8000 */
  url: string;
  /** Turns unready, stops accepting connections, waits for in-flight requests (up to the deadline). */
  stop(reason: string): Promise<{ drained: boolean }>;
};

// Warm-up inputs: exercise the featurizer's paths (ASCII, Unicode, digits, URLs) before /ready says yes.
const WARM_UP_TEXTS = [
  'Buy cheap iPhone now!!! Visit http://example.com/offer?id=123',
  'Hi Anna, are we still on for lunch tomorrow at 12:30?',
  'Réunion déplacée à jeudi — merci de confirmer. 会议改到星期四。',
];

export async function loadModel(ref: ModelRef): Promise<LoadedModel> {
  return trace.getTracer('msg-cls').startActiveSpan('model.load', async (span) => {
    span.setAttributes({ 'model.name': ref.name, 'model.version': ref.version, 'model.alias': ref.alias ?? '' });
    try {
      const { classifier, manifest } = await loadClassifier(ref.dir);
      for (let i = 0; i < 200; i++) classifier.predict(WARM_UP_TEXTS[i % WARM_UP_TEXTS.length]);
      return { classifier, manifest, ref, loadedAt: new Date(), info: { name: ref.name, version: ref.version } };
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

export async function startServer(config: Config, obs: Observability): Promise<RunningServer> {
  const { logs, metrics } = obs;
  // Resolving first makes a wrong MODEL_NAME/MODEL_ALIAS/MODEL_REGISTRY fail before we listen.
  const registry = createLocalRegistry(config.registry);
  const ref = await registry.resolve(config.modelName, {
    alias: config.modelAlias,
    version: config.modelVersion,
  });
  const state = createState();
  // The store opens and migrates before we listen: a wrong STORE_URL fails the start; an unreachable
  // PostgreSQL does not (the store starts degraded and catches up).
  const monitoring = await startModelMonitoring(config, { logs, metrics });
  const app = await buildApp({ config, state, logs, metrics, tracing: obs.tracing, monitoring });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await monitoring.close(0);
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
  try {
    // Retried while WATCHDOG_MODEL_LOAD_TIMEOUT_MS lasts; then ModelUnloadableError (serve exits 70).
    state.model = await loadWithRetry(() => loadModel(ref), {
      timeoutMs: config.watchdogModelLoadTimeoutMs,
      logger: logs.exception,
      onRetry: (reason) => {
        metrics?.modelLoadFailed();
        state.reason = reason;
      },
    });
  } catch (err) {
    metrics?.modelLoadFailed();
    logs.exception.error({ err, model: { name: ref.name, version: ref.version } }, 'model load failed');
    await app.close();
    await monitoring.close(0);
    throw new ModelLoadError(ref, err);
  }
  monitoring.useModel(state.model);
  monitoring.start();
  metrics?.modelLoaded(state.model.info, {
    alias: ref.alias,
    loadedAt: state.model.loadedAt,
    labels: state.model.classifier.labels,
  });
  state.phase = 'ready';
  state.reason = '';
  logs.service.info(
    {
      model: { name: ref.name, version: ref.version, alias: ref.alias ?? null },
      load_ms: Math.round(performance.now() - started),
    },
    'model loaded; ready',
  );

  let stopping: Promise<{ drained: boolean }> | undefined;
  const stop = (reason: string): Promise<{ drained: boolean }> => {
    stopping ??= (async () => {
      state.phase = 'stopping';
      state.reason = reason;
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
      await obs.tracing?.shutdown().catch(() => undefined);
      return { drained };
    })();
    return stopping;
  };

  return { app, state, obs, monitoring, url: localUrl, stop };
}
