// The event-loop watchdog's thread (started by ./watchdog.ts). Plain JavaScript on purpose: a worker
// that loads TypeScript also loads Node's type stripper, which measured +18 MB RSS on top of the ~17 MB
// a worker costs anyway — too much on a 256 MB VM for a thread that mostly sleeps.
//
// It reads the main thread's heartbeat from shared memory; when the heartbeat is older than the
// heartbeat interval + the limit (not counting time the whole process was frozen: ./watchdog-stall.js),
// the main thread is stuck, and this thread:
//   1. logs why, as one JSON line in the service's log format, with its own pino logger writing
//      synchronously (the main thread's logger cannot run);
//   2. asks the main thread to exit with code 70 through an in-process inspector session — V8 runs
//      inspector commands between JavaScript instructions, so this works inside a busy loop or a runaway
//      regular expression (Node then prints "Waiting for the debugger to disconnect..." on stderr);
//   3. if the process is still there after forceAfterMs (the main thread is stuck in native code that V8
//      cannot interrupt), kills it with SIGKILL. As PID 1 in a container the kernel ignores that signal
//      from inside, so run containers with an init (`docker run --init`, compose `init: true`).

import { Session } from 'node:inspector';
import { workerData } from 'node:worker_threads';
import { createStallDetector } from './watchdog-stall.js';

/** @type {import('./watchdog.ts').WorkerData} */
const data = workerData;
const beat = new BigInt64Array(data.heartbeat);
const checkMs = Math.max(10, Math.round(data.heartbeatMs / 2));
let fired = false;

const blockedFor = createStallDetector({
  heartbeatMs: data.heartbeatMs,
  checkMs,
  startNs: process.hrtime.bigint(),
  beatNs: Atomics.load(beat, 0),
});

const timer = setInterval(() => {
  if (fired) return;
  const blockedMs = blockedFor(process.hrtime.bigint(), Atomics.load(beat, 0));
  if (blockedMs > data.limitMs) {
    fired = true;
    clearInterval(timer);
    void fire(Math.round(blockedMs));
  }
}, checkMs);

async function fire(blockedMs) {
  const { default: pino } = await import('pino');
  // Same format as the service's exception log, src/monitoring/logging.ts (test/deploy/watchdog.test.ts
  // compares the two).
  const logger = pino(
    {
      level: data.logLevel,
      base: data.bindings,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: true }),
  );
  logger.fatal(
    {
      reason: 'event_loop_blocked',
      blocked_ms: blockedMs,
      limit_ms: data.limitMs,
      exit_code: data.exitCode,
    },
    `event loop blocked for ${blockedMs} ms (limit ${data.limitMs} ms, WATCHDOG_EVENT_LOOP_LIMIT_MS); exiting so the supervisor restarts the service`,
  );

  try {
    const session = new Session();
    session.connectToMainThread();
    session.post('Runtime.evaluate', {
      expression: `(globalThis[Symbol.for('msg-cls.watchdog.exit')] ?? process.exit)(${data.exitCode})`,
    });
  } catch (err) {
    logger.error({ err: String(err) }, 'could not reach the main thread to make it exit');
  }

  setTimeout(() => {
    if (process.pid === 1) {
      logger.fatal(
        'the main thread is stuck in native code and this process is PID 1, which cannot kill itself: run the container with an init (docker run --init, compose init: true) or rely on a liveness probe',
      );
      return;
    }
    logger.fatal('the main thread did not exit; sending SIGKILL');
    process.kill(process.pid, 'SIGKILL');
  }, data.forceAfterMs);
}
