// The SQLite store's worker thread: owns the connection and runs every store operation
// (src/store/queries.ts) off the event loop that serves requests. Messages are handled one at a time,
// in arrival order: { id, op, args } in, { id, ok, value | error } out. Prediction records arrive as
// one columnar batch per message (PredictionBatch), not one message per record.

import { parentPort, workerData } from 'node:worker_threads';
import { storeOps } from './queries.ts';
import { openSqliteDb, type SqliteDb } from './sqlite-db.ts';

type Request = { id: number; op: string; args: unknown[] };

const port = parentPort;
if (port === null) throw new Error('sqlite-worker.ts runs as a worker thread');

let db: SqliteDb | undefined;
try {
  db = openSqliteDb(workerData.file);
  port.postMessage({ open: true });
} catch (err) {
  port.postMessage({ open: false, message: (err as Error).message });
}

if (db !== undefined) {
  const conn = db;
  const ops = storeOps(conn) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  let chain: Promise<unknown> = Promise.resolve();
  port.on('message', (req: Request) => {
    chain = chain.then(async () => {
      if (req.op === 'close') {
        conn.close();
        port.postMessage({ id: req.id, ok: true });
        port.close();
        return;
      }
      try {
        const value = await ops[req.op](...req.args);
        port.postMessage({ id: req.id, ok: true, value });
      } catch (err) {
        const e = err as { message?: string; code?: unknown; errcode?: unknown };
        port.postMessage({ id: req.id, ok: false, message: String(e?.message ?? err), code: e?.code ?? e?.errcode });
      }
    });
  });
}
