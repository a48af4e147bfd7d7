// The store's queries, once, for both databases. SQLite (node:sqlite, in the store's worker thread)
// and PostgreSQL (pg) each give a small `Db` adapter — run a statement, read rows, run a transaction —
// and everything the service asks of the store is written here against it. SQL uses `?`
// placeholders (the PostgreSQL adapter numbers them); the few statements that differ by dialect
// (batch insert, row addressing for batched deletes, size figures, the migration lock) branch on
// `db.dialect` right where they differ.

import { MIGRATIONS, MIGRATIONS_TABLE } from './migrations.ts';
import {
  batchRow,
  type ConfusionCell,
  dedupeFeedback,
  type FeatureRow,
  type FeedbackItem,
  type FeedbackOutcome,
  type FeedbackResult,
  featureRow,
  type LabelledText,
  PREDICTION_COLUMNS,
  type PredictionBatch,
  type PurgeCounts,
  type PurgeCutoffs,
  putRow,
  type QualityWindow,
  type StoreUsage,
} from './types.ts';

export type Row = Record<string, unknown>;
export type Dialect = 'sqlite' | 'postgres';

export type Sql = {
  all(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs a statement; resolves to the rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
};

export type Db = Sql & {
  readonly dialect: Dialect;
  /** One transaction; `durable`: committed to disk before it resolves (SQLite: synchronous=FULL). */
  transaction<T>(fn: (tx: Sql) => Promise<T>, opts?: { durable?: boolean }): Promise<T>;
};

export type StoreOps = ReturnType<typeof storeOps>;

// Rows per statement where a statement takes a list (feedback, lookups): far below both databases'
// parameter limits (SQLite 32766, PostgreSQL 65535).
const CHUNK = 500;

const PG_ARRAY_TYPES: Record<(typeof PREDICTION_COLUMNS)[number], string> = {
  prediction_id: 'text[]',
  item: 'int[]',
  ts: 'bigint[]',
  model_name: 'text[]',
  model_version: 'text[]',
  label: 'text[]',
  proba: 'float8[]',
  score: 'float8[]',
  text_length: 'int[]',
  token_count: 'int[]',
  digit_share: 'float8[]',
  upper_share: 'float8[]',
  url_count: 'int[]',
  unknown_token_share: 'float8[]',
  text: 'text[]',
  model_role: 'text[]',
};

const COLS = PREDICTION_COLUMNS.join(', ');
// SQLite: ROWS_PER_INSERT rows per statement (960 parameters): one call into SQLite per 64 records
// instead of one per record (measured: ~3× the records/s of single-row inserts in the worker).
const ROWS_PER_INSERT = 64;
const insertValues = (rows: number) =>
  `INSERT INTO msgcls_predictions (${COLS}) VALUES ${Array.from(
    { length: rows },
    () => `(${PREDICTION_COLUMNS.map(() => '?').join(', ')})`,
  ).join(', ')} ON CONFLICT (prediction_id, item) DO NOTHING`;
const INSERT_FULL = insertValues(ROWS_PER_INSERT);
// PostgreSQL: a whole batch in one statement, one array per column.
const INSERT_UNNEST = `INSERT INTO msgcls_predictions (${COLS})
  SELECT * FROM unnest(${PREDICTION_COLUMNS.map((c) => `?::${PG_ARRAY_TYPES[c]}`).join(', ')})
  ON CONFLICT (prediction_id, item) DO NOTHING`;

const CELL_AGGREGATES = `COUNT(*) AS n, SUM(received_ts - predicted_ts) AS delay_sum, MAX(received_ts - predicted_ts) AS delay_max`;

// Typed: PostgreSQL gives an untyped parameter in VALUES the type text.
const pairs = (n: number) => Array.from({ length: n }, () => '(CAST(? AS TEXT), CAST(? AS INTEGER))').join(', ');

export function storeOps(db: Db) {
  const pg = db.dialect === 'postgres';
  // Batched deletes address rows directly: SQLite's rowid; PostgreSQL's ctid (= ANY(ARRAY(…)) is a
  // TID scan, so each batch touches only the rows it deletes).
  const batched = (table: string, where: string, order = '') =>
    pg
      ? `ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE ${where} ${order} LIMIT ?))`
      : `rowid IN (SELECT rowid FROM ${table} WHERE ${where} ${order} LIMIT ?)`;

  const chunks = <T>(items: readonly T[]): T[][] => {
    const out: T[][] = [];
    for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
    return out;
  };

  return {
    async migrate(): Promise<{ applied: number[]; version: number }> {
      return db.transaction(async (tx) => {
        // One instance migrates at a time; the others wait, then find nothing left to do.
        if (pg) await tx.all("SELECT pg_advisory_xact_lock(hashtext('msgcls_schema_migrations'))");
        await tx.run(MIGRATIONS_TABLE);
        const done = new Set(
          (await tx.all('SELECT version FROM msgcls_schema_migrations')).map((r) => Number(r.version)),
        );
        const applied: number[] = [];
        for (const m of MIGRATIONS) {
          if (done.has(m.version)) continue;
          for (const sql of m.statements) await tx.run(sql);
          await tx.run('INSERT INTO msgcls_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
            m.version,
            m.name,
            Date.now(),
          ]);
          applied.push(m.version);
        }
        return { applied, version: Math.max(0, ...done, ...applied) };
      });
    },

    async insertPredictions(b: PredictionBatch): Promise<number> {
      if (b.n === 0) return 0;
      if (pg) {
        const columns: unknown[][] = PREDICTION_COLUMNS.map(() => new Array(b.n));
        for (let i = 0; i < b.n; i++) {
          const row = batchRow(b, i);
          for (let c = 0; c < row.length; c++) columns[c][i] = row[c];
        }
        return db.run(INSERT_UNNEST, columns);
      }
      // SQLite: prepared multi-row statements, one transaction.
      return db.transaction(async (tx) => {
        let n = 0;
        const full: (string | number | null)[] = new Array(ROWS_PER_INSERT * PREDICTION_COLUMNS.length);
        for (let from = 0; from < b.n; from += ROWS_PER_INSERT) {
          const rows = Math.min(ROWS_PER_INSERT, b.n - from);
          const params = rows === ROWS_PER_INSERT ? full : new Array(rows * PREDICTION_COLUMNS.length);
          let at = 0;
          for (let i = from; i < from + rows; i++) at = putRow(b, i, params, at);
          n += await tx.run(rows === ROWS_PER_INSERT ? INSERT_FULL : insertValues(rows), params);
        }
        return n;
      });
    },

    async recordFeedback(items: readonly FeedbackItem[], now: number): Promise<FeedbackOutcome> {
      const unique = dedupeFeedback(items);
      return db.transaction(
        async (tx) => {
          const byKey = new Map<string, Row>();
          for (const part of chunks(unique)) {
            const rows = await tx.all(
              `SELECT p.prediction_id, p.item, p.ts, p.model_name, p.model_version, p.model_role, p.label AS predicted, f.label
                 FROM msgcls_predictions p
                 LEFT JOIN msgcls_feedback f ON f.prediction_id = p.prediction_id AND f.item = p.item
                WHERE (p.prediction_id, p.item) IN (VALUES ${pairs(part.length)})`,
              part.flatMap((it) => [it.predictionId, it.index]),
            );
            for (const r of rows) byKey.set(`${Number(r.item)}\u0000${r.prediction_id}`, r);
          }
          const unknown: FeedbackItem[] = [];
          const results: FeedbackResult[] = [];
          const changed: (FeedbackItem & { row: Row })[] = [];
          for (const it of unique) {
            const row = byKey.get(`${it.index}\u0000${it.predictionId}`);
            if (row === undefined) {
              unknown.push(it);
              continue;
            }
            const status = row.label === null ? 'recorded' : row.label === it.label ? 'unchanged' : 'updated';
            results.push({
              ...it,
              status,
              predictedAt: Number(row.ts),
              modelVersion: String(row.model_version),
              // Rows written before the rollout roles existed were the champion's.
              modelRole: row.model_role === null || row.model_role === undefined ? 'champion' : String(row.model_role),
            });
            if (status !== 'unchanged') changed.push({ ...it, row });
          }
          if (unknown.length > 0) return { ok: false, unknown } as const;
          for (const part of chunks(changed)) {
            await tx.run(
              `INSERT INTO msgcls_feedback
                 (prediction_id, item, label, received_ts, updated_ts, predicted_ts, model_name, model_version, predicted)
               VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
               ON CONFLICT (prediction_id, item) DO UPDATE SET label = excluded.label, updated_ts = excluded.updated_ts
               WHERE msgcls_feedback.label <> excluded.label`,
              part.flatMap((c) => [
                c.predictionId,
                c.index,
                c.label,
                now,
                now,
                Number(c.row.ts),
                c.row.model_name,
                c.row.model_version,
                c.row.predicted,
              ]),
            );
          }
          return { ok: true, results } as const;
        },
        { durable: true },
      );
    },

    async hasPredictions(keys: readonly { predictionId: string; index: number }[]): Promise<boolean[]> {
      const found = new Set<string>();
      for (const part of chunks(keys)) {
        const rows = await db.all(
          `SELECT prediction_id, item FROM msgcls_predictions WHERE (prediction_id, item) IN (VALUES ${pairs(part.length)})`,
          part.flatMap((k) => [k.predictionId, k.index]),
        );
        for (const r of rows) found.add(`${Number(r.item)}\u0000${r.prediction_id}`);
      }
      return keys.map((k) => found.has(`${k.index}\u0000${k.predictionId}`));
    },

    // See windowSql: index reads only, whatever the size of the tables.
    async confusion(window: QualityWindow): Promise<ConfusionCell[]> {
      const sql = windowSql(db.dialect);
      if ('sinceTs' in window) {
        return (await db.all(sql.time, [window.sinceTs, window.sinceTs])).map(toCell);
      }
      const cells: ConfusionCell[] = [];
      let [first] = await db.all(sql.nextName, ['']);
      while (first !== undefined) {
        const name = String(first.model_name);
        let version: string | undefined = String(first.model_version);
        while (version !== undefined) {
          cells.push(...(await db.all(sql.count, [name, version, name, version, window.lastN])).map(toCell));
          const [next] = await db.all(sql.nextVersion, [name, version]);
          version = next === undefined ? undefined : String(next.model_version);
        }
        [first] = await db.all(sql.nextName, [name]);
      }
      return cells;
    },

    async purge(cutoffs: PurgeCutoffs, limit: number): Promise<PurgeCounts> {
      // Rows about to be deleted anyway are not blanked first.
      const payload = await db.run(
        `UPDATE msgcls_predictions SET text = NULL WHERE ${batched('msgcls_predictions', 'text IS NOT NULL AND ts < ? AND ts >= ?')}`,
        [cutoffs.payloadBefore, cutoffs.predictionsBefore, limit],
      );
      const predictions = await db.run(
        `DELETE FROM msgcls_predictions WHERE ${batched('msgcls_predictions', 'ts < ?')}`,
        [cutoffs.predictionsBefore, limit],
      );
      const feedback = await db.run(
        `DELETE FROM msgcls_feedback WHERE ${batched('msgcls_feedback', 'received_ts < ?')}`,
        [cutoffs.feedbackBefore, limit],
      );
      return { payload, predictions, feedback };
    },

    async labelledTexts(opts: { sinceTs: number; modelName: string; limit: number }): Promise<LabelledText[]> {
      const rows = await db.all(
        `SELECT p.text, f.label, p.ts, p.model_version, p.label AS predicted
           FROM msgcls_feedback f JOIN msgcls_predictions p ON p.prediction_id = f.prediction_id AND p.item = f.item
          WHERE p.text IS NOT NULL AND p.ts >= ? AND p.model_name = ?
          ORDER BY p.ts, p.prediction_id, p.item LIMIT ?`,
        [opts.sinceTs, opts.modelName, opts.limit],
      );
      return rows.map((r) => ({
        text: String(r.text),
        label: String(r.label),
        ts: Number(r.ts),
        modelVersion: String(r.model_version),
        predicted: String(r.predicted),
      }));
    },

    async recentFeatures(opts: {
      modelName: string;
      modelVersion: string;
      sinceTs: number;
      limit: number;
    }): Promise<FeatureRow[]> {
      const rows = await db.all(
        `SELECT text_length, token_count, digit_share, upper_share, url_count, unknown_token_share, score, ts
           FROM msgcls_predictions WHERE model_name = ? AND model_version = ? AND ts >= ?
          ORDER BY ts DESC LIMIT ?`,
        [opts.modelName, opts.modelVersion, opts.sinceTs, opts.limit],
      );
      return rows.map(featureRow);
    },

    async deleteOldest(limit: number): Promise<number> {
      return db.run(`DELETE FROM msgcls_predictions WHERE ${batched('msgcls_predictions', 'TRUE', 'ORDER BY ts')}`, [
        limit,
      ]);
    },

    async usage(): Promise<StoreUsage> {
      if (pg) {
        // Dead rows (deleted, not yet vacuumed) are space PostgreSQL will reuse: count live data only.
        const [r] = await db.all(
          `SELECT (pg_total_relation_size('msgcls_predictions') + pg_total_relation_size('msgcls_feedback'))::float8
                    * CASE WHEN COALESCE(SUM(s.n_live_tup + s.n_dead_tup), 0) = 0 THEN 1
                           ELSE SUM(s.n_live_tup)::float8 / SUM(s.n_live_tup + s.n_dead_tup) END AS bytes,
                  (SELECT n_live_tup FROM pg_stat_user_tables WHERE relid = 'msgcls_predictions'::regclass) AS live
             FROM pg_stat_user_tables s WHERE s.relid IN ('msgcls_predictions'::regclass, 'msgcls_feedback'::regclass)`,
        );
        // The statistics lag (reported by each backend, about every second): a table that has none yet
        // is young and small — count it.
        let predictions = Number(r.live ?? 0);
        if (predictions === 0) {
          predictions = Number((await db.all('SELECT COUNT(*) AS n FROM msgcls_predictions'))[0].n);
        }
        return { bytes: Math.round(Number(r.bytes)), predictions };
      }
      // Free pages are reused by later writes: live data is what counts against the budget. Rowids
      // grow with inserts and deletes take the oldest, so max − min estimates the rows in O(log n).
      const [r] = await db.all(
        `SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()) AS pages,
                (SELECT page_size FROM pragma_page_size()) AS page_size,
                (SELECT MAX(rowid) FROM msgcls_predictions) - (SELECT MIN(rowid) FROM msgcls_predictions) + 1 AS predictions`,
      );
      return { bytes: Number(r.pages) * Number(r.page_size), predictions: Number(r.predictions ?? 0) };
    },

    async ping(): Promise<void> {
      await db.all('SELECT 1 AS one');
    },
  };
}

