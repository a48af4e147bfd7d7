// The write queue's logic — batching, the bound, drops by reason, retry after an outage, refusal,
// flush and close — against an in-memory store whose failures the test controls. The same writer is
// exercised against real SQLite and PostgreSQL in test/http and test/store.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createStoreHealth } from '../../src/store/health.ts';
import { decodeBatch, type PredictionBatch, type PredictionRecord, type Store } from '../../src/store/types.ts';
import { createStoreWriter, type DropReason } from '../../src/store/writer.ts';

type Mode = 'up' | 'down' | 'refuse';

function fakeStore() {
  const rows: PredictionRecord[] = [];
  const batches: number[] = [];
  let mode: Mode = 'up';
  let migrations = 0;
  let delayMs = 1;
  let active = 0;
  let maxActive = 0;
  let duplicates = 0;
  const fail = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  const store: Store = {
    backend: 'sqlite',
    location: 'memory',
    async migrate() {
      if (mode === 'down') return fail();
      migrations++;
      return { applied: [], version: 2 };
    },
    async insertPredictions(batch) {
      const records = Array.isArray(batch) ? batch : decodeBatch(batch as PredictionBatch);
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(delayMs);
      active--;
      if (mode === 'down') return fail();
      if (mode === 'refuse') throw new Error('value too long');
      batches.push(records.length);
      rows.push(...records);
      return records.length - duplicates;
    },
    async recordFeedback() {
      throw new Error('not used');
    },
    async hasPredictions() {
      return [];
    },
    async confusion() {
      return [];
    },
    async labelledTexts() {
      return [];
    },
    async recentFeatures() {
      return [];
    },
    async purge() {
      return { payload: 0, predictions: 0, feedback: 0 };
    },
    async deleteOldest() {
      return 0;
    },
    async usage() {
      return { bytes: 0, predictions: rows.length };
    },
    async ping() {
      if (mode === 'down') return fail();
    },
    async close() {},
  };
  return {
    store,
    rows,
    batches,
    set: (m: Mode) => {
      mode = m;
    },
    migrations: () => migrations,
    delay: (ms: number) => {
      delayMs = ms;
    },
    maxActive: () => maxActive,
    duplicates: (n: number) => {
      duplicates = n;
    },
  };
}

const record = (i: number): PredictionRecord => ({
  predictionId: `r${i}`,
  index: 0,
  ts: i,
  modelName: 'm',
  modelVersion: '1',
  modelRole: 'champion',
  label: 'spam',
  proba: 0.9,
  score: 0.9,
  textLength: 10,
  tokenCount: 2,
  digitShare: 0,
  upperShare: 0,
  urlCount: 0,
  unknownTokenShare: 0,
  text: null,
});

