// Per-request instrumentation: X-Request-Id echo, the HTTP golden-signal metrics and the access log.
//
// Everything is recorded from the response's 'close' event, which fires exactly once per request —
// after the response was sent, or when the client went away first (recorded as status 499, the
// de-facto code for "client closed request"). That keeps the active-requests gauge exact, and keeps
// the accounting off the request's own latency.

import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logs } from '../monitoring/logging.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import { requestSpanIds } from '../monitoring/tracing.ts';

const kReply = Symbol('msgcls.reply');
const kStart = Symbol('msgcls.start');
const kTrace = Symbol('msgcls.trace');

type TrackedResponse = ServerResponse & {
  [kReply]: FastifyReply;
  [kStart]: number;
  [kTrace]: { trace_id: string; span_id: string } | undefined;
};

export type InstrumentOptions = {
  metrics: Metrics | undefined;
  logs: Logs;
  tracing: boolean;
  /**
   * Access-log sampling (ACCESS_LOG_SAMPLE_RATE): the share of successful requests faster than
   * `slowMs` that get a line. Errors (status ≥ 400) and slow requests always do. Default: every request.
   */
  accessSample?: { rate: number; slowMs: number };
  /** The name of the API key a request was admitted with (src/http/access.ts), for the access line. */
  keyName?: (request: FastifyRequest) => string | undefined;
};

export type Instrumentation = {
  /** Requests received and not yet finished (answered or aborted). */
  inFlight(): number;
};

export const UNMATCHED_ROUTE = 'unmatched';

export function instrument(app: FastifyInstance, opts: InstrumentOptions): Instrumentation {
  const { metrics, logs, tracing, keyName } = opts;
  const accessLine = logs.accessLine;
  const sampleRate = opts.accessSample?.rate ?? 1;
  const slowSeconds = (opts.accessSample?.slowMs ?? 0) / 1000;
  let inFlight = 0;

  function onClose(this: TrackedResponse): void {
    inFlight--;
    try {
      record(this);
    } catch (err) {
      // Bookkeeping must never take the process down: an exception here would be uncaught.
      logs.exception.error({ err, request_id: this[kReply]?.request.id }, 'request instrumentation failed');
    }
  }

  function record(res: TrackedResponse): void {
    const reply = res[kReply];
    const request = reply.request;
    const seconds = (performance.now() - res[kStart]) / 1000;
    const status = res.writableFinished ? res.statusCode : 499;
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const reqBytes = Number(request.headers['content-length'] ?? -1);
    // Fastify keeps the headers it sends in the reply, not in the raw response.
    const resLength = reply.getHeader('content-length');
    const resBytes = resLength === undefined ? -1 : Number(resLength);
    metrics?.requestFinished(request.method, route, status, seconds, reqBytes, resBytes);
    // Sampling keeps what is worth reading: every error, every slow request, a share of the rest.
    if (accessLine && (sampleRate >= 1 || status >= 400 || seconds >= slowSeconds || Math.random() < sampleRate)) {
      const ids = res[kTrace];
      // The socket of an aborted request may be gone, and its address with it.
      const ip = request.ip;
      accessLine({
        method: request.method,
        route,
        status,
        latency_ms: Math.round(seconds * 1e6) / 1000,
        request_id: request.id,
        trace_id: ids?.trace_id,
        span_id: ids?.span_id,
        client_ip_hash: ip ? logs.hashIp(ip) : undefined,
        req_bytes: reqBytes >= 0 ? reqBytes : undefined,
        res_bytes: resBytes >= 0 ? resBytes : undefined,
        api_key: keyName?.(request),
      });
    }
  }

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    reply.header('x-request-id', request.id);
    const res = reply.raw as TrackedResponse;
    res[kReply] = reply;
    res[kStart] = performance.now();
    // The request span is ended (and forgotten) before 'close': take its ids now.
    res[kTrace] = tracing ? requestSpanIds(request) : undefined;
    res.on('close', onClose);
    inFlight++;
    metrics?.requestStarted();
    done();
  });

  if (metrics) {
    app.server.on('connection', (socket) => {
      metrics.connectionOpened();
      socket.once('close', () => metrics.connectionClosed());
    });
  }
  return { inFlight: () => inFlight };
}
