// OpenTelemetry traces, configured entirely by the standard OTEL_* environment variables.
//
// Off unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) — and then the SDK is not even loaded, so tracing costs nothing.
// When on: a server span per request (@fastify/otel; W3C traceparent from callers is honoured), a child
// span per inference, one for the model load, and the trace/span ids in the access log.
// Metrics stay on /metrics (Prometheus) and logs on stdout, so the SDK's own metric and log
// exporters are off unless OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for them.

import { context, type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import { SERVICE_NAME, SERVICE_VERSION } from '../version.ts';
import { anonymize } from './anonymize.ts';

export type Tracing = {
  tracer: Tracer;
  /** Fastify plugin creating the per-request server spans; register before the routes. */
  plugin: FastifyPluginCallback;
  /** Flushes pending spans; call on shutdown. */
  shutdown(): Promise<void>;
};

type Env = Record<string, string | undefined>;

export function tracingRequested(env: Env = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? '').toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export async function startTracing(env: Env = process.env): Promise<Tracing> {
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const [{ NodeSDK }, { FastifyOtelInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@fastify/otel'),
  ]);
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? SERVICE_NAME,
    resource: resourceFromAttributes({ 'service.version': SERVICE_VERSION }),
    instrumentations: [],
  });
  sdk.start();
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
    shutdown: () => sdk.shutdown(),
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
