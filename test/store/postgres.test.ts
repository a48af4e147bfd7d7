// The store contract on the machine's real PostgreSQL, plus what is PostgreSQL's own: concurrent
// migrations from several instances, and configuration errors that stop the start.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { LATEST_VERSION, MIGRATIONS } from '../../src/store/migrations.ts';
import { migrateAtStart } from '../../src/store/open.ts';
import { openPostgresStore } from '../../src/store/postgres.ts';
import { type Store, StoreConfigError } from '../../src/store/types.ts';
import { createTestDatabase, queryDb, type TestDatabase } from '../helpers/postgres.ts';
import { storeContract } from '../helpers/store-contract.ts';

const databases: TestDatabase[] = [];
const urls = new Map<Store, string>();
after(async () => {
  for (const d of databases) await d.drop();
});

storeContract('PostgreSQL', {
  async open() {
    const db = await createTestDatabase();
    databases.push(db);
    const store = openPostgresStore(db.url, db.name, { poolSize: 2 });
    urls.set(store, db.url);
    return store;
  },
  query: (store, sql) => queryDb(urls.get(store) as string, sql),
});

describe('PostgreSQL specifics', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    databases.push(db);
  });

  test('instances that start at the same time migrate once, without errors', async () => {
    const stores = Array.from({ length: 4 }, () => openPostgresStore(db.url, db.name, { poolSize: 1 }));
    try {
      const results = await Promise.all(stores.map((s) => s.migrate()));
      const applied = results.flatMap((r) => r.applied);
      assert.deepEqual(
        applied,
        MIGRATIONS.map((m) => m.version),
        'each migration applied exactly once',
      );
      for (const r of results) assert.equal(r.version, LATEST_VERSION);
    } finally {
      for (const s of stores) await s.close();
    }
  });

  test('a missing database or a wrong user is a configuration error that says what to fix', async () => {
    const url = new URL(db.url);
    url.pathname = '/msgcls_no_such_database';
    const missing = openPostgresStore(url.toString(), 'missing', { poolSize: 1 });
    await assert.rejects(
      () => migrateAtStart(missing),
      (err: unknown) => err instanceof StoreConfigError && /database must exist/.test(err.message),
    );
    await missing.close();
    const user = new URL(db.url);
    user.username = 'msgcls_no_such_user';
    const wrongUser = openPostgresStore(user.toString(), 'wrong user', { poolSize: 1 });
    await assert.rejects(
      () => migrateAtStart(wrongUser),
      (err: unknown) => err instanceof StoreConfigError && /check the user, password/.test(err.message),
    );
    await wrongUser.close();
  });

  test('an unreachable server is not a configuration error: the service starts degraded', async () => {
    const store = openPostgresStore('postgres://postgres@127.0.0.1:1/none', 'nowhere', { poolSize: 1 });
    const r = await migrateAtStart(store);
    assert.equal(r.ok, false);
    await store.close();
  });

  test('close() is bounded: a query stuck behind a lock does not hold the shutdown past the deadline', async () => {
    const store = openPostgresStore(db.url, db.name, { poolSize: 2 });
    await store.migrate();
    await store.insertPredictions([
      {
        predictionId: 'stuck',
        index: 0,
        ts: Date.now(),
        modelName: 'm',
        modelVersion: '1',
        modelRole: 'champion',
        label: 'spam',
        proba: 0.9,
        score: 0.9,
        textLength: 1,
        tokenCount: 1,
        digitShare: 0,
        upperShare: 0,
        urlCount: 0,
        unknownTokenShare: 0,
        text: null,
      },
    ]);
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE msgcls_feedback IN ACCESS EXCLUSIVE MODE');
      const stuck = store.recordFeedback([{ predictionId: 'stuck', index: 0, label: 'ham' }], Date.now());
      stuck.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200)); // the feedback now waits for the lock
      const t0 = performance.now();
      await store.close(500);
      const ms = performance.now() - t0;
      assert.ok(
        ms < 2000,
        `close took ${ms.toFixed(0)} ms with a 500 ms deadline (before: up to the 15 s query timeout)`,
      );
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
  });
});
