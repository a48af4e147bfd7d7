// OpenTelemetry traces, configured by the standard OTEL_* environment variables.
//
// Off unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) — and then the SDK is not even loaded, so tracing costs nothing.
// When on: a server span per request (@fastify/otel; W3C traceparent from callers is honoured), a child
// span per inference, one for the model load, and the trace/span ids in the access log.
//
// Built from the narrow packages (tracer provider, OTLP/HTTP exporters, resources, async-hooks context)
// rather than @opentelemetry/sdk-node, which pulls gRPC, protobufjs and eleven exporters for metrics and
// logs this service never sends: 56 runtime packages fewer (148 → 92 when this was measured).
// The variables sdk-node read that matter here are read below (SUPPORTED_ENV); traces only — metrics stay
// on /metrics (Prometheus), logs on stdout.

import { context, propagation, type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import { SERVICE_NAME, SERVICE_VERSION } from '../version.ts';
import { anonymize } from './anonymize.ts';

export type Tracing = {
  tracer: Tracer;
  /** Fastify plugin creating the per-request server spans; register before the routes. */
  plugin: FastifyPluginCallback;
  /** Flushes pending spans; call on shutdown. */
  shutdown(): Promise<void>;
  /** Settings that were ignored, each with what to do (logged at start). */
  warnings: string[];
};

type Env = Record<string, string | undefined>;

/** The OTEL_* variables msg-cls honours (README, Traces). The exporter reads the OTLP ones itself. */
export const SUPPORTED_ENV = [
  'OTEL_SDK_DISABLED',
  'OTEL_TRACES_EXPORTER (otlp or none)',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL / OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (http/protobuf or http/json)',
  'OTEL_EXPORTER_OTLP_HEADERS / _TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_TIMEOUT / _TRACES_TIMEOUT',
  'OTEL_EXPORTER_OTLP_COMPRESSION / _TRACES_COMPRESSION',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_BSP_EXPORT_TIMEOUT',
  'OTEL_PROPAGATORS (tracecontext, baggage)',
] as const;

export function tracingRequested(env: Env = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? '').toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export type TracingSettings = {
  protocol: 'http/protobuf' | 'http/json';
  sampler: { kind: 'always_on' | 'always_off' | 'traceidratio'; parentBased: boolean; ratio: number };
  batch: {
    scheduledDelayMillis?: number;
    maxQueueSize?: number;
    maxExportBatchSize?: number;
    exportTimeoutMillis?: number;
  };
  propagators: ('tracecontext' | 'baggage')[];
  warnings: string[];
};

/** Reads the OTEL_* variables the SDK itself no longer reads; what cannot be honoured becomes a warning. */
export function tracingSettings(env: Env): TracingSettings {
  const warnings: string[] = [];
  const lower = (name: string) => (env[name] ?? '').trim().toLowerCase();

  const exporter = lower('OTEL_TRACES_EXPORTER');
  if (exporter !== '' && exporter !== 'otlp')
    warnings.push(`OTEL_TRACES_EXPORTER=${exporter} is not supported: traces go to OTLP (otlp), or set none`);

  const protoVar = lower('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') || lower('OTEL_EXPORTER_OTLP_PROTOCOL');
  let protocol: TracingSettings['protocol'] = 'http/protobuf';
  if (protoVar === 'http/json') protocol = 'http/json';
  else if (protoVar !== '' && protoVar !== 'http/protobuf')
    warnings.push(
      `OTEL_EXPORTER_OTLP_PROTOCOL=${protoVar} is not supported (gRPC is left out to keep the service small): using http/protobuf; point the endpoint at the collector's OTLP/HTTP port (4318)`,
    );

  const samplerVar = lower('OTEL_TRACES_SAMPLER') || 'parentbased_always_on';
  const known = ['always_on', 'always_off', 'traceidratio'] as const;
  const base = samplerVar.replace(/^parentbased_/, '') as (typeof known)[number];
  let sampler: TracingSettings['sampler'] = { kind: 'always_on', parentBased: true, ratio: 1 };
  if (known.includes(base)) {
    let ratio = 1;
    if (base === 'traceidratio') {
      const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
      if (Number.isFinite(arg) && arg >= 0 && arg <= 1) ratio = arg;
      else warnings.push(`OTEL_TRACES_SAMPLER_ARG=${env.OTEL_TRACES_SAMPLER_ARG} is not a ratio in [0, 1]: using 1`);
    }
    sampler = { kind: base, parentBased: samplerVar.startsWith('parentbased_'), ratio };
  } else warnings.push(`OTEL_TRACES_SAMPLER=${samplerVar} is not supported: using parentbased_always_on`);

  const batch: TracingSettings['batch'] = {};
  const num = (name: string, key: keyof TracingSettings['batch']) => {
    const raw = env[name]?.trim();
    if (!raw) return;
    const n = Number(raw);
    if (Number.isInteger(n) && n > 0) batch[key] = n;
    else warnings.push(`${name}=${raw} is not a positive integer: using the default`);
  };
  num('OTEL_BSP_SCHEDULE_DELAY', 'scheduledDelayMillis');
  num('OTEL_BSP_MAX_QUEUE_SIZE', 'maxQueueSize');
  num('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'maxExportBatchSize');
  num('OTEL_BSP_EXPORT_TIMEOUT', 'exportTimeoutMillis');

  const propagators: TracingSettings['propagators'] = [];
  for (const p of (lower('OTEL_PROPAGATORS') || 'tracecontext,baggage').split(',').map((x) => x.trim())) {
    if (p === 'tracecontext' || p === 'baggage') propagators.push(p);
    else if (p !== 'none' && p !== '') warnings.push(`OTEL_PROPAGATORS: ${p} is not supported (tracecontext, baggage)`);
  }
  return { protocol, sampler, batch, propagators, warnings };
}

export async function startTracing(env: Env = process.env): Promise<Tracing> {
  const settings = tracingSettings(env);
  const [
    api,
    sdk,
    core,
    resources,
    { AsyncLocalStorageContextManager },
    exporterModule,
    { FastifyOtelInstrumentation },
  ] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/context-async-hooks'),
    settings.protocol === 'http/json'
      ? import('@opentelemetry/exporter-trace-otlp-http')
      : import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@fastify/otel'),
  ]);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) win over the defaults, as with sdk-node.
  const detected = resources.detectResources({ detectors: [resources.envDetector] });
  const resource = resources
    .resourceFromAttributes({ 'service.name': SERVICE_NAME, 'service.version': SERVICE_VERSION })
    .merge(detected);
  const { kind, parentBased, ratio } = settings.sampler;
  const root =
    kind === 'always_off'
      ? new sdk.AlwaysOffSampler()
      : kind === 'traceidratio'
        ? new sdk.TraceIdRatioBasedSampler(ratio)
        : new sdk.AlwaysOnSampler();
  const provider = new sdk.TracerProvider({
    resource,
    sampler: parentBased ? new sdk.ParentBasedSampler({ root }) : root,
    // The exporter reads OTEL_EXPORTER_OTLP_{,TRACES_}{ENDPOINT,HEADERS,TIMEOUT,COMPRESSION} itself.
    spanProcessors: [
      new sdk.BatchSpanProcessor({ exporter: new exporterModule.OTLPTraceExporter(), ...settings.batch }),
    ],
  });
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(
    new core.CompositePropagator({
      propagators: settings.propagators.map((p) =>
        p === 'tracecontext' ? new core.W3CTraceContextPropagator() : new core.W3CBaggagePropagator(),
      ),
    }),
  );
  api.trace.setGlobalTracerProvider(provider);
  const instrumentation = new FastifyOtelInstrumentation({
    ignorePaths: (opts) => opts.url.startsWith('/docs/static/'),
    // @fastify/otel records the raw URL; a query string or an unmatched path can carry personal data.
    requestHook: (span, request) => {
      span.setAttribute('url.path', anonymize(request.url.split('?', 1)[0]));
    },
  });
  return {
    tracer: trace.getTracer(SERVICE_NAME, SERVICE_VERSION),
    plugin: instrumentation.plugin() as FastifyPluginCallback,
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
    warnings: settings.warnings,
  };
}

/** Runs `fn` inside a child span of the current request's span. */
export function inSpan<T>(tracer: Tracer, name: string, attributes: Record<string, string | number>, fn: () => T): T {
  const span: Span = tracer.startSpan(name, { attributes }, context.active());
  try {
    return fn();
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}

/** Trace and span id of the request's server span, for the access log. */
export function requestSpanIds(request: FastifyRequest): { trace_id: string; span_id: string } | undefined {
  const otel = (request as { opentelemetry?: () => { span?: Span } }).opentelemetry?.();
  const ctx = otel?.span?.spanContext();
  return ctx ? { trace_id: ctx.traceId, span_id: ctx.spanId } : undefined;
}
