// Builds the Fastify application: routes, validation, request ids, errors, API docs.
// No listening and no model loading here (src/server.ts does that), so tests can build an app
// around any state.

import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type Config, loadConfig } from '../config.ts';
import { dashboardRoutes } from '../dashboard/routes.ts';
import { type Logs, safeError } from '../monitoring/logging.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import { createPredictionRecorder } from '../monitoring/predictions.ts';
import type { Tracing } from '../monitoring/tracing.ts';
import type { ModelMonitoring } from '../quality/monitoring.ts';
import { createDataPlane } from '../serving/dataplane.ts';
import { SERVICE_NAME, SERVICE_VERSION } from '../version.ts';
import { apiKeyName, DEFAULT_ACCESS, guardAccess } from './access.ts';
import { createClientErrorHandler, createConnectHandler } from './client-errors.ts';
import { decodeContentEncoding } from './content-encoding.ts';
import { HttpError, type Limits, parseJsonBody, sendError, shorten, toErrorResponse } from './errors.ts';
import { securityHeaders } from './headers.ts';
import { genRequestId, uuidV7 } from './ids.ts';
import { instrument, UNMATCHED_ROUTE } from './instrument.ts';
import { DEFAULT_LIMITS, httpServerOptions, limitLoad } from './limits.ts';
import { docsRoutes } from './openapi.ts';
import { adminRoutes, type ModelControl } from './routes/admin.ts';
import { feedbackRoutes } from './routes/feedback.ts';
import { healthRoutes } from './routes/health.ts';
import { monitoringRoutes } from './routes/monitoring.ts';
import { predictRoutes } from './routes/predict.ts';
import { createRolloutReporter, rolloutRoutes } from './routes/rollout.ts';
import { rootRoutes } from './routes/root.ts';
import { v2Routes } from './routes/v2.ts';
import { cachingCompilers } from './schema-cache.ts';
import type { ServiceState } from './state.ts';

export { genRequestId, uuidV7 } from './ids.ts';

export type AppOptions = {
  config: Pick<Config, 'maxBatch' | 'maxTextChars' | 'maxBodyBytes' | 'keepAliveTimeoutMs' | 'trustProxy'> &
    Partial<
      Pick<
        Config,
        | 'feedbackToken'
        | 'feedbackMaxBatch'
        | 'store'
        | 'adminToken'
        | 'watchdogEventLoopLimitMs'
        | 'dashboardEnabled'
        | 'rollout'
        | 'drift'
        | 'limits'
        | 'access'
        | 'accessLogSampleRate'
        | 'accessLogSlowMs'
      >
    >;
  state: ServiceState;
  logs: Logs;
  /** Prometheus metrics; /metrics is not served when absent (METRICS_ENABLED=false). */
  metrics?: Metrics;
  tracing?: Tracing;
  /** Prediction log, feedback, online quality and drift; /feedback and /monitoring answer 503 without it. */
  monitoring?: ModelMonitoring;
  /** Hot swap: POST /admin/reload and the reload state in /health (absent: no /admin/reload). */
  models?: ModelControl;
  /**
   * Where compiled validators and serializers are kept from one start to the next (./schema-cache.ts);
   * absent: Fastify compiles them at every start.
   */
  schemaCacheDir?: string;
};

// Unknown paths are quoted back only this far: a 10 kB path is not worth echoing.
const MAX_ECHOED_PATH = 200;
// These answer for themselves while draining: /ready and /health say "stopping", /alive stays 200.
const ANSWERS_WHILE_DRAINING = new Set(['/alive', '/ready', '/health', '/metrics']);

const versionSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    node: { type: 'string' },
    model: {
      type: 'object',
      properties: { name: { type: 'string' }, version: { type: 'string' }, alias: { type: ['string', 'null'] } },
    },
  },
} as const;

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config, state } = opts;
  const loadLimits = config.limits ?? DEFAULT_LIMITS;
  const access = config.access ?? DEFAULT_ACCESS;
  const limits: Limits = {
    maxBatch: config.maxBatch,
    maxTextChars: config.maxTextChars,
    maxBodyBytes: config.maxBodyBytes,
  };

  // Answers written on the raw socket (parser errors, CONNECT) still count and are logged.
  const rawHooks = {
    requestId: () => uuidV7(),
    answered(method: string, status: number, requestId: string) {
      opts.metrics?.requestStarted();
      opts.metrics?.requestFinished(method, UNMATCHED_ROUTE, status, 0, -1, -1);
      opts.logs.accessLine?.({ method, route: UNMATCHED_ROUTE, status, latency_ms: 0, request_id: requestId });
    },
  };

  const app = Fastify({
    // No Fastify logger: its per-request child loggers and lines cost time on the hot path, and the
    // service writes its own typed log lines (src/monitoring/logging.ts, src/http/instrument.ts).
    logger: false,
    genReqId: genRequestId,
    trustProxy: config.trustProxy,
    bodyLimit: config.maxBodyBytes,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Slow or stalled clients must not hold a connection forever (src/http/limits.ts).
    requestTimeout: loadLimits.requestTimeoutMs,
    forceCloseConnections: 'idle',
    // validateSchema: false skips compiling the JSON Schema meta-schema (~35 ms of start-up); our
    // schemas are static and exercised by the tests.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, validateSchema: false } },
    ...(opts.schemaCacheDir && { schemaController: { compilersFactory: cachingCompilers(opts.schemaCacheDir) } }),
    // Refused while draining by our own onRequest hook below (after the request id, metrics and
    // access log are set up), not by Fastify's fast path, which skips every hook.
    return503OnClosing: false,
    // A request without Host is answered by our hook in the documented shape; Node's own check
    // answers an empty 400.
    http: { ...httpServerOptions(loadLimits), requireHostHeader: false },
    clientErrorHandler: createClientErrorHandler(rawHooks),
    frameworkErrors: (err, request, reply) => {
      const { status, body } = toErrorResponse(err, limits, request);
      sendError(request, reply, status, body.error, body.detail);
    },
  });
  app.server.on('connect', createConnectHandler(rawHooks));

  // Only JSON is accepted; a text/plain body is a client mistake, not a string to classify.
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser (the same secure-json-parse call) replaces every failure with one
  // generic error; ours keeps what went wrong, so that a `__proto__` key is told apart from bad JSON.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);

  if (opts.tracing) await app.register(opts.tracing.plugin);
  const instrumentation = instrument(app, {
    metrics: opts.metrics,
    logs: opts.logs,
    tracing: opts.tracing !== undefined,
    accessSample: { rate: config.accessLogSampleRate ?? 1, slowMs: config.accessLogSlowMs ?? 1000 },
    keyName: apiKeyName,
  });
  // Overload and access (README, "Overload" and "Access and threat model"), in this order: headers on
  // every response, then shedding, then per-route guards (API keys, admin token, rate limit) and CORS.
  securityHeaders(app);
  limitLoad(app, loadLimits, { inFlight: instrumentation.inFlight, registry: opts.metrics?.registry });
  await guardAccess(app, { access, adminToken: config.adminToken, registry: opts.metrics?.registry });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, body } = toErrorResponse(err, limits, request);
    if (err instanceof HttpError) {
      // An expected refusal (store unavailable, not ready): a warning for whoever watches the service,
      // not an exception with a stack — that log feeds the alert for bugs.
      if (status >= 500) {
        opts.logs.service.warn(
          { request_id: request.id, route: request.routeOptions.url, status, error: body.error, detail: body.detail },
          'request refused: the service cannot serve it right now',
        );
      }
    } else if (status >= 500) {
      opts.logs.exception.error(
        { request_id: request.id, route: request.routeOptions.url, err: safeError(err, requestTexts(request.body)) },
        'unhandled error while serving a request',
      );
    }
    return sendError(request, reply, status, body.error, body.detail);
  });

  let draining = false;
  app.addHook('preClose', (done) => {
    draining = true;
    done();
  });
  const notFound = (request: FastifyRequest, reply: FastifyReply) => {
    const path = shorten(request.url.split('?', 1)[0], MAX_ECHOED_PATH);
    const allowed = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].filter(
      (method) =>
        method !== request.method && app.hasRoute({ method: method as 'GET', url: request.url.split('?', 1)[0] }),
    );
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendError(
        request,
        reply,
        405,
        'method_not_allowed',
        `${shorten(request.method, 20)} is not allowed on ${path}; use ${allowed.join(' or ')}`,
      );
    }
    return sendError(
      request,
      reply,
      404,
      'not_found',
      `there is no ${shorten(request.method, 20)} ${path}; see /docs for the API`,
    );
  };
  // Runs after instrument()'s hook, so every answer here has a request id, metrics and an access line.
  app.addHook('onRequest', (request, reply, done) => {
    if (draining && !ANSWERS_WHILE_DRAINING.has(request.routeOptions.url ?? '')) {
      reply.header('retry-after', '1');
      sendError(
        request,
        reply,
        503,
        'shutting_down',
        'this instance is shutting down: retry the request, another instance will answer',
      );
      return;
    }
    const raw = request.raw;
    if (raw.headers.host === undefined && raw.httpVersionMajor === 1 && raw.httpVersionMinor >= 1) {
      sendError(request, reply, 400, 'missing_host', 'an HTTP/1.1 request must have a Host header: send one');
      return;
    }
    // Unknown paths and methods are answered before any body is read or parsed: an undeclared method
    // such as QUERY gets 405, not a complaint about its missing Content-Type.
    if (request.is404) {
      notFound(request, reply);
      return;
    }
    done();
  });
  app.setNotFoundHandler(notFound);
  decodeContentEncoding(app, config.maxBodyBytes);

  docsRoutes(
    app,
    {
      title: SERVICE_NAME,
      version: SERVICE_VERSION,
      description:
        'Text classification service (spam/ham by default) with health checks and observability built in. Live dashboard: [/dashboard](/dashboard).',
    },
    () => state.model?.classifier.labels,
  );
  rootRoutes(app);

  // Registration order is the order in /docs: the prediction API first, then feedback and quality.
  const monitoring = opts.monitoring;
  const recorder = createPredictionRecorder({
    metrics: opts.metrics,
    logs: opts.logs,
    tracing: opts.tracing,
    sink: monitoring?.sink,
  });
  const rolloutConfig = config.rollout ?? loadConfig({}).rollout;
  const dataPlane = createDataPlane({
    state,
    recorder,
    rollout: rolloutConfig,
    logs: opts.logs,
    metrics: opts.metrics,
  });
  predictRoutes(app, dataPlane, config);
  v2Routes(app, dataPlane, config, opts.logs);
  const rolloutReport = createRolloutReporter(dataPlane, monitoring, rolloutConfig, config.drift);
  rolloutRoutes(app, rolloutReport);
  feedbackRoutes(app, state, monitoring, opts.logs, {
    maxBatch: config.feedbackMaxBatch ?? 1000,
    token: config.feedbackToken,
    flushMs: config.store?.flushMs ?? 200,
  });
  monitoringRoutes(app, monitoring, config.drift && { model: () => state.model, drift: config.drift });
  const models = opts.models;
  healthRoutes(app, state, monitoring && (() => monitoring.summary()), models && (() => models.status()));
  adminRoutes(app, state, opts.models, config.adminToken);
  app.get('/version', { schema: { summary: 'Service and model version', response: { 200: versionSchema } } }, () => ({
    name: SERVICE_NAME,
    version: SERVICE_VERSION,
    node: process.version,
    model: state.model && {
      name: state.model.ref.name,
      version: state.model.ref.version,
      alias: state.model.ref.alias ?? null,
    },
  }));

  if (config.dashboardEnabled !== false) {
    dashboardRoutes(app, {
      state,
      metrics: opts.metrics,
      monitoring,
      adminToken: config.adminToken,
      watchdogLimitMs: config.watchdogEventLoopLimitMs,
      // The rollout panel, while a second version takes part.
      rollout: () => {
        const slots = dataPlane.slots();
        return dataPlane.rollout.active(slots) ? rolloutReport() : undefined;
      },
    });
  }

  if (opts.metrics && access.metricsPort === 0) {
    const metrics = opts.metrics;
    app.get(
      '/metrics',
      { schema: { summary: 'Prometheus metrics (text exposition format)', produces: 'text/plain' } },
      async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()),
    );
  }

  return app;
}

/** The texts a request carried, so that an error message quoting them can be scrubbed before logging. */
function requestTexts(body: unknown): string[] {
  if (body === null || typeof body !== 'object') return [];
  const { text, texts } = body as { text?: unknown; texts?: unknown };
  const out: string[] = [];
  if (typeof text === 'string') out.push(text);
  if (Array.isArray(texts)) for (const t of texts) if (typeof t === 'string') out.push(t);
  return out;
}
