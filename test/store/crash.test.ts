// Durability with PostgreSQL: SIGKILL right after acknowledged feedback; every acknowledged label is in
// the database and the restarted service counts them.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, queryDb, type TestDatabase } from '../helpers/postgres.ts';
import { json, postJson, spawnServer } from '../helpers/server.ts';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db?.drop());

test('SIGKILL right after acknowledged feedback loses no acknowledged label (PostgreSQL)', async () => {
  const env = { STORE_URL: db.url, STORE_FLUSH_MS: '60000' };
  const first = await spawnServer(env);
  const acked = new Map<string, string>();
  let inFlight: Promise<unknown> | undefined;
  try {
    for (let i = 0; i < 40; i++) {
      const p = await postJson(`${first.url}/predict`, { texts: [`message ${i}`, `free prize number ${i}!!!`] });
      assert.equal(p.status, 200);
      const label = i % 3 === 0 ? 'ham' : 'spam';
      const f = await postJson(`${first.url}/feedback`, { prediction_id: p.json.prediction_id, index: 1, label });
      assert.equal(f.status, 200, f.text);
      acked.set(p.json.prediction_id, label);
    }
    // One more, not awaited: it may or may not be acknowledged when the process dies.
    inFlight = postJson(`${first.url}/predict`, { text: 'last one' }).catch(() => undefined);
  } finally {
    first.proc.kill('SIGKILL');
    await first.exited;
    await inFlight;
  }
  const rows = await queryDb(db.url, 'SELECT prediction_id, item, label FROM msgcls_feedback');
  const stored = new Map(rows.map((r) => [String(r.prediction_id), r]));
  for (const [id, label] of acked) {
    assert.equal(stored.get(id)?.label, label, `acknowledged label of ${id}`);
    assert.equal(stored.get(id)?.item, 1);
  }

  const second = await spawnServer(env);
  try {
    const q = await json(await fetch(`${second.url}/monitoring/quality`));
    assert.equal(q.store, 'postgres');
    assert.equal(q.models[0].windows.time.labelled, acked.size);
  } finally {
    second.proc.kill('SIGTERM');
    await second.exited;
  }
});
