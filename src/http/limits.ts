// Overload protection: server timeouts and a connection cap (so slow or idle clients cannot pin
// connections and memory), and load shedding — 503 `overloaded` with Retry-After while the event loop
// lags, the heap is full or too many requests are in flight — so that the requests that are admitted
// keep a bounded latency and the probes stay fast.
//
// Why not @fastify/under-pressure (which does the event-loop and heap part): it refuses everything
// while a limit is passed (that policy refused 96 % of a load of twice the capacity in
// bench/overload.ts), has no in-flight limit, and its onRequest hook reads `request.routeOptions`,
// which builds a new frozen object on every request. Here the hot path is one hook that compares a
// flag computed by a timer and a counter; bench/hooks.ts prices both on the same route.

import type { ServerOptions } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import type { LimitsConfig } from '../config.ts';
import { sendError } from './errors.ts';

export const DEFAULT_LIMITS: LimitsConfig = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 4096,
  maxEventLoopDelayMs: 200,
  maxHeapMb: 160,
  maxInFlight: 512,
  retryAfterS: 1,
};

/** Routes that are never shed nor rate-limited: a probe that fails under load gets the instance killed. */
export const EXEMPT_ROUTES: ReadonlySet<string> = new Set(['/alive', '/ready', '/health', '/metrics']);

// How often the event-loop delay and the heap are sampled. Half a second reacts within a second to a
// burst without the sampling itself costing anything measurable.
const SAMPLE_MS = 500;
const RESOLUTION_MS = 10;
// Node checks header/request timeouts of open connections at this interval (its default is 30 s,
// which would let an idle connection live up to 30 s past HEADERS_TIMEOUT_MS).
const CONNECTIONS_CHECK_MS = 1000;

/** Options for node:http's createServer (passed through Fastify's `http` option). */
export function httpServerOptions(limits: LimitsConfig): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
  };
}

/**
 * Caps connections, and adds the shedding hook. `inFlight` counts requests being served (from the
 * instrumentation, which sees every request's end). Register after the instrumentation so that shed
 * requests are counted and logged like any other.
 */
export function limitLoad(
  app: FastifyInstance,
  limits: LimitsConfig,
  opts: { inFlight: () => number; registry?: Registry },
): void {
  if (limits.maxConnections > 0) app.server.maxConnections = limits.maxConnections;
  const dropped = opts.registry && connectionsDroppedCounter(opts.registry);
  if (dropped) app.server.on('drop', () => dropped.inc());

  const shed =
    opts.registry &&
    new Counter({
      name: 'msgcls_requests_shed_total',
      help: 'Requests refused with 503 overloaded, by the limit that was exceeded.',
      labelNames: ['limit'],
      registers: [opts.registry],
    });
  // Children made up front: shedding must cost as little as possible, it happens when nothing is spare.
  const shedBy = new Map(['event_loop_delay', 'heap', 'in_flight'].map((limit) => [limit, shed?.labels(limit)]));
  for (const child of shedBy.values()) child?.inc(0);

  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let eventLoopDelayMs = 0;
  // The limit exceeded at the last sample (event loop or heap); undefined when none is.
  let sampled: string | undefined;
  // While the event loop lags: the share of requests still admitted (limit / lag).
  let eventLoopAdmit = 1;
  const maxHeapBytes = limits.maxHeapMb * 1024 * 1024;
  const timer = setInterval(() => {
    // The histogram holds the intervals between timer ticks; the resolution is the expected part.
    const mean = histogram.count > 0 ? histogram.mean / 1e6 - RESOLUTION_MS : 0;
    eventLoopDelayMs = Math.max(0, mean);
    histogram.reset();
    const heapUsed = process.memoryUsage().heapUsed;
    if (maxHeapBytes > 0 && heapUsed > maxHeapBytes) sampled = 'heap';
    else if (limits.maxEventLoopDelayMs > 0 && eventLoopDelayMs > limits.maxEventLoopDelayMs) {
      sampled = 'event_loop_delay';
      eventLoopAdmit = limits.maxEventLoopDelayMs / eventLoopDelayMs;
    } else sampled = undefined;
  }, SAMPLE_MS);
  timer.unref();
  app.addHook('onClose', (_app, done) => {
    clearInterval(timer);
    histogram.disable();
    done();
  });

  const maxInFlight = limits.maxInFlight;
  const retryAfter = String(limits.retryAfterS);
  const describe: Record<string, string> = {
    event_loop_delay: `the event loop lags more than ${limits.maxEventLoopDelayMs} ms (OVERLOAD_MAX_EVENT_LOOP_DELAY_MS)`,
    heap: `the heap holds more than ${limits.maxHeapMb} MB (OVERLOAD_MAX_HEAP_MB)`,
    in_flight: `more than ${maxInFlight} requests are in flight (OVERLOAD_MAX_IN_FLIGHT)`,
  };
  // A lagging event loop is shed only while others wait too: other requests in flight, or others
  // that arrived in the same event-loop turn (under overload a turn reads hundreds of requests from
  // the sockets, each handled to its end before the next, so none of them is "in flight" at once).
  // A single client sending big batches one after the other makes the loop lag by its own batches,
  // and shedding it would help no one. Arrivals are counted only while the loop lags.
  let arrivals = 0;
  const newTurn = () => {
    arrivals = 0;
  };
  const overloaded = (): string | undefined => {
    const inFlight = opts.inFlight();
    if (sampled === 'event_loop_delay') {
      if (arrivals++ === 0) setImmediate(newTurn);
      // Shed a share that grows with the lag: half at twice the limit, 90 % at ten times. Shedding
      // everything while over the limit (as @fastify/under-pressure does) made the lag collapse and
      // return every half second, refusing 96 % of a load only twice the capacity (bench/overload.ts).
      if ((arrivals > 1 || inFlight > 1) && Math.random() >= eventLoopAdmit) return sampled;
    } else if (sampled === 'heap') return sampled;
    return maxInFlight > 0 && inFlight > maxInFlight ? 'in_flight' : undefined;
  };

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    const limit = overloaded();
    if (limit === undefined || EXEMPT_ROUTES.has(request.routeOptions.url ?? '')) return done();
    shedBy.get(limit)?.inc();
    reply.header('retry-after', retryAfter);
    sendError(
      request,
      reply,
      503,
      'overloaded',
      `the service is overloaded: ${describe[limit]}; retry after ${retryAfter} s, or spread the load over more instances`,
    );
  });
}

function connectionsDroppedCounter(registry: Registry): Counter {
  return new Counter({
    name: 'msgcls_connections_dropped_total',
    help: 'TCP connections closed at once because MAX_CONNECTIONS were open.',
    registers: [registry],
  });
}
