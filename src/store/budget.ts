// The store's size budget (STORE_MAX_MB): every BUDGET_INTERVAL_MS the store reports how many bytes
// its tables hold (live data: SQLite's pages in use, PostgreSQL's relation sizes less dead rows), and
// when that passes HIGH_WATER of the budget the oldest prediction records are deleted — oldest first,
// in RETENTION_BATCH batches — until about LOW_WATER of it is used. Feedback labels are not deleted
// here (retention expires them): they carry the prediction's time, model and label, so the quality
// windows never need a deleted prediction; the newest predictions, the ones labels are still coming
// for, go last. The last figures are kept for /health and the metrics (no query per scrape).

import { setTimeout as sleep } from 'node:timers/promises';
import type { StoreHealth } from './health.ts';
import type { Store, StoreUsage } from './types.ts';

export const HIGH_WATER = 0.9;
export const LOW_WATER = 0.75;
const BUDGET_INTERVAL_MS = 60_000;

export type BudgetOptions = { maxBytes: number; batch: number; intervalMs?: number };

export type BudgetRun = { bytes: number; deleted: number };

export type SizeBudget = {
  readonly maxBytes: number;
  /** The last measurement (undefined before the first). */
  latest(): StoreUsage | undefined;
  /** Measures, and deletes the oldest predictions when over HIGH_WATER. */
  check(): Promise<BudgetRun>;
  start(): void;
  stop(): Promise<void>;
};

export function createSizeBudget(
  store: Store,
  health: StoreHealth,
  opts: BudgetOptions,
  events: { deleted?(rows: number): void; overBudget?(usage: StoreUsage): void } = {},
): SizeBudget {
  let last: StoreUsage | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<BudgetRun> | undefined;
  let stopped = false;
  let sizeAfterDelete: number | undefined;

  const pass = async (): Promise<BudgetRun> => {
    let u = await store.usage();
    last = u;
    if (opts.maxBytes <= 0 || u.bytes <= opts.maxBytes * HIGH_WATER) return { bytes: u.bytes, deleted: 0 };
    // PostgreSQL's figures lag a deletion (dead rows show in its statistics some seconds later): when
    // the last pass deleted and the size has not moved since, wait for the figures rather than delete
    // again on stale ones.
    if (sizeAfterDelete !== undefined && u.bytes >= sizeAfterDelete) {
      sizeAfterDelete = undefined;
      return { bytes: u.bytes, deleted: 0 };
    }
    sizeAfterDelete = undefined;
    const perRow = u.bytes / Math.max(1, u.predictions);
    let toDelete = Math.ceil((u.bytes - opts.maxBytes * LOW_WATER) / perRow);
    let deleted = 0;
    while (toDelete > 0 && !stopped) {
      const n = await store.deleteOldest(Math.min(opts.batch, toDelete));
      deleted += n;
      toDelete -= n;
      if (n === 0) break;
      await sleep(1); // other work on the store gets a turn
    }
    if (deleted > 0) events.deleted?.(deleted);
    u = await store.usage();
    last = u;
    if (deleted > 0) sizeAfterDelete = u.bytes;
    if (u.bytes > opts.maxBytes * HIGH_WATER && deleted === 0) events.overBudget?.(u);
    return { bytes: u.bytes, deleted };
  };

  const check = () => {
    if (stopped) return Promise.resolve({ bytes: last?.bytes ?? 0, deleted: 0 });
    running ??= pass()
      .then(
        (run) => {
          if (!stopped) health.ok();
          return run;
        },
        (err) => {
          if (!stopped) health.failed('size budget', err);
          throw err;
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    maxBytes: opts.maxBytes,
    latest: () => last,
    check,
    start() {
      const tick = () => {
        check().catch(() => undefined);
      };
      tick();
      timer = setInterval(tick, opts.intervalMs ?? BUDGET_INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
