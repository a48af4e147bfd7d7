// Retention: expired rows are deleted by the service itself, periodically and in small batches
// (RETENTION_BATCH rows per statement, the event loop and other writers get a turn in between), so
// that no run holds a long lock or blocks the loop. Per the log policy:
//   ML payload (the anonymised text)   RETENTION_PAYLOAD_DAYS     (default and maximum 14): set to NULL
//                                      (a row past RETENTION_PREDICTIONS_DAYS is deleted with its text)
//   prediction records (metadata)      RETENTION_PREDICTIONS_DAYS (default 90): deleted
//   feedback labels (by arrival)       RETENTION_FEEDBACK_DAYS    (default 90): deleted

import { setTimeout as sleep } from 'node:timers/promises';
import type { StoreHealth } from './health.ts';
import type { PurgeCounts, PurgeCutoffs, Store } from './types.ts';

export type RetentionOptions = {
  payloadDays: number;
  predictionsDays: number;
  feedbackDays: number;
  intervalS: number;
  batch: number;
};

export type RetentionRun = PurgeCounts & { batches: number };

export type Retention = {
  /** One full pass: batches until nothing expired is left (or stop() is called). */
  runOnce(now?: number): Promise<RetentionRun>;
  /** Runs now, then every intervalS seconds. */
  start(): void;
  /** Stops the timer and waits for a pass under way; nothing runs (nor reports to health) after. */
  stop(): Promise<void>;
};

const DAY_MS = 86_400_000;

export function cutoffs(opts: RetentionOptions, now: number): PurgeCutoffs {
  return {
    payloadBefore: now - opts.payloadDays * DAY_MS,
    predictionsBefore: now - opts.predictionsDays * DAY_MS,
    feedbackBefore: now - opts.feedbackDays * DAY_MS,
  };
}

export function createRetention(
  store: Store,
  health: StoreHealth,
  opts: RetentionOptions,
  events: {
    deleted?(kind: keyof PurgeCounts, rows: number): void;
    done?(run: RetentionRun): void;
    failed?(err: unknown): void;
  } = {},
): Retention {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let closed = false;
  let running: Promise<RetentionRun> | undefined;

  const pass = async (now: number): Promise<RetentionRun> => {
    const c = cutoffs(opts, now);
    const total: RetentionRun = { payload: 0, predictions: 0, feedback: 0, batches: 0 };
    for (;;) {
      const n = await store.purge(c, opts.batch);
      total.batches++;
      for (const kind of ['payload', 'predictions', 'feedback'] as const) {
        total[kind] += n[kind];
        if (n[kind] > 0) events.deleted?.(kind, n[kind]);
      }
      if (stopped || (n.payload < opts.batch && n.predictions < opts.batch && n.feedback < opts.batch)) break;
      await sleep(5);
    }
    return total;
  };

  const runOnce = (now = Date.now()) => {
    if (closed) return Promise.resolve({ payload: 0, predictions: 0, feedback: 0, batches: 0 });
    running ??= pass(now)
      .then(
        (run) => {
          if (!closed) health.ok();
          events.done?.(run);
          return run;
        },
        (err) => {
          // A pass cut short by shutdown (the store closed under it) is no failure of the store.
          if (!closed) {
            health.failed('retention', err);
            events.failed?.(err);
          }
          throw err;
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    runOnce,
    start() {
      stopped = false;
      const tick = () => {
        runOnce().catch(() => undefined);
      };
      tick();
      timer = setInterval(tick, opts.intervalS * 1000);
      timer.unref();
    },
    async stop() {
      stopped = true;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
