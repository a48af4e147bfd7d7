// The prediction log's write path: a bounded in-memory queue and a batched writer.
//
// The request path only appends a record to the queue (enqueue: O(1), no I/O, never throws, never
// waits). Records are copied into columnar chunks of STORE_BATCH_SIZE (one Float64Array and one
// string array each — see PredictionBatch), so a queued record is no object of its own and a full
// chunk is one message to the SQLite worker or one INSERT to PostgreSQL. A chunk is written as soon as
// it is full, a partial one after STORE_FLUSH_MS; up to `concurrency` chunks are in flight at once
// (PostgreSQL: one per pooled connection; SQLite: the next is queued in the worker while one commits).
// When the queue is full while the store works, /predict waits (room(): up to STORE_QUEUE_WAIT_MS) for
// the writer to make room — the writer, not the queue, sets the pace, and no record is dropped because
// the traffic outran it for a moment. When the store fails, or the wait runs out, new records are
// dropped and counted (reason queue_full), and the store is reported degraded while that goes on and
// for a while after; /predict is never failed by the store.
//
// When a write fails the writer asks the store whether it is reachable at all:
//   - unreachable (down, restarting, network): the chunk goes back to the front of the queue and the
//     writer retries with backoff (250 ms doubling to 5 s); the store is reported degraded; the queue
//     absorbs STORE_QUEUE_SIZE records, the rest are dropped and counted; writes resume by themselves;
//   - reachable: the chunk itself was refused — it is dropped and counted (reason rejected), so that
//     one bad chunk cannot block the log forever.
// On shutdown the queue is flushed within the shutdown deadline; what is left is counted (shutdown),
// and so is a chunk whose write fails after close (it is not queued again).

import type { StoreHealth } from './health.ts';
import {
  appendRecord,
  emptyBatch,
  NUM_COLS,
  type PredictionBatch,
  type PredictionRecord,
  STR_COLS,
  type Store,
  trimBatch,
} from './types.ts';

export type DropReason = 'queue_full' | 'rejected' | 'shutdown';
export const DROP_REASONS: readonly DropReason[] = ['queue_full', 'rejected', 'shutdown'];

export type WriterEvents = {
  /** A chunk was committed: how many records were written and how long the write took. */
  written?(records: number, seconds: number): void;
  dropped?(reason: DropReason, records: number): void;
  /** A write (or the migration before it) failed. */
  writeFailed?(err: unknown): void;
};

export type WriterOptions = {
  queueSize: number;
  /** Longest a request waits for room in a full queue (0: never waits, records are dropped). */
  maxWaitMs?: number;
  batchSize: number;
  flushMs: number;
  /** Chunks written at once (default 1). */
  concurrency?: number;
};

export type StoreWriter = {
  /** Copies a record into the queue; false when the queue was full and the record was dropped (and counted). */
  enqueue(record: PredictionRecord): boolean;
  /**
   * Backpressure: undefined when `records` fit in the queue now (the fast path, no allocation); else,
   * while the store works, a promise that resolves once they fit or after `maxWaitMs` (then they are
   * dropped as usual). A store that fails gets no waiting: requests are not slowed by an outage.
   */
  room(records: number): Promise<void> | undefined;
  /** Records waiting (those being written included). */
  depth(): number;
  readonly capacity: number;
  /** True when a record with this key is queued or being written. */
  isPending(predictionId: string, index: number): boolean;
  /** Writes everything queued so far, now; false when that did not finish within `timeoutMs`. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Flushes within `timeoutMs`, then stops; records still queued are dropped and counted. */
  close(timeoutMs: number): Promise<{ flushed: boolean; dropped: number }>;
};

type Chunk = { seq: number; batch: PredictionBatch };

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;

