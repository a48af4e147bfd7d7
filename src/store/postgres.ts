// The PostgreSQL store (STORE_URL=postgres://…), through a pg connection pool. Several service
// instances share one database: migrations take an advisory lock, and every figure that
// /monitoring/quality reports is computed by the database from the shared tables.

import pg from 'pg';
import { MIGRATIONS, MIGRATIONS_TABLE } from './migrations.ts';
import { toCell } from './sqlite.ts';
import {
  type ConfusionCell,
  dedupeFeedback,
  type FeedbackItem,
  type FeedbackOutcome,
  type FeedbackResult,
  featureRow,
  PREDICTION_COLUMNS,
  type PredictionRecord,
  type PurgeCounts,
  type PurgeCutoffs,
  predictionRow,
  type QualityWindow,
  type Store,
  StoreConfigError,
} from './types.ts';

// Array types for unnest(): one round trip inserts a whole batch.
const COLUMN_TYPES: Record<(typeof PREDICTION_COLUMNS)[number], string> = {
  request_id: 'text[]',
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

const INSERT_SQL = `INSERT INTO msgcls_predictions (${PREDICTION_COLUMNS.join(', ')})
  SELECT * FROM unnest(${PREDICTION_COLUMNS.map((c, i) => `$${i + 1}::${COLUMN_TYPES[c]}`).join(', ')})
  ON CONFLICT (request_id, item) DO NOTHING`;

// SQLSTATE classes and codes that no retry can fix: the operator must change STORE_URL or the database.
const CONFIG_CODES = new Set(['28000', '28P01', '3D000', '42501', '3F000']);
const CONFIG_ERRNOS = new Set(['ENOTFOUND', 'EAI_AGAIN']);

export function isConfigError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (CONFIG_CODES.has(code) || CONFIG_ERRNOS.has(code));
}

export type PostgresOptions = {
  poolSize: number;
  /** Called when an idle pooled connection fails (e.g. the server restarts); the pool replaces it. */
  onIdleError?: (err: Error) => void;
};

