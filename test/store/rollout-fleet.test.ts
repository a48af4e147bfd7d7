// A rollout across a fleet: two service processes on one PostgreSQL database, a canary on both. The
// verdict's quality and drift come from the shared tables, so either instance reports the figures of
// all the traffic (and says `fleet`); its calls and latency stay its own (and say `instance`).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chatCorpus } from '../fixtures/chat-corpus.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { rolloutRegistry, type TempRegistry } from '../helpers/rollout.ts';
import { type Child, spawnServer } from '../helpers/server.ts';

let db: TestDatabase;
let reg: TempRegistry;
let a: Child & { url: string };
let b: Child & { url: string };

before(async () => {
  db = await createTestDatabase();
  reg = await rolloutRegistry();
  const env = {
    STORE_URL: db.url,
    STORE_FLUSH_MS: '20',
    MODEL_REGISTRY: reg.root,
    MODEL_POLL_SECONDS: '0',
    ROLLOUT_MODE: 'canary',
    CHALLENGER_ALIAS: 'challenger',
    CANARY_PERCENT: '40',
    VERDICT_MIN_LABELS: '50',
    DRIFT_MIN_COUNT: '20',
    GUARD_MIN_REQUESTS: '30',
  };
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
  await reg?.cleanup();
});

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies checked field by field
async function get(url: string): Promise<any> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return res.json();
}

test('either instance gives the verdict of the whole fleet, and says which figures are whose', async () => {
  const traffic = chatCorpus(400, 21);
  const served = { a: 0, b: 0 };
  for (let i = 0; i < traffic.length; i++) {
    const target = i % 2 === 0 ? a : b;
    const res = await fetch(`${target.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': `user-${i}` },
      body: JSON.stringify({ text: traffic[i].text }),
    });
    const body = (await res.json()) as { request_id: string };
    // The label arrives at the same instance (it flushes its queue first).
    const fb = await fetch(`${target.url}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request_id: body.request_id, label: traffic[i].label }),
    });
    assert.equal(fb.status, 200);
    served[i % 2 === 0 ? 'a' : 'b']++;
  }
  const [va, vb] = [await get(`${a.url}/monitoring/rollout`), await get(`${b.url}/monitoring/rollout`)];
  for (const v of [va, vb]) {
    assert.deepEqual(v.scope, { quality: 'fleet', drift: 'fleet', requests_latency_agreement: 'instance' });
    assert.equal(v.verdict.champion.labelled + v.verdict.challenger.labelled, 400, 'every label of the fleet');
  }
  assert.equal(va.verdict.champion.labelled, vb.verdict.champion.labelled);
  assert.deepEqual(va.verdict.challenger.accuracy, vb.verdict.challenger.accuracy);
  assert.equal(va.verdict.decision, 'promote', va.verdict.reasons.join('\n'));
  // Calls are each instance's own: together, all of the traffic.
  const calls = (v: typeof va) => v.rollout.versions.champion.calls + v.rollout.versions.challenger.calls;
  assert.equal(calls(va), served.a);
  assert.equal(calls(vb), served.b);
  // Drift: the fleet window holds the predictions of both instances; each instance's own holds half.
  const fleet = await get(`${a.url}/monitoring/drift?scope=fleet`);
  const own = await get(`${a.url}/monitoring/drift`);
  assert.equal(fleet.scope, 'fleet');
  assert.equal(own.scope, 'instance');
  assert.equal(fleet.window.predictions, va.verdict.champion.labelled);
  assert.ok(own.window.predictions < fleet.window.predictions);
});
