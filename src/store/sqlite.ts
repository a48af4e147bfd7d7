// The SQLite store (STORE_URL=sqlite:<file>), through node:sqlite. One instance per file.
//
// node:sqlite is synchronous: every call below blocks the event loop while it runs. That is why the
// prediction log is written in batches off the request path (src/store/writer.ts) with a prepared
// statement in one transaction, and why msgcls_store_write_duration_seconds is measured: it is the
// time the loop was blocked. WAL mode lets readers run alongside the writer. Prediction batches commit
// with synchronous=NORMAL (safe against a crash of the process, which is what matters for a log that
// is best effort anyway); feedback commits with synchronous=FULL, so a 2xx means the label was fsynced.
// Checkpoints (copying the WAL into the file, with fsyncs) run in a worker thread
// (./sqlite-checkpointer.js), not inside a commit on the event loop; SQLite's own automatic checkpoint
// stays as a fallback at a larger WAL size (WAL_FALLBACK_PAGES).

import { dirname, resolve } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { makeDirs } from './make-dirs.ts';
import { MIGRATIONS, MIGRATIONS_TABLE } from './migrations.ts';
import {
  type ConfusionCell,
  dedupeFeedback,
  type FeedbackItem,
  type FeedbackOutcome,
  type FeedbackResult,
  PREDICTION_COLUMNS,
  type PredictionRecord,
  type PurgeCounts,
  type PurgeCutoffs,
  predictionRow,
  type QualityWindow,
  type Store,
  StoreConfigError,
} from './types.ts';

type Row = Record<string, string | number | null>;

const CHECKPOINT_INTERVAL_MS = 500;
// 4 KB pages: the WAL grows to about 40 MB before a commit checkpoints by itself (the worker should
// have done it long before).
const WAL_FALLBACK_PAGES = 10_000;

