// What every store must do, as one suite run against a real SQLite file (test/unit/store-sqlite.test.ts)
// and a real PostgreSQL database (test/store/postgres.test.ts).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSizeBudget } from '../../src/store/budget.ts';
import { createStoreHealth } from '../../src/store/health.ts';
import { LATEST_VERSION, MIGRATIONS, MIGRATIONS_TABLE } from '../../src/store/migrations.ts';
import { createRetention } from '../../src/store/retention.ts';
import type { PredictionRecord, Store } from '../../src/store/types.ts';

export type StoreFactory = {
  /** A new, empty store (its own file or database). */
  open(): Promise<Store>;
  /** Runs a statement directly on the store's database (not through the Store), for checks and set-up. */
  query(store: Store, sql: string): Promise<Record<string, unknown>[]>;
};

const DAY = 86_400_000;

export function prediction(predictionId: string, over: Partial<PredictionRecord> = {}): PredictionRecord {
  return {
    predictionId,
    index: 0,
    ts: Date.now(),
    modelName: 'msg_cls',
    modelVersion: '1',
    modelRole: 'champion',
    label: 'spam',
    proba: 0.9,
    score: 0.9,
    textLength: 42,
    tokenCount: 7,
    digitShare: 0.1,
    upperShare: 0.2,
    urlCount: 1,
    unknownTokenShare: Number.NaN,
    text: null,
    ...over,
  };
}

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`${name} store`, () => {
    const opened: Store[] = [];
    const open = async () => {
      const s = await factory.open();
      opened.push(s);
      return s;
    };
    after(async () => {
      for (const s of opened) await s.close();
    });

    test('migrations are versioned and idempotent', async () => {
      const store = await open();
      const first = await store.migrate();
      assert.deepEqual(
        first.applied,
        MIGRATIONS.map((m) => m.version),
      );
      assert.equal(first.version, LATEST_VERSION);
      const again = await store.migrate();
      assert.deepEqual(again.applied, []);
      assert.equal(again.version, LATEST_VERSION);
      const rows = await factory.query(store, 'SELECT version, name FROM msgcls_schema_migrations ORDER BY version');
      assert.deepEqual(
        rows.map((r) => Number(r.version)),
        MIGRATIONS.map((m) => m.version),
      );
    });

    test('migration 3 keeps a version-2 database: ids, predictions and labels, backfilled for the quality windows', async () => {
      const store = await open();
      await factory.query(store, MIGRATIONS_TABLE);
      for (const m of MIGRATIONS.filter((x) => x.version <= 2)) {
        for (const sql of m.statements) await factory.query(store, sql);
        await factory.query(
          store,
          `INSERT INTO msgcls_schema_migrations (version, name, applied_at) VALUES (${m.version}, 'v', 0)`,
        );
      }
      await factory.query(
        store,
        `INSERT INTO msgcls_predictions (request_id, item, ts, model_name, model_version, label)
         VALUES ('old-1', 0, 1000, 'msg_cls', '1', 'spam'), ('old-1', 1, 1000, 'msg_cls', '1', 'ham')`,
      );
      await factory.query(
        store,
        "INSERT INTO msgcls_feedback (request_id, item, label, received_ts, updated_ts) VALUES ('old-1', 0, 'ham', 5000, 5000)",
      );
      assert.deepEqual(await store.migrate(), {
        applied: MIGRATIONS.filter((m) => m.version >= 3).map((m) => m.version),
        version: LATEST_VERSION,
      });
      const cells = await store.confusion({ lastN: 10 });
      assert.deepEqual(
        cells.map((c) => [c.modelVersion, c.predicted, c.actual, c.n, c.delaySumMs]),
        [['1', 'spam', 'ham', 1, 4000]],
      );
      assert.deepEqual((await store.confusion({ sinceTs: 0 })).length, 1);
      const out = await store.recordFeedback([{ predictionId: 'old-1', index: 1, label: 'ham' }], 9000);
      assert.ok(out.ok);
      assert.equal(
        (await store.confusion({ lastN: 10 })).reduce((a, c) => a + c.n, 0),
        2,
      );
    });

    test('size budget: past 90 % the oldest predictions go, down to about 75 %; the newest and the labels stay', async () => {
      const store = await open();
      await store.migrate();
      const now = Date.now();
      const records: PredictionRecord[] = [];
      for (let i = 0; i < 3000; i++) {
        records.push(
          prediction(`sz${String(i).padStart(5, '0')}`, { ts: now - (3000 - i) * 1000, text: 'x'.repeat(200) }),
        );
      }
      await store.insertPredictions(records);
      assert.ok((await store.recordFeedback([{ predictionId: 'sz00000', index: 0, label: 'ham' }], now)).ok);
      const before = await store.usage();
      assert.ok(before.bytes > 500_000, `usage ${before.bytes} bytes`);
      assert.ok(Math.abs(before.predictions - 3000) <= 300, `estimate ${before.predictions} rows`);
      const deleted: number[] = [];
      const health = createStoreHealth();
      // A budget the store is 1.5× over: it must delete about half of the predictions.
      const budget = createSizeBudget(
        store,
        health,
        { maxBytes: Math.round(before.bytes / 1.5), batch: 250 },
        {
          deleted: (n) => deleted.push(n),
        },
      );
      const run = await budget.check();
      assert.ok(run.deleted > 1000 && run.deleted < 3000, `deleted ${run.deleted}`);
      assert.deepEqual(deleted, [run.deleted]);
      const left = await factory.query(store, 'SELECT prediction_id FROM msgcls_predictions ORDER BY prediction_id');
      assert.equal(left.length, 3000 - run.deleted);
      assert.equal(left[left.length - 1].prediction_id, 'sz02999', 'the newest prediction is kept');
      assert.equal(left[0].prediction_id, `sz${String(run.deleted).padStart(5, '0')}`, 'the oldest went first');
      assert.equal((await store.confusion({ lastN: 10 })).length, 1, 'the label of a deleted prediction still counts');
      assert.equal(budget.latest()?.bytes, run.bytes);
      assert.equal(health.status, 'ok');
      // Under the budget: nothing to do.
      assert.equal((await budget.check()).deleted, 0);
    });

    test('retention stopped, then the store closed: no pass runs, and nothing flags the store degraded', async () => {
      const store = await open();
      await store.migrate();
      const health = createStoreHealth();
      const retention = createRetention(store, health, {
        payloadDays: 14,
        predictionsDays: 90,
        feedbackDays: 90,
        intervalS: 3600,
        batch: 10,
      });
      await retention.stop();
      await store.close();
      const run = await retention.runOnce();
      assert.equal(run.batches, 0);
      assert.equal(health.status, 'ok', JSON.stringify(health.lastError));
    });

    describe('with a migrated store', () => {
      let store: Store;
      before(async () => {
        store = await open();
        await store.migrate();
      });

      test('labelled texts: only labelled predictions with text, of one model, since a time, oldest first', async () => {
        const t0 = Date.now() - 10_000;
        await store.insertPredictions([
          prediction('lt1', { ts: t0 + 1, text: 'win a prize', label: 'ham', modelName: 'lt' }),
          prediction('lt2', { ts: t0 + 2, text: 'lunch?', label: 'spam', modelName: 'lt', modelVersion: '2' }),
          prediction('lt3', { ts: t0 + 3, text: null, modelName: 'lt' }),
          prediction('lt4', { ts: t0 + 4, text: 'not labelled', modelName: 'lt' }),
          prediction('lt5', { ts: t0 + 5, text: 'other model', modelName: 'lt_other' }),
          prediction('lt6', { ts: t0 - 5000, text: 'too old', modelName: 'lt' }),
        ]);
        const fb = await store.recordFeedback(
          ['lt1', 'lt2', 'lt3', 'lt5', 'lt6'].map((id, i) => ({
            predictionId: id,
            index: 0,
            label: i === 1 ? 'ham' : 'spam',
          })),
          Date.now(),
        );
        assert.ok(fb.ok);
        const rows = await store.labelledTexts({ sinceTs: t0, modelName: 'lt', limit: 100 });
        assert.deepEqual(rows, [
          { text: 'win a prize', label: 'spam', ts: t0 + 1, modelVersion: '1', predicted: 'ham' },
          { text: 'lunch?', label: 'ham', ts: t0 + 2, modelVersion: '2', predicted: 'spam' },
        ]);
        assert.equal((await store.labelledTexts({ sinceTs: t0, modelName: 'lt', limit: 1 })).length, 1);
      });

      test('recent features: the latest of one version since a time, newest first, NULL as NaN', async () => {
        const t0 = Date.now() - 10_000;
        await store.insertPredictions([
          prediction('rf1', { ts: t0 + 1, modelName: 'rf', textLength: 10, score: 0.1 }),
          prediction('rf2', { ts: t0 + 2, modelName: 'rf', textLength: 20, score: 0.2 }),
          prediction('rf3', { ts: t0 + 3, modelName: 'rf', modelVersion: '2', textLength: 30 }),
          prediction('rf4', { ts: t0 - 5000, modelName: 'rf', textLength: 40 }),
        ]);
        const rows = await store.recentFeatures({ modelName: 'rf', modelVersion: '1', sinceTs: t0, limit: 10 });
        assert.deepEqual(
          rows.map((r) => [r.ts, r.values[0], r.values[6]]),
          [
            [t0 + 2, 20, 0.2],
            [t0 + 1, 10, 0.1],
          ],
        );
        assert.ok(Number.isNaN(rows[0].values[5]), 'unknown_token_share NULL → NaN');
        const latest = await store.recentFeatures({ modelName: 'rf', modelVersion: '1', sinceTs: 0, limit: 1 });
        assert.equal(latest[0].ts, t0 + 2);
      });

      test('stores prediction records; a repeated (prediction id, index) keeps the first', async () => {
        const n = await store.insertPredictions([
          prediction('p1', { text: 'Hi <EMAIL>' }),
          prediction('p1', { index: 1, label: 'ham' }),
          prediction('p2'),
        ]);
        assert.equal(n, 3);
        assert.equal(await store.insertPredictions([prediction('p1', { label: 'ham' })]), 0);
        const rows = await factory.query(
          store,
          "SELECT prediction_id, item, label, text, unknown_token_share, text_length FROM msgcls_predictions WHERE prediction_id = 'p1' ORDER BY item",
        );
        assert.equal(rows.length, 2);
        assert.equal(rows[0].label, 'spam');
        assert.equal(rows[0].text, 'Hi <EMAIL>');
        assert.equal(rows[0].unknown_token_share, null, 'NaN is stored as NULL');
        assert.equal(Number(rows[0].text_length), 42);
        assert.equal(rows[1].text, null);
        assert.deepEqual(
          await store.hasPredictions([
            { predictionId: 'p1', index: 1 },
            { predictionId: 'p1', index: 2 },
            { predictionId: 'p2', index: 0 },
          ]),
          [true, false, true],
        );
      });

      test('feedback: recorded, unchanged when repeated, updated when different (latest wins)', async () => {
        await store.insertPredictions([prediction('f1', { ts: 1000 }), prediction('f2', { ts: 1000 })]);
        let out = await store.recordFeedback([{ predictionId: 'f1', index: 0, label: 'ham' }], 5000);
        assert.ok(out.ok);
        assert.deepEqual(
          out.results.map((r) => [r.predictionId, r.status, r.predictedAt]),
          [['f1', 'recorded', 1000]],
        );
        out = await store.recordFeedback([{ predictionId: 'f1', index: 0, label: 'ham' }], 6000);
        assert.ok(out.ok);
        assert.equal(out.results[0].status, 'unchanged');
        out = await store.recordFeedback([{ predictionId: 'f1', index: 0, label: 'spam' }], 7000);
        assert.ok(out.ok);
        assert.equal(out.results[0].status, 'updated');
        const rows = await factory.query(
          store,
          "SELECT label, received_ts, updated_ts FROM msgcls_feedback WHERE prediction_id = 'f1'",
        );
        assert.deepEqual(
          rows.map((r) => [r.label, Number(r.received_ts), Number(r.updated_ts)]),
          [['spam', 5000, 7000]],
          'the latest label wins; the delay is measured to the first',
        );
      });

      test('feedback batches are all or nothing; within a batch the last item wins', async () => {
        await store.insertPredictions([prediction('b1'), prediction('b2')]);
        const bad = await store.recordFeedback(
          [
            { predictionId: 'b1', index: 0, label: 'ham' },
            { predictionId: 'nope', index: 0, label: 'ham' },
            { predictionId: 'b2', index: 7, label: 'ham' },
          ],
          Date.now(),
        );
        assert.equal(bad.ok, false);
        assert.ok(!bad.ok);
        assert.deepEqual(
          bad.unknown.map((u) => [u.predictionId, u.index]),
          [
            ['nope', 0],
            ['b2', 7],
          ],
        );
        assert.deepEqual(
          await factory.query(store, "SELECT prediction_id FROM msgcls_feedback WHERE prediction_id IN ('b1', 'b2')"),
          [],
          'nothing was written',
        );
        const good = await store.recordFeedback(
          [
            { predictionId: 'b1', index: 0, label: 'ham' },
            { predictionId: 'b2', index: 0, label: 'ham' },
            { predictionId: 'b1', index: 0, label: 'spam' },
          ],
          Date.now(),
        );
        assert.ok(good.ok);
        assert.equal(good.results.length, 2);
        const rows = await factory.query(
          store,
          "SELECT prediction_id, label FROM msgcls_feedback WHERE prediction_id IN ('b1', 'b2') ORDER BY prediction_id",
        );
        assert.deepEqual(
          rows.map((r) => [r.prediction_id, r.label]),
          [
            ['b1', 'spam'],
            ['b2', 'ham'],
          ],
        );
      });

      test('confusion per model version over a time window and a count window', async () => {
        const s = await open();
        await s.migrate();
        const now = Date.now();
        const preds: PredictionRecord[] = [];
        // v1: 4 old predictions (2 days ago) and 4 recent; v2: 2 recent.
        for (let i = 0; i < 4; i++) preds.push(prediction(`old${i}`, { ts: now - 2 * DAY + i, label: 'spam' }));
        for (let i = 0; i < 4; i++)
          preds.push(prediction(`new${i}`, { ts: now - 60_000 + i, label: i < 2 ? 'spam' : 'ham' }));
        for (let i = 0; i < 2; i++)
          preds.push(prediction(`v2_${i}`, { ts: now - 1000, modelVersion: '2', label: 'ham' }));
        await s.insertPredictions(preds);
        // All old ones were really ham; recent: new0 spam ✓, new1 ham ✗, new2 ham ✓, new3 spam ✗.
        const fb = [
          ...[0, 1, 2, 3].map((i) => ({ predictionId: `old${i}`, index: 0, label: 'ham' })),
          { predictionId: 'new0', index: 0, label: 'spam' },
          { predictionId: 'new1', index: 0, label: 'ham' },
          { predictionId: 'new2', index: 0, label: 'ham' },
          { predictionId: 'new3', index: 0, label: 'spam' },
          { predictionId: 'v2_0', index: 0, label: 'ham' },
        ];
        assert.ok((await s.recordFeedback(fb.slice(0, 4), now - 2 * DAY + 10_000)).ok);
        assert.ok((await s.recordFeedback(fb.slice(4), now)).ok);
        const key = (c: { modelVersion: string; predicted: string; actual: string }) =>
          `${c.modelVersion}:${c.predicted}->${c.actual}`;
        const asMap = (cells: Awaited<ReturnType<Store['confusion']>>) =>
          Object.fromEntries(cells.map((c) => [key(c), c.n]));

        const day = await s.confusion({ sinceTs: now - DAY });
        assert.deepEqual(asMap(day), {
          '1:spam->spam': 1,
          '1:spam->ham': 1,
          '1:ham->ham': 1,
          '1:ham->spam': 1,
          '2:ham->ham': 1,
        });
        const v2 = day.find((c) => c.modelVersion === '2');
        assert.ok(v2 && v2.delaySumMs === 1000 && v2.delayMaxMs === 1000, JSON.stringify(v2));

        const all = await s.confusion({ sinceTs: 0 });
        assert.equal(asMap(all)['1:spam->ham'], 5);

        // The last 3 labelled predictions of each version: new3, new2, new1 for v1; v2_0 for v2.
        const last3 = await s.confusion({ lastN: 3 });
        assert.deepEqual(asMap(last3), { '1:spam->ham': 1, '1:ham->ham': 1, '1:ham->spam': 1, '2:ham->ham': 1 });
      });

      test('retention: payload, predictions and feedback expire separately, in small batches', async () => {
        const s = await open();
        await s.migrate();
        const now = Date.now();
        const rows: PredictionRecord[] = [];
        for (let i = 0; i < 23; i++) rows.push(prediction(`ancient${i}`, { ts: now - 100 * DAY, text: 'old <EMAIL>' }));
        for (let i = 0; i < 9; i++) rows.push(prediction(`month${i}`, { ts: now - 20 * DAY, text: 'month <EMAIL>' }));
        for (let i = 0; i < 5; i++) rows.push(prediction(`fresh${i}`, { ts: now - DAY, text: 'fresh <EMAIL>' }));
        await s.insertPredictions(rows);
        assert.ok((await s.recordFeedback([{ predictionId: 'ancient0', index: 0, label: 'ham' }], now - 95 * DAY)).ok);
        assert.ok((await s.recordFeedback([{ predictionId: 'month0', index: 0, label: 'ham' }], now - 19 * DAY)).ok);

        const health = createStoreHealth();
        const deleted: Record<string, number> = {};
        const retention = createRetention(
          s,
          health,
          { payloadDays: 14, predictionsDays: 90, feedbackDays: 90, intervalS: 3600, batch: 4 },
          {
            deleted: (kind, n) => {
              deleted[kind] = (deleted[kind] ?? 0) + n;
            },
          },
        );
        const run = await retention.runOnce(now);
        assert.equal(run.predictions, 23);
        assert.equal(
          run.payload,
          9,
          'texts older than 14 days are blanked (rows older than 90 days are deleted instead)',
        );
        assert.equal(run.feedback, 1);
        assert.ok(run.batches >= Math.ceil(23 / 4), `ran ${run.batches} batches of 4`);
        assert.deepEqual(deleted, { payload: 9, predictions: 23, feedback: 1 });
        assert.equal(health.status, 'ok');

        const left = await factory.query(
          s,
          'SELECT prediction_id, text FROM msgcls_predictions ORDER BY prediction_id',
        );
        assert.equal(left.length, 14);
        for (const r of left) {
          const id = String(r.prediction_id);
          if (id.startsWith('month')) assert.equal(r.text, null, `${id}: payload older than 14 days`);
          else assert.equal(r.text, 'fresh <EMAIL>', `${id}: payload within 14 days is kept`);
        }
        const fb = await factory.query(s, 'SELECT prediction_id FROM msgcls_feedback');
        assert.deepEqual(
          fb.map((r) => r.prediction_id),
          ['month0'],
        );
        const second = await retention.runOnce(now);
        assert.deepEqual({ ...second, batches: 0 }, { payload: 0, predictions: 0, feedback: 0, batches: 0 });
      });
    });
  });
}