export function openPostgresStore(url: string, location: string, opts: PostgresOptions): Store {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    query_timeout: 15_000,
    statement_timeout: 15_000,
    application_name: 'msg-cls',
  });
  // Without a listener, an idle client's error (server shutdown) would crash the process.
  pool.on('error', (err) => opts.onIdleError?.(err));

  const inTransaction = async <T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  };

  return {
    backend: 'postgres',
    location,

    async migrate() {
      try {
        return await inTransaction(async (client) => {
          // One instance migrates at a time; the others wait, then find nothing left to do.
          await client.query("SELECT pg_advisory_xact_lock(hashtext('msgcls_schema_migrations'))");
          await client.query(MIGRATIONS_TABLE);
          const done = new Set(
            (await client.query('SELECT version FROM msgcls_schema_migrations')).rows.map((r) => Number(r.version)),
          );
          const applied: number[] = [];
          for (const m of MIGRATIONS) {
            if (done.has(m.version)) continue;
            for (const sql of m.statements) await client.query(sql);
            await client.query('INSERT INTO msgcls_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
              m.version,
              m.name,
              Date.now(),
            ]);
            applied.push(m.version);
          }
          return { applied, version: Math.max(0, ...done, ...applied) };
        });
      } catch (err) {
        if (isConfigError(err)) {
          throw new StoreConfigError(
            `cannot use the PostgreSQL store ${location}: ${(err as Error).message}; check the user, password, host and database in STORE_URL (the database must exist)`,
            err,
          );
        }
        throw err;
      }
    },

    async insertPredictions(records: readonly PredictionRecord[]) {
      const columns: (string | number | null)[][] = PREDICTION_COLUMNS.map(() => new Array(records.length));
      for (let i = 0; i < records.length; i++) {
        const row = predictionRow(records[i]);
        for (let c = 0; c < row.length; c++) columns[c][i] = row[c];
      }
      const r = await pool.query(INSERT_SQL, columns);
      return r.rowCount ?? 0;
    },

    async recordFeedback(items: readonly FeedbackItem[], now: number): Promise<FeedbackOutcome> {
      const unique = dedupeFeedback(items);
      const ids = unique.map((i) => i.requestId);
      const idx = unique.map((i) => i.index);
      return inTransaction(async (client) => {
        // FOR UPDATE OF f would not lock a missing row; the upsert's conflict handling covers races.
        const found = await client.query(
          `SELECT k.request_id, k.item, p.ts, f.label
             FROM unnest($1::text[], $2::int[]) AS k(request_id, item)
             JOIN msgcls_predictions p ON p.request_id = k.request_id AND p.item = k.item
             LEFT JOIN msgcls_feedback f ON f.request_id = k.request_id AND f.item = k.item`,
          [ids, idx],
        );
        const byKey = new Map(found.rows.map((r) => [`${r.item}\u0000${r.request_id}`, r]));
        const unknown: FeedbackItem[] = [];
        const results: FeedbackResult[] = [];
        for (const it of unique) {
          const row = byKey.get(`${it.index}\u0000${it.requestId}`);
          if (row === undefined) {
            unknown.push(it);
            continue;
          }
          const status = row.label === null ? 'recorded' : row.label === it.label ? 'unchanged' : 'updated';
          results.push({ ...it, status, predictedAt: Number(row.ts) });
        }
        if (unknown.length > 0) return { ok: false, unknown } as const;
        const changed = results.filter((r) => r.status !== 'unchanged');
        if (changed.length > 0) {
          await client.query(
            `INSERT INTO msgcls_feedback (request_id, item, label, received_ts, updated_ts)
               SELECT request_id, item, label, $4::bigint, $4::bigint FROM unnest($1::text[], $2::int[], $3::text[]) AS k(request_id, item, label)
               ON CONFLICT (request_id, item) DO UPDATE SET label = excluded.label, updated_ts = excluded.updated_ts
               WHERE msgcls_feedback.label <> excluded.label`,
            [changed.map((r) => r.requestId), changed.map((r) => r.index), changed.map((r) => r.label), now],
          );
        }
        return { ok: true, results } as const;
      });
    },

    async hasPredictions(keys) {
      const r = await pool.query(
        `SELECT k.n FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS k(request_id, item, n)
           JOIN msgcls_predictions p ON p.request_id = k.request_id AND p.item = k.item`,
        [keys.map((k) => k.requestId), keys.map((k) => k.index)],
      );
      const found = new Set(r.rows.map((row) => Number(row.n) - 1));
      return keys.map((_, i) => found.has(i));
    },

    async confusion(window: QualityWindow): Promise<ConfusionCell[]> {
      const r =
        'sinceTs' in window
          ? await pool.query(
              `SELECT p.model_name, p.model_version, p.label AS predicted, f.label AS actual, COUNT(*) AS n,
                  SUM(f.received_ts - p.ts) AS delay_sum, MAX(f.received_ts - p.ts) AS delay_max
                FROM msgcls_feedback f JOIN msgcls_predictions p ON p.request_id = f.request_id AND p.item = f.item
                WHERE p.ts >= $1 AND f.received_ts >= $1
                GROUP BY p.model_name, p.model_version, p.label, f.label`,
              [window.sinceTs],
            )
          : await pool.query(
              `SELECT model_name, model_version, predicted, actual, COUNT(*) AS n,
                  SUM(delay) AS delay_sum, MAX(delay) AS delay_max
                FROM (SELECT p.model_name, p.model_version, p.label AS predicted, f.label AS actual,
                    f.received_ts - p.ts AS delay,
                    ROW_NUMBER() OVER (PARTITION BY p.model_name, p.model_version
                                       ORDER BY p.ts DESC, p.request_id DESC, p.item DESC) AS rn
                  FROM msgcls_feedback f JOIN msgcls_predictions p ON p.request_id = f.request_id AND p.item = f.item) t
                WHERE rn <= $1
                GROUP BY model_name, model_version, predicted, actual`,
              [window.lastN],
            );
      return r.rows.map(toCell);
    },

    async recentFeatures({ modelName, modelVersion, sinceTs, limit }) {
      const r = await pool.query(
        `SELECT text_length, token_count, digit_share, upper_share, url_count, unknown_token_share, score, ts
              FROM msgcls_predictions WHERE model_name = $1 AND model_version = $2 AND ts >= $3
              ORDER BY ts DESC LIMIT $4`,
        [modelName, modelVersion, sinceTs, limit],
      );
      return r.rows.map(featureRow);
    },

    async labelledTexts({ sinceTs, modelName, limit }) {
      const r = await pool.query(
        `SELECT p.text, f.label, p.ts, p.model_version, p.label AS predicted
              FROM msgcls_feedback f JOIN msgcls_predictions p ON p.request_id = f.request_id AND p.item = f.item
              WHERE p.text IS NOT NULL AND p.ts >= $1 AND p.model_name = $2
              ORDER BY p.ts, p.request_id, p.item LIMIT $3`,
        [sinceTs, modelName, limit],
      );
      return r.rows.map((row) => ({
        text: row.text as string,
        label: row.label as string,
        ts: Number(row.ts),
        modelVersion: row.model_version as string,
        predicted: row.predicted as string,
      }));
    },

    async purge(cutoffs: PurgeCutoffs, limit: number): Promise<PurgeCounts> {
      // ctid = ANY(ARRAY(…)) is a TID scan: each batch touches only the rows it deletes.
      const run = async (sql: string, before: number) => (await pool.query(sql, [before, limit])).rowCount ?? 0;
      // Rows about to be deleted anyway are not blanked first.
      const payload =
        (
          await pool.query(
            `UPDATE msgcls_predictions SET text = NULL WHERE ctid = ANY(ARRAY(
              SELECT ctid FROM msgcls_predictions WHERE text IS NOT NULL AND ts < $1 AND ts >= $3 LIMIT $2))`,
            [cutoffs.payloadBefore, limit, cutoffs.predictionsBefore],
          )
        ).rowCount ?? 0;
      return {
        payload,
        predictions: await run(
          'DELETE FROM msgcls_predictions WHERE ctid = ANY(ARRAY(SELECT ctid FROM msgcls_predictions WHERE ts < $1 LIMIT $2))',
          cutoffs.predictionsBefore,
        ),
        feedback: await run(
          'DELETE FROM msgcls_feedback WHERE ctid = ANY(ARRAY(SELECT ctid FROM msgcls_feedback WHERE received_ts < $1 LIMIT $2))',
          cutoffs.feedbackBefore,
        ),
      };
    },

    async ping() {
      await pool.query('SELECT 1');
    },

    async close() {
      await pool.end();
    },
  };
}