/**
 * The quality-window queries. Both windows read only the feedback table, whose rows carry the
 * prediction's time, model and label: the time window is a range of msgcls_feedback_predicted_ts; the
 * count window walks the model versions through msgcls_feedback_model_ts (`nextName`, `nextVersion`:
 * one index seek each) and reads the newest `lastN` entries of each from the same index — never the whole
 * table, whatever its size. Both indexes cover the columns read. SQLite is told which index (INDEXED
 * BY): without statistics its planner preferred a full scan of the other covering index for the time
 * window (10M rows: 0.3 s instead of 4 ms).
 */
export function windowSql(dialect: Dialect) {
  const use = (index: string) => (dialect === 'sqlite' ? `INDEXED BY ${index}` : '');
  return {
    time: `SELECT model_name, model_version, predicted, label AS actual, ${CELL_AGGREGATES}
      FROM msgcls_feedback ${use('msgcls_feedback_predicted_ts')} WHERE predicted_ts >= ? AND received_ts >= ?
      GROUP BY model_name, model_version, predicted, label`,
    // The walk over model versions: seeks with an equality and one range, never a row-value range
    // ((model_name, model_version) > (?, ?) made SQLite step over every entry of the earlier versions:
    // 170 ms at 1M labels).
    nextName: `SELECT model_name, model_version FROM msgcls_feedback WHERE model_name > ?
      ORDER BY model_name, model_version LIMIT 1`,
    nextVersion: `SELECT model_version FROM msgcls_feedback WHERE model_name = ? AND model_version > ?
      ORDER BY model_version LIMIT 1`,
    count: `SELECT CAST(? AS TEXT) AS model_name, CAST(? AS TEXT) AS model_version, predicted, label AS actual, ${CELL_AGGREGATES}
      FROM (SELECT predicted, label, received_ts, predicted_ts FROM msgcls_feedback ${use('msgcls_feedback_model_ts')}
             WHERE model_name = ? AND model_version = ? AND predicted_ts IS NOT NULL
             ORDER BY predicted_ts DESC, prediction_id DESC, item DESC LIMIT ?) t
      GROUP BY predicted, label`,
  };
}

function toCell(r: Row): ConfusionCell {
  return {
    modelName: String(r.model_name),
    modelVersion: String(r.model_version),
    predicted: String(r.predicted),
    actual: String(r.actual),
    n: Number(r.n),
    delaySumMs: Number(r.delay_sum),
    delayMaxMs: Number(r.delay_max),
  };
}