function setup(
  opts: {
    queueSize?: number;
    batchSize?: number;
    flushMs?: number;
    migrated?: boolean;
    concurrency?: number;
    dropDegradedMs?: number;
    maxWaitMs?: number;
  } = {},
) {
  const fake = fakeStore();
  const health = createStoreHealth(opts.dropDegradedMs);
  const dropped: Record<DropReason, number> = { queue_full: 0, rejected: 0, shutdown: 0 };
  let written = 0;
  let failures = 0;
  const writer = createStoreWriter(
    fake.store,
    health,
    {
      queueSize: opts.queueSize ?? 100,
      batchSize: opts.batchSize ?? 10,
      flushMs: opts.flushMs ?? 5,
      concurrency: opts.concurrency,
      maxWaitMs: opts.maxWaitMs,
    },
    {
      written: (n) => {
        written += n;
      },
      dropped: (reason, n) => {
        dropped[reason] += n;
      },
      writeFailed: () => {
        failures++;
      },
    },
    opts.migrated ?? true,
  );
  return { fake, health, writer, dropped, written: () => written, failures: () => failures };
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('store writer', () => {
  test('writes queued records in order, in batches of at most STORE_BATCH_SIZE', async () => {
    const s = setup({ batchSize: 10 });
    for (let i = 0; i < 25; i++) assert.equal(s.writer.enqueue(record(i)), true);
    assert.equal(s.writer.depth(), 25);
    assert.equal(await s.writer.flush(5000), true);
    assert.deepEqual(s.fake.batches, [10, 10, 5]);
    assert.deepEqual(
      s.fake.rows.map((r) => r.predictionId),
      Array.from({ length: 25 }, (_, i) => `r${i}`),
    );
    assert.equal(s.writer.depth(), 0);
    assert.equal(s.written(), 25);
  });

  test('writes by itself after STORE_FLUSH_MS', async () => {
    const s = setup({ flushMs: 20 });
    s.writer.enqueue(record(1));
    await until('the timed flush', () => s.fake.rows.length === 1);
  });

  test('drops and counts records beyond the queue bound; enqueue never blocks', async () => {
    const s = setup({ queueSize: 5, flushMs: 60_000 });
    const accepted = Array.from({ length: 8 }, (_, i) => s.writer.enqueue(record(i)));
    assert.deepEqual(accepted, [true, true, true, true, true, false, false, false]);
    assert.equal(s.dropped.queue_full, 3);
    assert.equal(s.writer.depth(), 5);
  });

  test('keeps records while the store is down, reports degraded, and resumes when it returns', async () => {
    const s = setup({ queueSize: 20, batchSize: 4, flushMs: 5 });
    s.fake.set('down');
    for (let i = 0; i < 10; i++) s.writer.enqueue(record(i));
    await until('a failed write', () => s.failures() > 0);
    assert.equal(s.health.status, 'degraded');
    assert.match(s.health.lastError?.message ?? '', /ECONNREFUSED/);
    assert.equal(s.writer.depth(), 10, 'the failed batch went back to the queue');
    for (let i = 10; i < 30; i++) s.writer.enqueue(record(i));
    assert.ok(s.dropped.queue_full >= 10, `dropped ${s.dropped.queue_full}`);
    s.fake.set('up');
    assert.equal(await s.writer.flush(10_000), true);
    // The store works again, but records were dropped moments ago: still degraded, saying why.
    assert.equal(s.health.status, 'degraded');
    assert.match(s.health.lastError?.what ?? '', /dropped \(queue_full\)/);
    assert.equal(s.fake.rows.length + s.dropped.queue_full, 30, 'every record is written or counted as dropped');
    assert.deepEqual(
      s.fake.rows.slice(0, 10).map((r) => r.predictionId),
      Array.from({ length: 10 }, (_, i) => `r${i}`),
      'oldest first, none lost',
    );
  });

  test('migrates before the first write when the store was unreachable at start', async () => {
    const s = setup({ migrated: false });
    s.fake.set('down');
    s.writer.enqueue(record(1));
    await until('a failed migration', () => s.failures() > 0);
    assert.equal(s.health.lastError?.what, 'migrate');
    s.fake.set('up');
    assert.equal(await s.writer.flush(10_000), true);
    assert.equal(s.fake.migrations(), 1);
    assert.equal(s.fake.rows.length, 1);
  });

  test('drops a batch the reachable store refuses (counted as rejected) and goes on', async () => {
    const s = setup({ batchSize: 3 });
    s.fake.set('refuse');
    for (let i = 0; i < 3; i++) s.writer.enqueue(record(i));
    assert.equal(await s.writer.flush(5000), true);
    assert.equal(s.dropped.rejected, 3);
    s.fake.set('up');
    s.writer.enqueue(record(9));
    assert.equal(await s.writer.flush(5000), true);
    assert.deepEqual(
      s.fake.rows.map((r) => r.predictionId),
      ['r9'],
    );
  });

  test('knows which records are still pending (for feedback that overtakes its prediction)', async () => {
    const s = setup({ flushMs: 60_000 });
    s.writer.enqueue({ ...record(1), index: 3 });
    assert.equal(s.writer.isPending('r1', 3), true);
    assert.equal(s.writer.isPending('r1', 0), false);
    await s.writer.flush(5000);
    assert.equal(s.writer.isPending('r1', 3), false);
  });

  test('a full chunk is written at once (not after STORE_FLUSH_MS), several in flight, in order', async () => {
    const s = setup({ batchSize: 10, flushMs: 60_000, concurrency: 3, queueSize: 1000 });
    s.fake.delay(30);
    for (let i = 0; i < 30; i++) s.writer.enqueue(record(i));
    await until('three chunks written without a flush', () => s.fake.rows.length === 30, 2000);
    assert.equal(s.fake.maxActive(), 3, 'three chunks in flight at once');
    assert.equal(s.written(), 30);
    for (let i = 30; i < 35; i++) s.writer.enqueue(record(i));
    assert.equal(await s.writer.flush(5000), true, 'a partial chunk is written by flush');
    assert.equal(s.fake.rows.length, 35);
  });

  test('counts the records really written, not the records sent', async () => {
    const s = setup({ batchSize: 5 });
    s.fake.duplicates(2);
    for (let i = 0; i < 5; i++) s.writer.enqueue(record(i));
    assert.equal(await s.writer.flush(5000), true);
    assert.equal(s.written(), 3);
  });

  test('dropping records makes the store degraded while it lasts and for a while after', async () => {
    const s = setup({ queueSize: 2, flushMs: 60_000, dropDegradedMs: 100 });
    s.writer.enqueue(record(0));
    s.writer.enqueue(record(1));
    assert.equal(s.health.status, 'ok');
    assert.equal(s.writer.enqueue(record(2)), false);
    assert.equal(s.health.status, 'degraded');
    assert.match(s.health.lastError?.message ?? '', /1 prediction records dropped/);
    s.writer.enqueue(record(3));
    assert.match(s.health.lastError?.message ?? '', /2 prediction records dropped/);
    await s.writer.flush(5000);
    assert.equal(s.health.status, 'degraded', 'still degraded right after');
    await until('the drop window to pass', () => s.health.status === 'ok', 2000);
  });

  test('a chunk that fails after close is counted as dropped, not queued again', async () => {
    const s = setup({ batchSize: 5, flushMs: 60_000 });
    s.fake.delay(100);
    for (let i = 0; i < 5; i++) s.writer.enqueue(record(i));
    const flushing = s.writer.flush(5000);
    await sleep(20); // the chunk is in flight
    s.fake.set('down');
    const closed = await s.writer.close(0);
    assert.deepEqual(closed, { flushed: false, dropped: 0 });
    await until('the in-flight chunk to fail', () => s.dropped.shutdown === 5, 2000);
    assert.equal(s.writer.depth(), 0, 'nothing re-queued');
    assert.equal(await flushing, true, 'settled: counted as dropped');
  });

  test('backpressure: a full queue makes the caller wait for the writer instead of dropping', async () => {
    const s = setup({ queueSize: 10, batchSize: 5, flushMs: 60_000, maxWaitMs: 5000 });
    s.fake.delay(30);
    assert.equal(s.writer.room(5), undefined, 'room now: no promise, no waiting');
    for (let i = 0; i < 10; i++) s.writer.enqueue(record(i));
    let accepted = 10;
    for (let round = 0; round < 4; round++) {
      const wait = s.writer.room(5);
      assert.ok(wait instanceof Promise, 'the queue is full: wait');
      await wait;
      for (let i = 0; i < 5; i++) assert.equal(s.writer.enqueue(record(accepted++)), true);
    }
    assert.equal(await s.writer.flush(5000), true);
    assert.equal(s.fake.rows.length, 30);
    assert.equal(s.dropped.queue_full, 0, 'nothing dropped');
  });

  test('backpressure never waits on a failing store, and waits at most maxWaitMs', async () => {
    const down = setup({ queueSize: 2, flushMs: 60_000, maxWaitMs: 5000 });
    down.fake.set('down');
    down.writer.enqueue(record(0));
    down.writer.enqueue(record(1));
    await down.writer.flush(50);
    await until('a failed write', () => down.failures() > 0);
    assert.equal(down.writer.room(1), undefined, 'the store fails: drop, do not slow requests');

    const slow = setup({ queueSize: 2, batchSize: 2, flushMs: 60_000, maxWaitMs: 50 });
    slow.fake.delay(2000);
    slow.writer.enqueue(record(0));
    slow.writer.enqueue(record(1));
    await sleep(20); // that chunk is being written (slowly); the next two fill the queue
    slow.writer.enqueue(record(10));
    slow.writer.enqueue(record(11));
    const t0 = performance.now();
    await slow.writer.room(1);
    const waited = performance.now() - t0;
    assert.ok(waited >= 40 && waited < 1500, `waited ${waited.toFixed(0)} ms`);
    assert.equal(slow.writer.enqueue(record(2)), false, 'still full after the wait: dropped and counted');
    assert.equal(slow.dropped.queue_full, 1);
  });

  test('close flushes within the deadline; what cannot be written is counted as shutdown', async () => {
    const ok = setup({ flushMs: 60_000 });
    for (let i = 0; i < 5; i++) ok.writer.enqueue(record(i));
    assert.deepEqual(await ok.writer.close(5000), { flushed: true, dropped: 0 });
    assert.equal(ok.fake.rows.length, 5);
    assert.equal(ok.writer.enqueue(record(6)), false, 'nothing is accepted after close');

    const down = setup({ flushMs: 60_000 });
    down.fake.set('down');
    for (let i = 0; i < 5; i++) down.writer.enqueue(record(i));
    assert.deepEqual(await down.writer.close(300), { flushed: false, dropped: 5 });
    assert.equal(down.dropped.shutdown, 5, 'the 5 queued records');
  });
});

describe('request ids', () => {
  test('are UUID version 7: valid, time-ordered', async () => {
    const { uuidV7 } = await import('../../src/http/app.ts');
    const a = uuidV7();
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ms = Number.parseInt(a.slice(0, 8) + a.slice(9, 13), 16);
    assert.ok(Math.abs(ms - Date.now()) < 5000, 'carries the current time');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(uuidV7());
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.deepEqual([...ids].sort(), ids);
  });
});
