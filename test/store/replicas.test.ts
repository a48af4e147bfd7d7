// Two service processes on one PostgreSQL database behave as one service for model quality: a label
// may arrive at either instance, and both report the same figures (they come from the database).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, queryDb, type TestDatabase } from '../helpers/postgres.ts';
import { type Child, json, postJson, spawnServer } from '../helpers/server.ts';

let db: TestDatabase;
let a: Child & { url: string };
let b: Child & { url: string };

before(async () => {
  db = await createTestDatabase();
  const env = { STORE_URL: db.url, STORE_FLUSH_MS: '50', QUALITY_REFRESH_S: '1', QUALITY_WINDOW_COUNT: '25' };
  // Both start at once: the migrations must not trip over each other.
  [a, b] = await Promise.all([spawnServer(env), spawnServer(env)]);
});

after(async () => {
  for (const s of [a, b]) {
    if (s && s.proc.exitCode === null) {
      s.proc.kill('SIGTERM');
      await s.exited;
    }
  }
  await db?.drop();
});

const TEXTS = [
  'WINNER!! Claim your free prize now, reply YES',
  'Are we still on for lunch tomorrow at 12:30?',
  'URGENT: your account is suspended, verify at http://example.com/verify',
  'Thanks for the notes, I will send the budget by Friday',
  'Cheap meds online, no prescription needed, order today',
];

/** Feedback for a prediction another instance made moments ago may 404 until that instance flushed. */
async function feedbackEventually(url: string, body: unknown) {
  for (let attempt = 0; ; attempt++) {
    const r = await postJson(`${url}/feedback`, body);
    if (r.status !== 404 || attempt >= 50) return r;
    assert.match(r.json.detail, /retry after/);
    await sleep(20);
  }
}

test('labels sent to either instance, the same quality figures from both', async () => {
  let n = 0;
  for (let i = 0; i < 30; i++) {
    const predictOn = i % 2 === 0 ? a : b;
    const labelOn = i % 3 === 0 ? a : b;
    const p = await postJson(`${predictOn.url}/predict`, { text: TEXTS[i % TEXTS.length] });
    assert.equal(p.status, 200);
    // Every fourth one is labelled against the model's answer.
    const truth = i % 4 === 0 ? (p.json.label === 'spam' ? 'ham' : 'spam') : p.json.label;
    const f = await feedbackEventually(labelOn.url, { request_id: p.json.request_id, label: truth });
    assert.equal(f.status, 200, f.text);
    n++;
  }
  const rows = await queryDb(db.url, 'SELECT count(*)::int AS n FROM msgcls_feedback');
  assert.equal(rows[0].n, n);

  const strip = (q: { computed_at?: string }) => ({ ...q, computed_at: undefined });
  const [qa, qb] = await Promise.all([a, b].map(async (s) => json(await fetch(`${s.url}/monitoring/quality`))));
  assert.deepEqual(strip(qa), strip(qb));
  const time = qa.models[0].windows.time;
  assert.equal(time.labelled, 30);
  assert.equal(time.accuracy, 22 / 30, '8 of 30 were labelled against the model');
  assert.equal(qa.models[0].windows.count.labelled, 25, 'the count window holds the last 25');

  // The gauges too, once each instance has refreshed (every second here).
  const gauges = async (url: string) =>
    (await (await fetch(`${url}/metrics`)).text())
      .split('\n')
      .filter((l) => l.startsWith('msgcls_online_') && !l.includes('label_delay'))
      .sort();
  let ga: string[] = [];
  let gb: string[] = [];
  for (let i = 0; i < 100; i++) {
    [ga, gb] = await Promise.all([gauges(a.url), gauges(b.url)]);
    if (ga.some((l) => / 30$/.test(l) && l.includes('labelled')) && ga.join() === gb.join()) break;
    await sleep(100);
  }
  assert.ok(ga.length >= 10, ga.join('\n'));
  assert.deepEqual(ga, gb);
  assert.ok(
    ga.includes('msgcls_online_labelled_predictions{model_name="msg_cls",model_version="1",window="time"} 30'),
    ga.join('\n'),
  );
});
