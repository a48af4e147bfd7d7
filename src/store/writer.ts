// The prediction log's write path: a bounded in-memory queue and one batched writer.
//
// The request path only appends a small record to the queue (enqueue: O(1), no I/O, never throws,
// never waits). Every STORE_FLUSH_MS the writer takes what is queued, in batches of STORE_BATCH_SIZE
// records, one transaction each, oldest first. When the queue is full, new records are dropped and
// counted (reason queue_full) — /predict is never slowed down or failed by the store.
//
// When a write fails the writer asks the store whether it is reachable at all:
//   - unreachable (down, restarting, network): the batch goes back to the front of the queue and the
//     writer retries with backoff (250 ms doubling to 5 s); the store is reported degraded; the queue
//     absorbs STORE_QUEUE_SIZE records, the rest are dropped and counted; writes resume by themselves;
//   - reachable: the batch itself was refused — it is dropped and counted (reason rejected), so that one
//     bad batch cannot block the log forever.
// On shutdown the queue is flushed within the shutdown deadline; what is left is counted (shutdown).

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { StoreHealth } from './health.ts';
import type { PredictionRecord, Store } from './types.ts';

export type DropReason = 'queue_full' | 'rejected' | 'shutdown';
export const DROP_REASONS: readonly DropReason[] = ['queue_full', 'rejected', 'shutdown'];

export type WriterEvents = {
  /** A batch was committed: how many records and how long the write took. */
  written?(records: number, seconds: number): void;
  dropped?(reason: DropReason, records: number): void;
  /** A write (or the migration before it) failed. */
  writeFailed?(err: unknown): void;
};

export type WriterOptions = { queueSize: number; batchSize: number; flushMs: number };

export type StoreWriter = {
  /** Queues a record; false when the queue was full and the record was dropped (and counted). */
  enqueue(record: PredictionRecord): boolean;
  /** Records waiting (the batch being written included). */
  depth(): number;
  readonly capacity: number;
  /** True when a record with this key is queued or being written. */
  isPending(requestId: string, index: number): boolean;
  /** Writes everything queued so far, now; false when that did not finish within `timeoutMs`. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Flushes within `timeoutMs`, then stops; records still queued are dropped and counted. */
  close(timeoutMs: number): Promise<{ flushed: boolean; dropped: number }>;
};

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;

export function createStoreWriter(
  store: Store,
  health: StoreHealth,
  opts: WriterOptions,
  events: WriterEvents = {},
  migrated = false,
): StoreWriter {
  let queue: PredictionRecord[] = [];
  let inFlight: readonly PredictionRecord[] = [];
  let timer: NodeJS.Timeout | undefined;
  let backoffMs = 0;
  let writing = false;
  let closed = false;
  let isMigrated = migrated;
  // Records leave in FIFO order, so "everything enqueued before X is settled" is a pair of counters.
  let enqueued = 0;
  let settled = 0;
  let waiters: { target: number; resolve: () => void }[] = [];

  const settle = (n: number) => {
    settled += n;
    if (waiters.length === 0) return;
    const still: typeof waiters = [];
    for (const w of waiters) {
      if (settled >= w.target) w.resolve();
      else still.push(w);
    }
    waiters = still;
  };

  const schedule = (ms: number) => {
    if (timer !== undefined || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      void pump();
    }, ms);
    timer.unref();
  };

  async function pump(): Promise<void> {
    if (writing) return;
    writing = true;
    try {
      while (queue.length > 0) {
        if (!isMigrated) {
          await store.migrate();
          isMigrated = true;
        }
        const batch = queue.length <= opts.batchSize ? queue : queue.slice(0, opts.batchSize);
        queue = batch === queue ? [] : queue.slice(opts.batchSize);
        inFlight = batch;
        const t0 = performance.now();
        try {
          await store.insertPredictions(batch);
        } catch (err) {
          inFlight = [];
          if (await reachable()) {
            // The store works but refused this batch: drop it rather than retry it forever.
            events.writeFailed?.(err);
            health.failed('write (batch refused)', err);
            events.dropped?.('rejected', batch.length);
            settle(batch.length);
            continue;
          }
          queue = batch.concat(queue);
          throw err;
        }
        inFlight = [];
        events.written?.(batch.length, (performance.now() - t0) / 1000);
        health.ok();
        backoffMs = 0;
        settle(batch.length);
        // node:sqlite is synchronous: let requests in between two batches.
        if (queue.length > 0) await yieldToLoop();
      }
    } catch (err) {
      events.writeFailed?.(err);
      health.failed(isMigrated ? 'write' : 'migrate', err);
      backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, backoffMs * 2));
    } finally {
      writing = false;
    }
    if (queue.length > 0) schedule(backoffMs > 0 ? backoffMs : opts.flushMs);
  }

  async function reachable(): Promise<boolean> {
    try {
      await store.ping();
      return true;
    } catch {
      return false;
    }
  }

  const flush = (timeoutMs: number): Promise<boolean> => {
    const target = enqueued;
    if (settled >= target) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const deadline = setTimeout(() => {
        waiters = waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = {
        target,
        resolve: () => {
          clearTimeout(deadline);
          resolve(true);
        },
      };
      waiters.push(waiter);
      // Now, not at the next tick of the timer (nor after the backoff).
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
      void pump();
    });
  };

  return {
    capacity: opts.queueSize,
    enqueue(record) {
      if (closed || queue.length >= opts.queueSize) {
        events.dropped?.(closed ? 'shutdown' : 'queue_full', 1);
        return false;
      }
      queue.push(record);
      enqueued++;
      if (!writing) schedule(opts.flushMs);
      return true;
    },
    depth() {
      return queue.length + inFlight.length;
    },
    isPending(requestId, index) {
      for (const list of [inFlight, queue]) {
        for (let i = 0; i < list.length; i++)
          if (list[i].requestId === requestId && list[i].index === index) return true;
      }
      return false;
    },
    flush,
    async close(timeoutMs) {
      const flushed = timeoutMs > 0 ? await flush(timeoutMs) : settled >= enqueued;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const left = queue.length;
      queue = [];
      if (left > 0) {
        events.dropped?.('shutdown', left);
        settle(left);
      }
      return { flushed, dropped: left };
    },
  };
}
