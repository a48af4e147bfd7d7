// The watchdog: makes the process exit (non-zero, after logging why) when the service cannot recover
// by itself, so that whatever supervises it restarts it. Health checks alone do not do that
// everywhere: Fly.io's checks only steer routing and never restart a Machine — only a process exit
// does (restart policy on-failure). Docker's HEALTHCHECK only reports. So the process must end itself.
//
// Two conditions:
//   1. The event loop is blocked beyond WATCHDOG_EVENT_LOOP_LIMIT_MS. A blocked main thread cannot time
//      itself, so a worker thread watches a heartbeat that the main thread writes into shared memory;
//      when the heartbeat is too old, the worker logs (with its own pino logger, synchronously) and
//      ends the process with exit code 70 (see ./watchdog-worker.js for how). A worker thread costs
//      about 13 MB RSS (measured: `msg-cls serve` 86 MB → 99 MB idle, Node 24).
//   2. The model cannot be loaded: loading is retried with backoff for WATCHDOG_MODEL_LOAD_TIMEOUT_MS
//      (/ready says why meanwhile), then `loadWithRetry` throws ModelUnloadableError and `serve`
//      logs it and exits with code 70.

import { hostname } from 'node:os';
import { Worker } from 'node:worker_threads';
import pino, { type Logger } from 'pino';
import type { Logs } from './logging.ts';

/** The exit status for "the watchdog ended the process" (EX_SOFTWARE from sysexits.h). */
export const WATCHDOG_EXIT_CODE = 70;

/** The main thread's exit hook, which the worker calls through the inspector when the loop is blocked. */
export const EXIT_HOOK = Symbol.for('msg-cls.watchdog.exit');

export type EventLoopWatchdogOptions = {
  /** Exit when no heartbeat arrived for this long beyond the heartbeat interval; 0 disables. */
  limitMs: number;
  /** How often the main thread beats (and the worker looks). Default: limitMs/10, within 20–1000 ms. */
  heartbeatMs?: number;
  /** Level for the worker's own logger (same format as the service's). */
  logLevel: string;
  /** How long the worker waits for the exit it asked for before it kills the process. Default 3000 ms. */
  forceAfterMs?: number;
};

export type EventLoopWatchdog = {
  /** Stops watching (e.g. on graceful shutdown). */
  stop(): Promise<void>;
};

export type WorkerData = {
  heartbeat: SharedArrayBuffer;
  /** The exception logger's fields (service, service_version, pid, hostname, log_type, retention_days). */
  bindings: Record<string, unknown>;
  limitMs: number;
  heartbeatMs: number;
  logLevel: string;
  forceAfterMs: number;
  exitCode: number;
};

/** Writes out the main logger's buffered lines synchronously (the only way from inside a stuck thread). */
function flushSync(logs: Logs): void {
  const stream = (logs.root as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[
    pino.symbols.streamSym
  ];
  try {
    stream?.flushSync?.();
  } catch {
    // stdout already gone: nothing left to do.
  }
}

export function startEventLoopWatchdog(opts: EventLoopWatchdogOptions, logs: Logs): EventLoopWatchdog {
  const logger = logs.service;
  if (opts.limitMs <= 0) {
    logger.info('event-loop watchdog off (WATCHDOG_EVENT_LOOP_LIMIT_MS=0)');
    return { stop: async () => {} };
  }
  const heartbeatMs = opts.heartbeatMs ?? Math.min(1000, Math.max(20, Math.round(opts.limitMs / 10)));
  const heartbeat = new SharedArrayBuffer(8);
  const beat = new BigInt64Array(heartbeat);
  const stamp = () => Atomics.store(beat, 0, process.hrtime.bigint());
  stamp();

  // Called on the main thread, from inside whatever is blocking it, by the worker's inspector session.
  (globalThis as Record<symbol, unknown>)[EXIT_HOOK] = (code: number) => {
    flushSync(logs);
    process.exit(code);
  };

  const workerData: WorkerData = {
    heartbeat,
    bindings: { pid: process.pid, hostname: hostname(), ...logs.exception.bindings() },
    limitMs: opts.limitMs,
    heartbeatMs,
    logLevel: opts.logLevel,
    forceAfterMs: opts.forceAfterMs ?? 3000,
    exitCode: WATCHDOG_EXIT_CODE,
  };
  const worker = new Worker(new URL('./watchdog-worker.js', import.meta.url), {
    workerData,
    stdout: false,
    stderr: false,
  });
  worker.unref();
  worker.on('error', (err) => {
    // The service keeps running without a watchdog rather than die because the watchdog did.
    logs.exception.error({ err }, 'event-loop watchdog failed; continuing without it');
  });
  const timer = setInterval(stamp, heartbeatMs);
  timer.unref();
  logger.info({ limit_ms: opts.limitMs, heartbeat_ms: heartbeatMs }, 'event-loop watchdog on');

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await worker.terminate();
      })();
      return stopped;
    },
  };
}

export class ModelUnloadableError extends Error {
  readonly attempts: number;
  readonly elapsedMs: number;
  constructor(attempts: number, elapsedMs: number, cause: unknown) {
    super(
      `the model could not be loaded in ${attempts} attempt(s) over ${Math.round(elapsedMs)} ms: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.name = 'ModelUnloadableError';
    this.attempts = attempts;
    this.elapsedMs = elapsedMs;
  }
}

export type RetryOptions = {
  /** Keep retrying until this much time has passed since the first attempt; 0 = one attempt only. */
  timeoutMs: number;
  /** Where failed attempts are logged (the exception log). */
  logger: Logger;
  /** Told why the load is being retried (the server shows it in /ready and /health). */
  onRetry?(reason: string): void;
  /** First backoff; doubles per attempt up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
};

/**
 * Runs `load` until it succeeds or `timeoutMs` has passed, waiting 0.5 s, 1 s, 2 s, … (at most 8 s)
 * between attempts. A transient failure (a registry volume mounted late, a flaky network) heals; one that
 * persists ends in ModelUnloadableError, which `serve` turns into a logged exit with code 70.
 */
export async function loadWithRetry<T>(load: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const t0 = performance.now();
  let delay = opts.initialDelayMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 8000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await load();
    } catch (err) {
      const elapsed = performance.now() - t0;
      const left = opts.timeoutMs - elapsed;
      if (left <= 0) throw new ModelUnloadableError(attempt, elapsed, err);
      const wait = Math.min(delay, left);
      const reason = `model load failed (attempt ${attempt}): ${(err as Error)?.message ?? String(err)}; retrying in ${Math.round(wait)} ms`;
      opts.logger.error({ err, attempt, retry_in_ms: Math.round(wait) }, reason);
      opts.onRetry?.(reason);
      await new Promise((resolve) => setTimeout(resolve, wait));
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}