export function openSqliteStore(path: string): Store {
  const file = resolve(path);
  let db: DatabaseSync;
  try {
    makeDirs(dirname(file));
    db = new DatabaseSync(file, { timeout: 5000 });
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec(`PRAGMA wal_autocheckpoint = ${WAL_FALLBACK_PAGES}`);
  } catch (err) {
    throw new StoreConfigError(
      `cannot open the SQLite store ${file}: ${(err as Error).message}; check that the folder is writable, or set STORE_URL to another file (or off)`,
      err,
    );
  }

  // Started with the first write, not at open: booting a worker thread costs ~40 ms of CPU that the
  // cold start does not need to pay (SQLite's fallback autocheckpoint covers the time before).
  let checkpointer: Worker | undefined;
  const startCheckpointer = () => {
    if (checkpointer !== undefined || closed) return;
    checkpointer = new Worker(new URL('./sqlite-checkpointer.js', import.meta.url), {
      workerData: { file, intervalMs: CHECKPOINT_INTERVAL_MS },
    });
    checkpointer.on('error', () => undefined); // the fallback checkpoint takes over
    checkpointer.unref();
  };

  let closed = false;
  const statements = new Map<string, StatementSync>();
  const stmt = (sql: string): StatementSync => {
    let s = statements.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };
  const transaction = <T>(fn: () => T, mode = 'IMMEDIATE'): T => {
    db.exec(`BEGIN ${mode}`);
    try {
      const out = fn();
      db.exec('COMMIT');
      return out;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  };
  const alive = () => {
    if (closed) throw new Error('the store is closed');
  };

  const insertSql = `INSERT INTO msgcls_predictions (${PREDICTION_COLUMNS.join(', ')}) VALUES (${PREDICTION_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (request_id, item) DO NOTHING`;
  const lookupSql = `SELECT p.ts AS ts, f.label AS label FROM msgcls_predictions p
    LEFT JOIN msgcls_feedback f ON f.request_id = p.request_id AND f.item = p.item
    WHERE p.request_id = ? AND p.item = ?`;
  const upsertSql = `INSERT INTO msgcls_feedback (request_id, item, label, received_ts, updated_ts) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (request_id, item) DO UPDATE SET label = excluded.label, updated_ts = excluded.updated_ts
    WHERE msgcls_feedback.label <> excluded.label`;

  return {
    backend: 'sqlite',
    location: `sqlite:${file}`,

    async migrate() {
      alive();
      return transaction(() => {
        db.exec(MIGRATIONS_TABLE);
        const done = new Set(
          (db.prepare('SELECT version FROM msgcls_schema_migrations').all() as Row[]).map((r) => Number(r.version)),
        );
        const applied: number[] = [];
        for (const m of MIGRATIONS) {
          if (done.has(m.version)) continue;
          for (const sql of m.statements) db.exec(sql);
          db.prepare('INSERT INTO msgcls_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
            m.version,
            m.name,
            Date.now(),
          );
          applied.push(m.version);
        }
        return { applied, version: Math.max(0, ...done, ...applied) };
      });
    },

    async insertPredictions(records: readonly PredictionRecord[]) {
      alive();
      const insert = stmt(insertSql);
      startCheckpointer();
      return transaction(() => {
        let n = 0;
        for (const r of records) n += Number(insert.run(...predictionRow(r)).changes);
        return n;
      });
    },

    async recordFeedback(items: readonly FeedbackItem[], now: number): Promise<FeedbackOutcome> {
      alive();
      const unique = dedupeFeedback(items);
      const lookup = stmt(lookupSql);
      const upsert = stmt(upsertSql);
      startCheckpointer();
      db.exec('PRAGMA synchronous = FULL');
      try {
        return transaction(() => {
          const unknown: FeedbackItem[] = [];
          const results: FeedbackResult[] = [];
          for (const it of unique) {
            const row = lookup.get(it.requestId, it.index) as Row | undefined;
            if (row === undefined) {
              unknown.push(it);
              continue;
            }
            const status = row.label === null ? 'recorded' : row.label === it.label ? 'unchanged' : 'updated';
            results.push({ ...it, status, predictedAt: Number(row.ts) });
          }
          if (unknown.length > 0) return { ok: false, unknown } as const;
          for (const r of results) if (r.status !== 'unchanged') upsert.run(r.requestId, r.index, r.label, now, now);
          return { ok: true, results } as const;
        });
      } finally {
        db.exec('PRAGMA synchronous = NORMAL');
      }
    },

    async hasPredictions(keys) {
      alive();
      const q = stmt('SELECT 1 AS one FROM msgcls_predictions WHERE request_id = ? AND item = ?');
      return keys.map((k) => q.get(k.requestId, k.index) !== undefined);
    },

    async confusion(window: QualityWindow): Promise<ConfusionCell[]> {
      alive();
      const rows =
        'sinceTs' in window
          ? (stmt(`SELECT p.model_name, p.model_version, p.label AS predicted, f.label AS actual, COUNT(*) AS n,
                SUM(f.received_ts - p.ts) AS delay_sum, MAX(f.received_ts - p.ts) AS delay_max
              FROM msgcls_feedback f JOIN msgcls_predictions p ON p.request_id = f.request_id AND p.item = f.item
              WHERE p.ts >= ? AND f.received_ts >= ?
              GROUP BY p.model_name, p.model_version, p.label, f.label`).all(window.sinceTs, window.sinceTs) as Row[])
          : (stmt(`SELECT model_name, model_version, predicted, actual, COUNT(*) AS n,
                SUM(delay) AS delay_sum, MAX(delay) AS delay_max
              FROM (SELECT p.model_name, p.model_version, p.label AS predicted, f.label AS actual,
                  f.received_ts - p.ts AS delay,
                  ROW_NUMBER() OVER (PARTITION BY p.model_name, p.model_version
                                     ORDER BY p.ts DESC, p.request_id DESC, p.item DESC) AS rn
                FROM msgcls_feedback f JOIN msgcls_predictions p ON p.request_id = f.request_id AND p.item = f.item) t
              WHERE rn <= ?
              GROUP BY model_name, model_version, predicted, actual`).all(window.lastN) as Row[]);
      return rows.map(toCell);
    },

    async purge(cutoffs: PurgeCutoffs, limit: number): Promise<PurgeCounts> {
      alive();
      const run = (sql: string, before: number) => Number(stmt(sql).run(before, limit).changes);
      // Rows about to be deleted anyway are not blanked first.
      const payload = Number(
        stmt(`UPDATE msgcls_predictions SET text = NULL WHERE rowid IN
            (SELECT rowid FROM msgcls_predictions WHERE text IS NOT NULL AND ts < ? AND ts >= ? LIMIT ?)`).run(
          cutoffs.payloadBefore,
          cutoffs.predictionsBefore,
          limit,
        ).changes,
      );
      return {
        payload,
        predictions: run(
          'DELETE FROM msgcls_predictions WHERE rowid IN (SELECT rowid FROM msgcls_predictions WHERE ts < ? LIMIT ?)',
          cutoffs.predictionsBefore,
        ),
        feedback: run(
          'DELETE FROM msgcls_feedback WHERE rowid IN (SELECT rowid FROM msgcls_feedback WHERE received_ts < ? LIMIT ?)',
          cutoffs.feedbackBefore,
        ),
      };
    },

    async ping() {
      alive();
      stmt('SELECT 1').get();
    },

    async close() {
      if (closed) return;
      closed = true;
      statements.clear();
      const worker = checkpointer;
      if (worker !== undefined) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 2000);
          worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          worker.postMessage('stop');
        });
      }
      db.close();
    },
  };
}

export function toCell(r: Row): ConfusionCell {
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