export function createStoreWriter(
  store: Store,
  health: StoreHealth,
  opts: WriterOptions,
  events: WriterEvents = {},
  migrated = false,
): StoreWriter {
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const queue: Chunk[] = [];
  let filling: Chunk | undefined;
  let queued = 0;
  const inFlight: Chunk[] = [];
  let nextSeq = 0;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let backoffMs = 0;
  let paused = false; // backing off after a failure
  let pumping = false;
  let closed = false;
  let isMigrated = migrated;
  let waiters: { target: number; resolve: () => void }[] = [];
  let roomWaiters: { records: number; resolve: () => void }[] = [];
  const maxWaitMs = opts.maxWaitMs ?? 0;
  const fits = (records: number) => queued + records <= opts.queueSize || (queued === 0 && records > opts.queueSize);
  const wakeRoom = () => {
    if (roomWaiters.length === 0) return;
    // In arrival order: a later, smaller request does not overtake an earlier one.
    let i = 0;
    let reserved = 0;
    while (i < roomWaiters.length && fits(reserved + roomWaiters[i].records)) {
      reserved += roomWaiters[i].records;
      roomWaiters[i].resolve();
      i++;
    }
    if (i > 0) roomWaiters = roomWaiters.slice(i);
  };

  // Chunks are numbered as they are opened: "everything enqueued before X is settled" means no chunk
  // numbered up to X's is queued or in flight (chunks may finish out of order, or go back to the queue).
  const oldestPending = (): number => {
    let min = queue.length > 0 ? queue[0].seq : Number.POSITIVE_INFINITY;
    for (const c of inFlight) if (c.seq < min) min = c.seq;
    return min;
  };
  const wake = () => {
    if (waiters.length === 0) return;
    const oldest = oldestPending();
    waiters = waiters.filter((w) => {
      if (oldest > w.target) {
        w.resolve();
        return false;
      }
      return true;
    });
  };

  const schedule = (ms: number) => {
    if (closed || queued === 0) return;
    if (ms === 0) {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      immediate ??= setImmediate(() => {
        immediate = undefined;
        void pump();
      });
      return;
    }
    if (timer !== undefined || immediate !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void pump();
    }, ms);
    timer.unref();
  };

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while (queue.length > 0 && inFlight.length < concurrency && !paused) {
        if (!isMigrated) {
          await store.migrate();
          isMigrated = true;
        }
        const chunk = queue.shift() as Chunk;
        if (chunk === filling) filling = undefined;
        queued -= chunk.batch.n;
        const sent: Chunk = {
          seq: chunk.seq,
          batch: chunk.batch.num.length === chunk.batch.n * NUM_COLS ? chunk.batch : trimBatch(chunk.batch),
        };
        inFlight.push(sent);
        void write(sent);
      }
      wakeRoom(); // what left the queue for the store made room
    } catch (err) {
      events.writeFailed?.(err);
      health.failed('migrate', err);
      backOff();
    } finally {
      pumping = false;
    }
  }

  // Try again after a pause; a success resets it, each failure doubles it.
  const backOff = () => {
    if (paused) return;
    paused = true;
    backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, backoffMs * 2));
    setTimeout(() => {
      paused = false;
      schedule(0);
    }, backoffMs).unref();
  };

  const finish = (c: Chunk) => {
    inFlight.splice(inFlight.indexOf(c), 1);
    wake();
    wakeRoom();
    if (queue.length > 0 && (queue.length > 1 || filling === undefined || waiters.length > 0)) schedule(0);
    else schedule(opts.flushMs);
  };

  async function write(c: Chunk): Promise<void> {
    const t0 = performance.now();
    let written: number;
    try {
      written = await store.insertPredictions(c.batch);
    } catch (err) {
      events.writeFailed?.(err);
      if (closed) {
        // After close nothing is retried: what failed is counted, not kept.
        events.dropped?.('shutdown', c.batch.n);
      } else if (await reachable()) {
        // The store works but refused this chunk: drop it rather than retry it forever.
        health.failed('write (batch refused)', err);
        events.dropped?.('rejected', c.batch.n);
      } else {
        health.failed('write', err);
        queue.unshift(c);
        queued += c.batch.n;
        backOff();
      }
      finish(c);
      return;
    }
    events.written?.(written, (performance.now() - t0) / 1000);
    health.ok();
    backoffMs = 0;
    finish(c);
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
    if (filling === undefined && queue.length === 0 && inFlight.length === 0) return Promise.resolve(true);
    const target = nextSeq - 1;
    filling = undefined; // what comes next goes into a new chunk: this one is written now
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
      wake();
      // Now, not at the next tick of the timer (nor after the backoff).
      paused = false;
      schedule(0);
    });
  };

  const pendingIn = (b: PredictionBatch, predictionId: string, index: number) => {
    for (let i = 0; i < b.n; i++) {
      if (b.str[i * STR_COLS] === predictionId && b.num[i * NUM_COLS] === index) return true;
    }
    return false;
  };

  return {
    capacity: opts.queueSize,
    room(records) {
      if (closed || maxWaitMs <= 0 || (roomWaiters.length === 0 && fits(records)) || !health.up) return undefined;
      // Write what is queued now, partial chunk included: someone is waiting for the room.
      filling = undefined;
      schedule(0);
      return new Promise<void>((resolve) => {
        const waiter = {
          records,
          resolve: () => {
            clearTimeout(deadline);
            resolve();
          },
        };
        const deadline = setTimeout(() => {
          roomWaiters = roomWaiters.filter((w) => w !== waiter);
          resolve();
        }, maxWaitMs);
        roomWaiters.push(waiter);
      });
    },
    enqueue(record) {
      if (closed || queued >= opts.queueSize) {
        events.dropped?.(closed ? 'shutdown' : 'queue_full', 1);
        if (!closed) health.dropped('queue_full', 1);
        return false;
      }
      if (filling === undefined || filling.batch.n === opts.batchSize) {
        filling = { seq: nextSeq++, batch: emptyBatch(opts.batchSize) };
        queue.push(filling);
      }
      appendRecord(filling.batch, record);
      queued++;
      // A full chunk is written at once (on the next turn, not inside this request).
      schedule(filling.batch.n === opts.batchSize ? 0 : opts.flushMs);
      return true;
    },
    depth() {
      let n = queued;
      for (const c of inFlight) n += c.batch.n;
      return n;
    },
    isPending(predictionId, index) {
      for (const c of inFlight) if (pendingIn(c.batch, predictionId, index)) return true;
      for (const c of queue) if (pendingIn(c.batch, predictionId, index)) return true;
      return false;
    },
    flush,
    async close(timeoutMs) {
      const flushed = timeoutMs > 0 ? await flush(timeoutMs) : queued === 0 && inFlight.length === 0;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      if (immediate !== undefined) clearImmediate(immediate);
      timer = undefined;
      immediate = undefined;
      const left = queued;
      queue.length = 0;
      filling = undefined;
      queued = 0;
      if (left > 0) events.dropped?.('shutdown', left);
      for (const w of roomWaiters) w.resolve();
      roomWaiters = [];
      return { flushed, dropped: left };
    },
  };
}
