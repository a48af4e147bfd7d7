// The PostgreSQL store (STORE_URL=postgres://…), through a pg connection pool: the query module
// (src/store/queries.ts) over a pool. Several service instances share one database: migrations take
// an advisory lock, and every figure that /monitoring/quality reports is computed by the database from
// the shared tables. Prediction batches are one INSERT … SELECT FROM unnest(arrays) each, and the
// writer keeps several in flight at once, one per pooled connection.

import pg from 'pg';
import { type Db, type Sql, storeOps } from './queries.ts';
import { encodeBatch, type PredictionBatch, type PredictionRecord, type Store, StoreConfigError } from './types.ts';

// SQLSTATE classes and codes that no retry can fix: the operator must change STORE_URL or the database.
const CONFIG_CODES = new Set(['28000', '28P01', '3D000', '42501', '3F000']);
const CONFIG_ERRNOS = new Set(['ENOTFOUND', 'EAI_AGAIN']);
const CLOSE_TIMEOUT_MS = 5000;

export function isConfigError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (CONFIG_CODES.has(code) || CONFIG_ERRNOS.has(code));
}

export type PostgresOptions = {
  poolSize: number;
  /** Called when an idle pooled connection fails (e.g. the server restarts); the pool replaces it. */
  onIdleError?: (err: Error) => void;
};

// `?` → `$1, $2, …` (the query module's SQL never has a ? inside a string literal).
const numbered = new Map<string, string>();
function toPg(sql: string): string {
  let out = numbered.get(sql);
  if (out === undefined) {
    let i = 0;
    out = sql.replace(/\?/g, () => `$${++i}`);
    numbered.set(sql, out);
  }
  return out;
}

const onClient = (c: pg.Pool | pg.PoolClient): Sql => ({
  async all(sql, params) {
    return (await c.query(toPg(sql), params as unknown[])).rows;
  },
  async run(sql, params) {
    return (await c.query(toPg(sql), params as unknown[])).rowCount ?? 0;
  },
});

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

  const db: Db = {
    dialect: 'postgres',
    ...onClient(pool),
    async transaction(fn) {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const out = await fn(onClient(client));
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
    },
  };
  const ops = storeOps(db);
  let closed = false;
  // After close() every operation fails at once instead of waiting for a pool that is gone.
  const open =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      closed ? Promise.reject(new Error('the store is closed')) : fn(...args);

  return {
    backend: 'postgres',
    location,
    migrate: open(async () => {
      try {
        return await ops.migrate();
      } catch (err) {
        if (isConfigError(err)) {
          throw new StoreConfigError(
            `cannot use the PostgreSQL store ${location}: ${(err as Error).message}; check the user, password, host and database in STORE_URL (the database must exist)`,
            err,
          );
        }
        throw err;
      }
    }),
    insertPredictions: open((records: readonly PredictionRecord[] | PredictionBatch) =>
      ops.insertPredictions(Array.isArray(records) ? encodeBatch(records) : (records as PredictionBatch)),
    ),
    recordFeedback: open(ops.recordFeedback),
    hasPredictions: open(ops.hasPredictions),
    confusion: open(ops.confusion),
    purge: open(ops.purge),
    deleteOldest: open(ops.deleteOldest),
    labelledTexts: open(ops.labelledTexts),
    recentFeatures: open(ops.recentFeatures),
    usage: open(ops.usage),
    ping: open(ops.ping),
    async close(timeoutMs = CLOSE_TIMEOUT_MS) {
      if (closed) return;
      closed = true;
      // pool.end() waits for every checked-out client, up to the 15 s query timeout: bound it, and
      // let the process exit without waiting for connections still busy.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        pool.end().catch(() => undefined),
        new Promise<void>((res) => {
          timer = setTimeout(res, timeoutMs);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
