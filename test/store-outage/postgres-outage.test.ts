// The machine's PostgreSQL is stopped while the service is under load (npm run test:store:outage; it
// affects everything on this machine that uses PostgreSQL, so it is kept apart and short: about 4 s).
// While it is down: /predict keeps answering 200, /ready stays 200 (the model serves), /health says
// the store is degraded, records beyond the queue are dropped and counted, feedback answers 503. When
// it is back: writes resume by themselves and new labels are accepted. PostgreSQL is started again
// in `finally`, whatever happens.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createTestDatabase, PG_ADMIN_URL, queryDb, type TestDatabase } from '../helpers/postgres.ts';
import { type Child, json, postJson, spawnServer } from '../helpers/server.ts';

const CLUSTER_VERSION = readdirSync('/etc/postgresql')[0];
const pgctl = (action: 'start' | 'stop') =>
  execFileSync(
    'pg_ctlcluster',
    ['--skip-systemctl-redirect', CLUSTER_VERSION, 'main', action, ...(action === 'stop' ? ['-m', 'fast'] : [])],
    { stdio: 'pipe', timeout: 60_000 },
  );

async function postgresUp(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 1000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function startPostgres(): Promise<void> {
  if (await postgresUp()) return;
  try {
    pgctl('start');
  } catch (err) {
    // Already running (another start won the race) is fine; anything else is reported below.
    if (!(await postgresUp())) throw err;
  }
  for (let i = 0; i < 100 && !(await postgresUp()); i++) await sleep(100);
}

let db: TestDatabase;
let svc: Child & { url: string };

before(async () => {
  db = await createTestDatabase();
  svc = await spawnServer({ STORE_URL: db.url, STORE_QUEUE_SIZE: '100', STORE_FLUSH_MS: '50' });
});

after(async () => {
  await startPostgres();
  if (svc && svc.proc.exitCode === null) {
    svc.proc.kill('SIGTERM');
    await svc.exited;
  }
  await db?.drop();
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${svc.url}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** Sends /predict from `workers` loops until stop() is called; counts the statuses. */
function load(workers = 4) {
  const statuses = new Map<number, number>();
  let running = true;
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; running; i++) {
      const r = await postJson(`${svc.url}/predict`, { text: `load ${w}-${i}: win a free prize now` });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  });
  return {
    statuses,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

test('PostgreSQL stopped under load: predictions go on, the store is degraded, drops are counted, writes resume', async () => {
  const warm = load();
  await sleep(500);
  await warm.stop();
  assert.deepEqual([...warm.statuses.keys()], [200]);
  const writtenBefore = await metric('msgcls_store_written_records_total');
  assert.ok(writtenBefore > 0);

  const traffic = load();
  let downFor = 0;
  try {
    pgctl('stop');
    const stoppedAt = Date.now();
    // Long enough for the queue (100 records) to fill and the writer to fail a few times.
    await sleep(2500);
    const health = await fetch(`${svc.url}/health`);
    assert.equal(health.status, 200, 'the model still serves');
    const h = await json(health);
    assert.equal(h.status, 'degraded');
    assert.equal(h.store.status, 'degraded');
    assert.match(h.reason, /store is failing/);
    assert.ok(h.store.last_error?.message, JSON.stringify(h.store));
    assert.equal((await fetch(`${svc.url}/ready`)).status, 200, '/ready stays 200: the store is not needed to predict');
    assert.equal(await metric('msgcls_store_up{backend="postgres"}'), 0);
    assert.ok((await metric('msgcls_store_write_failures_total')) > 0);
    assert.ok((await metric('msgcls_store_dropped_records_total{reason="queue_full"}')) > 0, 'drops are counted');
    const p = await postJson(`${svc.url}/predict`, { text: 'one more' });
    const f = await postJson(`${svc.url}/feedback`, { request_id: p.json.request_id, label: 'ham' });
    assert.equal(f.status, 503);
    assert.equal(f.json.error, 'store_unavailable');
    assert.match(f.json.detail, /nothing was recorded.*Retry/);
    downFor = Date.now() - stoppedAt;
  } finally {
    await startPostgres();
  }
  // Writes resume by themselves: the queue drains, the store is up again.
  for (let i = 0; i < 200; i++) {
    const h = await json(await fetch(`${svc.url}/health`));
    if ((await metric('msgcls_store_up{backend="postgres"}')) === 1 && h.store.queue_depth < 100) break;
    await sleep(100);
  }
  await traffic.stop();
  assert.deepEqual([...traffic.statuses.keys()], [200], `every /predict answered 200: ${[...traffic.statuses]}`);
  const total = [...traffic.statuses.values()].reduce((a, b) => a + b, 0);
  assert.ok(total > 100, `${total} predictions during the test, PostgreSQL down for ${downFor} ms`);

  const h = await json(await fetch(`${svc.url}/health`));
  // Records were dropped during the outage: /health stays degraded for a minute after, saying so.
  assert.equal(h.store.status, 'degraded');
  assert.equal(h.store.last_error.what, 'records dropped (queue_full)');
  assert.equal(await metric('msgcls_store_up{backend="postgres"}'), 1);
  assert.ok((await metric('msgcls_store_written_records_total')) > writtenBefore);

  // A prediction made now is stored and takes a label.
  const p = await postJson(`${svc.url}/predict`, { text: 'after the outage' });
  const f = await postJson(`${svc.url}/feedback`, { request_id: p.json.request_id, label: 'ham' });
  assert.equal(f.status, 200, f.text);
  const written = await metric('msgcls_store_written_records_total');
  const dropped =
    (await metric('msgcls_store_dropped_records_total{reason="queue_full"}')) +
    (await metric('msgcls_store_dropped_records_total{reason="rejected"}'));
  const [{ n }] = await queryDb(db.url, 'SELECT count(*)::int AS n FROM msgcls_predictions');
  assert.equal(n, written, 'every record counted as written is in the database');
  assert.ok(dropped > 0);
});
