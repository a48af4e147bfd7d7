// The SQLite side of the query module (src/store/queries.ts): a node:sqlite connection as a `Db`.
// Used only inside the store's worker thread (./sqlite-worker.ts): node:sqlite is synchronous, and
// there it blocks that thread, not the event loop that serves requests.
//
// WAL mode lets readers (tests, the sqlite3 shell) run alongside the writer. Prediction batches commit
// with synchronous=NORMAL (safe against a crash of the process, which is what matters for a log that
// is best effort anyway); feedback commits with synchronous=FULL, so a 2xx means the label was fsynced.
// SQLite's automatic checkpoint runs inside a commit — in this thread, so it costs the request path nothing.

import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { makeDirs } from './make-dirs.ts';
import type { Db, Row } from './queries.ts';

export type SqliteDb = Db & { close(): void };

export function openSqliteDb(file: string): SqliteDb {
  makeDirs(dirname(file));
  const db = new DatabaseSync(file, { timeout: 5000 });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');

  const statements = new Map<string, StatementSync>();
  const stmt = (sql: string): StatementSync => {
    let s = statements.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };
  const params = (p: readonly unknown[] | undefined) => (p ?? []) as SQLInputValue[];
  const sql = {
    async all(text: string, p?: readonly unknown[]): Promise<Row[]> {
      return stmt(text).all(...params(p)) as Row[];
    },
    async run(text: string, p?: readonly unknown[]): Promise<number> {
      // DDL is not prepared once and kept: run it as it comes.
      if (p === undefined && !/^\s*(INSERT|UPDATE|DELETE|SELECT)/i.test(text)) {
        db.exec(text);
        return 0;
      }
      return Number(stmt(text).run(...params(p)).changes);
    },
  };
  return {
    dialect: 'sqlite',
    ...sql,
    async transaction(fn, opts) {
      if (opts?.durable) db.exec('PRAGMA synchronous = FULL');
      db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(sql);
        db.exec('COMMIT');
        return out;
      } catch (err) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw err;
      } finally {
        if (opts?.durable) db.exec('PRAGMA synchronous = NORMAL');
      }
    },
    close() {
      statements.clear();
      db.close();
    },
  };
}
