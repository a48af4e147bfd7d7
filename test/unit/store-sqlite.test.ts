// The store contract on real SQLite files (node:sqlite, WAL), plus what is SQLite's own.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { LATEST_VERSION } from '../../src/store/migrations.ts';
import { migrateAtStart } from '../../src/store/open.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { StoreConfigError } from '../../src/store/types.ts';
import { storeContract } from '../helpers/store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'msgcls-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const files = new Map<object, string>();

storeContract('SQLite', {
  async open() {
    const file = join(dir, `store-${n++}.db`);
    const store = await openSqliteStore(file);
    files.set(store, file);
    return store;
  },
  async query(store, sql) {
    const db = new DatabaseSync(files.get(store) as string, { timeout: 5000 });
    try {
      return db
        .prepare(sql)
        .all()
        .map((r) => ({ ...r }));
    } finally {
      db.close();
    }
  },
});

describe('SQLite specifics', () => {
  test('uses WAL and creates the folder of the file', async () => {
    const file = join(dir, 'nested', 'deeper', 'wal.db');
    const store = await openSqliteStore(file);
    await store.migrate();
    await store.close();
    const db = new DatabaseSync(file);
    assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
    db.close();
  });

  test('applies only the missing migrations to a database of an older version', async () => {
    const file = join(dir, 'v1.db');
    const store = await openSqliteStore(file);
    await store.migrate();
    await store.close();
    const db = new DatabaseSync(file);
    db.exec('DROP INDEX msgcls_predictions_text_ts; DELETE FROM msgcls_schema_migrations WHERE version = 2');
    db.close();
    const again = await openSqliteStore(file);
    assert.deepEqual(await again.migrate(), { applied: [2], version: LATEST_VERSION });
    await again.close();
  });

  test('an unusable file is a configuration error that says what to do', async () => {
    const { writeFileSync } = await import('node:fs');
    const aFile = join(dir, 'a-file');
    writeFileSync(aFile, 'x');
    await assert.rejects(
      () => openSqliteStore(join(aFile, 'sub', 'x.db')),
      (err: unknown) =>
        err instanceof StoreConfigError && /check that the folder is writable.*STORE_URL/.test(err.message),
    );
    const notDb = join(dir, 'not-a-db.db');
    writeFileSync(notDb, 'this is not a database file, just text '.repeat(100));
    await assert.rejects(
      async () => migrateAtStart(await openSqliteStore(notDb)),
      (err: unknown) => err instanceof StoreConfigError && /STORE_URL/.test(err.message),
    );
  });
});

describe('the quality windows never scan a table', () => {
  // The plans SQLite makes for the window queries on the migrated schema: every step an index search
  // (no SCAN of a table or of a whole index, no sort of the rows read — a GROUP BY of a few cells is fine).
  // Before, the count window planned `SCAN … USE TEMP B-TREE` over every labelled prediction.
  test('each window query is an index search', async () => {
    const { MIGRATIONS, MIGRATIONS_TABLE } = await import('../../src/store/migrations.ts');
    const { windowSql } = await import('../../src/store/queries.ts');
    const db = new DatabaseSync(':memory:');
    db.exec(MIGRATIONS_TABLE);
    for (const m of MIGRATIONS) for (const sql of m.statements) db.exec(sql);
    const sql = windowSql('sqlite');
    const plans = {
      time: [0, 0],
      nextName: [''],
      nextVersion: ['msg_cls', '1'],
      count: ['msg_cls', '1', 'msg_cls', '1', 1000],
    } as const;
    for (const [name, params] of Object.entries(plans)) {
      const steps = (
        db.prepare(`EXPLAIN QUERY PLAN ${sql[name as keyof typeof plans]}`).all(...params) as { detail: string }[]
      ).map((r) => r.detail);
      assert.ok(
        steps.some((d) => /^SEARCH msgcls_feedback USING (COVERING )?INDEX/.test(d)),
        `${name}: ${steps.join(' | ')}`,
      );
      for (const d of steps) {
        assert.doesNotMatch(d, /^SCAN (?!t$)|ORDER BY/, `${name}: ${steps.join(' | ')}`);
        // A row-value range seeks on its first column only, then steps over every entry after it.
        assert.doesNotMatch(d, /\(\w+,\w+\)[<>]/, `${name}: ${steps.join(' | ')}`);
      }
    }
    db.close();
  });
});
