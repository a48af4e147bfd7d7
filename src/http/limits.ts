// Overload protection: server timeouts and a connection cap (so slow or idle clients cannot pin
// connections and memory), and load shedding — 503 `overloaded` with Retry-After while the event loop
// lags, the heap is full or too many requests are in flight — so that the requests that are admitted
// keep a bounded latency and the probes stay fast.
//
// Why not @fastify/under-pressure (which does the event-loop and heap part): it has no in-flight
// limit, and its onRequest hook reads `request.routeOptions`, which builds a new frozen object on
// every request. Here the hot path is one hook that compares two numbers and a flag computed by a
// timer; bench/hooks.ts measures both on the same route (see the README, "Overload").

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

export type LoadShedder = {
  /** Which limit is exceeded right now, or undefined. */
  overloaded(): string | undefined;
  /** The last sampled values, for tests and /health-like views. */
  sample(): { eventLoopDelayMs: number; heapUsedMb: number; inFlight: number };
};

/**
 * Caps connections, and adds the shedding hook. `inFlight` counts requests being served (from the
 * instrumentation, which sees every request's end). Register after the instrumentation so that shed
 * requests are counted and logged like any other.
 */
export function limitLoad(
  app: FastifyInstance,
  limits: LimitsConfig,
  opts: { inFlight: () => number; registry?: Registry },
): LoadShedder {
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
  let heapUsedMb = 0;
  // The limit exceeded at the last sample (event loop or heap); undefined when none is.
  let sampled: string | undefined;
  const maxHeapBytes = limits.maxHeapMb * 1024 * 1024;
  const timer = setInterval(() => {
    // The histogram holds the intervals between timer ticks; the resolution is the expected part.
    const mean = histogram.count > 0 ? histogram.mean / 1e6 - RESOLUTION_MS : 0;
    eventLoopDelayMs = Math.max(0, mean);
    histogram.reset();
    const heapUsed = process.memoryUsage().heapUsed;
    heapUsedMb = heapUsed / (1024 * 1024);
    if (maxHeapBytes > 0 && heapUsed > maxHeapBytes) sampled = 'heap';
    else if (limits.maxEventLoopDelayMs > 0 && eventLoopDelayMs > limits.maxEventLoopDelayMs)
      sampled = 'event_loop_delay';
    else sampled = undefined;
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
  // A lagging event loop is shed only while others wait too (more than this request in flight): a
  // single client sending big batches one after the other makes the loop lag by the batch's own time,
  // but shedding it would help no one.
  const overloaded = (): string | undefined => {
    const inFlight = opts.inFlight();
    if (sampled === 'heap' || (sampled !== undefined && inFlight > 1)) return sampled;
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

  return {
    overloaded,
    sample: () => ({ eventLoopDelayMs, heapUsedMb, inFlight: opts.inFlight() }),
  };
}

function connectionsDroppedCounter(registry: Registry): Counter {
  return new Counter({
    name: 'msgcls_connections_dropped_total',
    help: 'TCP connections closed at once because MAX_CONNECTIONS were open.',
    registers: [registry],
  });
}
