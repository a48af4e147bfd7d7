// The SQLite store (STORE_URL=sqlite:<file>), one instance per file. node:sqlite is synchronous, so
// the connection lives in a worker thread (./sqlite-worker.ts) and every operation — prediction
// batches, feedback, the quality queries, retention — runs there: the event loop that serves
// requests only posts a message and awaits the answer. Prediction records cross as one columnar
// batch per message (a Float64Array and a string array), not one message per record.

import module from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { StoreOps } from './queries.ts';
import { encodeBatch, type PredictionBatch, type PredictionRecord, type Store, StoreConfigError } from './types.ts';

// Opening a file cannot take this long unless something is wrong (a path on /proc, a hung mount).
const OPEN_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5000;

const WORKER_HEAP_LIMITS = { maxYoungGenerationSizeMb: 4 };

type Reply = { id: number; ok: boolean; value?: unknown; message?: string; code?: unknown };

// Emitted by `tsc` next to this file when the package is built; the repository runs the .ts directly.
// The thread starts in ./sqlite-worker-boot.js, which turns on the compile cache before loading it.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './sqlite-worker.ts' : './sqlite-worker.js',
  import.meta.url,
);
const BOOT_URL = new URL('./sqlite-worker-boot.js', import.meta.url);

export async function openSqliteStore(path: string, openTimeoutMs = OPEN_TIMEOUT_MS): Promise<Store> {
  const file = resolve(path);
  const fail = (why: string, cause?: unknown) =>
    new StoreConfigError(
      `cannot open the SQLite store ${file}: ${why}; check that the folder is writable, or set STORE_URL to another file (or off)`,
      cause,
    );
  // The worker only turns columnar batches into SQLite rows: a small young generation is plenty, and
  // the default (sized for a main thread) let its heap grow by ~25 MB of RSS under load (README,
  // Performance: memory).
  const worker = new Worker(BOOT_URL, {
    workerData: { file, entry: WORKER_URL.href, compileCache: module.getCompileCacheDir?.() !== undefined },
    resourceLimits: WORKER_HEAP_LIMITS,
  });
  worker.unref();
  await new Promise<void>((done, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(fail(`no answer within ${openTimeoutMs} ms`));
    }, openTimeoutMs);
    worker.once('message', (m: { open: boolean; message?: string }) => {
      clearTimeout(timer);
      if (m.open) done();
      else {
        void worker.terminate();
        reject(fail(String(m.message)));
      }
    });
    worker.once('error', (err) => {
      clearTimeout(timer);
      reject(fail(err.message, err));
    });
  });

  let nextId = 0;
  let closed = false;
  let dead: Error | undefined;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  worker.on('message', (r: Reply) => {
    const p = pending.get(r.id);
    if (p === undefined) return;
    pending.delete(r.id);
    if (r.ok) p.resolve(r.value);
    else p.reject(Object.assign(new Error(r.message), { code: r.code }));
  });
  const die = (err: Error) => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('error', (err) => die(new Error(`the SQLite store's worker thread failed: ${err.message}`)));
  worker.on('exit', () => die(new Error('the SQLite store is closed')));

  const call = <T>(op: keyof StoreOps | 'close', ...args: unknown[]): Promise<T> => {
    if (closed && op !== 'close') return Promise.reject(new Error('the store is closed'));
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise<T>((res, rej) => {
      pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
      worker.ref(); // an answer is awaited: keep the process alive for it
      worker.postMessage({ id, op, args });
    }).finally(() => {
      if (pending.size === 0) worker.unref();
    });
  };

  return {
    backend: 'sqlite',
    location: `sqlite:${file}`,
    migrate: () => call('migrate'),
    insertPredictions: (records: readonly PredictionRecord[] | PredictionBatch) =>
      call('insertPredictions', Array.isArray(records) ? encodeBatch(records) : records),
    recordFeedback: (items, now) => call('recordFeedback', items, now),
    hasPredictions: (keys) => call('hasPredictions', keys),
    confusion: (window) => call('confusion', window),
    purge: (cutoffs, limit) => call('purge', cutoffs, limit),
    deleteOldest: (limit) => call('deleteOldest', limit),
    labelledTexts: (opts) => call('labelledTexts', opts),
    recentFeatures: (opts) => call('recentFeatures', opts),
    usage: () => call('usage'),
    ping: () => call('ping'),
    async close(timeoutMs = CLOSE_TIMEOUT_MS) {
      if (closed) return;
      closed = true;
      if (dead) return;
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<void>((res) => {
        timer = setTimeout(res, timeoutMs);
      });
      // Operations already posted finish first (the worker handles messages in order).
      await Promise.race([call('close').catch(() => undefined), bounded]);
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
