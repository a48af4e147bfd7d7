// Hot swap on a real server (in this process, ephemeral port, temp registry): POST /admin/reload,
// polling, failures that keep the old version serving, pinned versions, and every signal carrying
// the version that answered.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { makeRegistry, type TestRegistry } from '../helpers/registry.ts';
import { json, postJson, startTestServer, type TestServer } from '../helpers/server.ts';

const TOKEN = 'a-long-admin-token-for-tests-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const TEXT = 'Hi Anna, are we still on for lunch tomorrow?';

async function reload(server: TestServer, headers: Record<string, string> = auth) {
  const res = await fetch(`${server.url}/admin/reload`, { method: 'POST', headers });
  return { status: res.status, body: await json(res) };
}

async function predict(server: TestServer, text = TEXT) {
  const res = await postJson(`${server.url}/predict`, { text });
  assert.equal(res.status, 200, res.text);
  return res.json as {
    label: string;
    proba: number;
    probabilities: Record<string, number>;
    model: { version: string };
  };
}

// With ADMIN_TOKEN set, /metrics and /monitoring/* need it too (src/http/access.ts).
const ADMIN = { headers: { authorization: `Bearer ${TOKEN}` } };

async function metricsText(server: TestServer): Promise<string> {
  return (await fetch(`${server.url}/metrics`, ADMIN)).text();
}

/** Asserts a sample line matches, showing only the lines of that metric when it does not. */
function assertSample(text: string, metric: string, re: RegExp): void {
  const lines = text.split('\n').filter((l) => l.startsWith(metric));
  assert.ok(
    lines.some((l) => re.test(l)),
    `${re} in:\n${lines.join('\n')}`,
  );
}

describe('hot swap through POST /admin/reload', () => {
  let reg: TestRegistry;
  let server: TestServer;
  let storeDir: string;
  before(async () => {
    // 2: other bias; 3: corrupt weights; 4: other labels; 5: no drift reference.
    reg = await makeRegistry([
      { kind: 'bias', bias: 2 },
      { kind: 'corrupt' },
      { kind: 'labels', labels: ['no', 'yes'] },
      { kind: 'no-reference', bias: -1 },
    ]);
    storeDir = await mkdtemp(join(tmpdir(), 'msgcls-hotswap-store-'));
    server = await startTestServer({
      MODEL_REGISTRY: reg.root,
      MODEL_POLL_SECONDS: '0',
      ADMIN_TOKEN: TOKEN,
      STORE_URL: `sqlite:${join(storeDir, 'p.db')}`,
      STORE_FLUSH_MS: '10',
      DRIFT_REFERENCE_COUNT: '20',
      DRIFT_MIN_COUNT: '10',
      DRIFT_WINDOW: '50',
    });
  });
  after(async () => {
    await server?.close();
    await reg?.remove();
    await rm(storeDir, { recursive: true, force: true });
  });

  test('needs ADMIN_TOKEN', async () => {
    const none = await reload(server, {});
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'unauthorized');
    assert.match(none.body.detail, /ADMIN_TOKEN/);
    const wrong = await reload(server, { authorization: 'Bearer not-the-token-at-all-xxxxxxxx' });
    assert.equal(wrong.status, 401);
  });

  test('unchanged while the alias points at the version served', async () => {
    const r = await reload(server);
    assert.equal(r.status, 200);
    assert.equal(r.body.outcome, 'unchanged');
    assert.equal(r.body.trigger, 'admin');
    assert.equal(r.body.model.version, '1');
  });

  test('swaps to the version the alias points at; everything carries the new version', async () => {
    const before = await predict(server);
    assert.equal(before.model.version, '1');
    await reg.alias('2');
    const r = await reload(server);
    assert.equal(r.status, 200);
    assert.equal(r.body.outcome, 'swapped', JSON.stringify(r.body));
    assert.deepEqual(r.body.from, { name: 'msg_cls', version: '1', alias: 'champion' });
    assert.deepEqual(r.body.to, { name: 'msg_cls', version: '2', alias: 'champion' });
    assert.ok(Number.isInteger(r.body.load_ms));

    const now = await predict(server);
    assert.equal(now.model.version, '2');
    // A genuinely different model: version 2's bias is 2 higher, so the spam logit is too.
    const logit = (p: number) => Math.log(p / (1 - p));
    const shift = logit(now.probabilities.spam) - logit(before.probabilities.spam);
    assert.ok(Math.abs(shift - 2) < 1e-3, JSON.stringify({ before, now, shift }));

    const health = await json(await fetch(`${server.url}/health`));
    assert.equal(health.status, 'ok');
    assert.equal(health.model.version, '2');
    assert.deepEqual(health.model.reload.follows, { alias: 'champion' });
    assert.equal(health.model.reload.poll_seconds, 0);
    assert.equal(health.model.reload.last_reload.outcome, 'swapped');
    assert.equal(health.model.reload.reloads, 1);
    assert.equal((await json(await fetch(`${server.url}/version`))).model.version, '2');

    const m = await metricsText(server);
    assertSample(m, 'msgcls_model_reloads_total', /\{role="champion"\} 1$/);
    const info = m.split('\n').filter((l) => l.startsWith('msgcls_model_info{'));
    assert.equal(info.length, 1, info.join('\n'));
    assert.match(info[0], /model_version="2"/);
    const byVersion = m.split('\n').filter((l) => l.startsWith('msgcls_predictions_total{') && !l.endsWith(' 0'));
    assert.equal(byVersion.length, 2, byVersion.join('\n'));
    assert.ok(
      byVersion.some((l) => /model_version="1",label="(ham|spam)"\} 1$/.test(l)),
      byVersion.join('\n'),
    );
    assert.ok(byVersion.some((l) => /model_version="2",label="(ham|spam)"\} 1$/.test(l)));

    const drift = await json(await fetch(`${server.url}/monitoring/drift`, ADMIN));
    assert.equal(drift.model_version, '2');
    assert.equal(drift.reference.source, 'shipped');
    assert.ok(drift.reference.n > 100);
    assert.equal(drift.window.predictions, 1, 'the new version starts a new drift window');

    const swapLog = server.logs.records().find((r) => String(r.msg).startsWith('model swapped'));
    assert.ok(swapLog, 'a log line says what was swapped');
    assert.deepEqual(swapLog.from, { version: '1' });
    assert.equal((swapLog.model as { version: string }).version, '2');
    const business = server.logs.records().filter((r) => r.log_type === 'business');
    assert.deepEqual(
      business.map((r) => r.model_version),
      ['1', '2'],
    );
  });

  test('a version that fails to load keeps the old one serving, and is counted and shown', async () => {
    await reg.alias('3');
    const r = await reload(server);
    assert.equal(r.status, 200);
    assert.equal(r.body.outcome, 'failed');
    assert.equal(r.body.target, '3');
    assert.match(r.body.error, /corrupt/);
    assert.equal(r.body.model.version, '2');
    assert.equal((await predict(server)).model.version, '2');

    const health = await json(await fetch(`${server.url}/health`));
    assert.equal(health.status, 'ok', 'the service still serves');
    assert.equal(health.model.version, '2');
    assert.equal(health.model.reload.last_reload.outcome, 'failed');
    assert.equal(health.model.reload.last_failure.target, '3');
    assert.match(health.model.reload.last_failure.error, /corrupt/);
    assert.ok(Date.parse(health.model.reload.last_failure.at) <= Date.now());
    assert.equal(health.model.reload.reload_failures, 1);

    const m = await metricsText(server);
    assertSample(m, 'msgcls_model_reload_failures_total', /\{role="champion"\} 1$/);
    assertSample(m, 'msgcls_model_load_total', /\{result="failure"\} 1$/);
    const line = server.logs
      .records()
      .find((l) => l.msg === 'model reload failed; the version being served keeps serving');
    assert.ok(line);
    assert.equal(line.target_version, '3');
    assert.equal(line.serving_version, '2');
  });

  test('a version with other labels is refused', async () => {
    await reg.alias('4');
    const r = await reload(server);
    assert.equal(r.body.outcome, 'failed');
    assert.match(r.body.error, /labels \[no, yes\].*\[ham, spam\]/);
    assert.equal((await predict(server)).model.version, '2');
  });

  test('an alias that points nowhere fails with the registry’s reason', async () => {
    await reg.alias('2', 'other');
    const { deleteAlias } = await import('../../src/registry/local.ts');
    await deleteAlias(reg.root, 'msg_cls', 'champion');
    const r = await reload(server);
    assert.equal(r.body.outcome, 'failed');
    assert.equal(r.body.target, null);
    assert.match(r.body.error, /champion/);
    assert.equal((await predict(server)).model.version, '2');
  });

  test('a version without a drift reference gets one from its first predictions', async () => {
    await reg.alias('5');
    const r = await reload(server);
    assert.equal(r.body.outcome, 'swapped', JSON.stringify(r.body));
    for (let i = 0; i < 5; i++) await predict(server, `message number ${i} about lunch`);
    let drift = await json(await fetch(`${server.url}/monitoring/drift`, ADMIN));
    assert.equal(drift.model_version, '5');
    assert.equal(drift.status, 'building_reference');
    assert.deepEqual(drift.reference, { source: 'first_predictions', n: 5 });
    assert.deepEqual(drift.features, {});
    for (let i = 5; i < 20 + 12; i++) await predict(server, `message number ${i} about lunch and ${'x'.repeat(i)}`);
    drift = await json(await fetch(`${server.url}/monitoring/drift`, ADMIN));
    assert.deepEqual(drift.reference, { source: 'first_predictions', n: 20 });
    // Longer texts than the reference's: the status is the worst verdict over the features.
    const verdicts = Object.values(drift.features).map((f) => (f as { verdict: string | null }).verdict);
    assert.equal(
      drift.status,
      verdicts.includes('drifted') ? 'drifted' : verdicts.includes('moderate') ? 'moderate' : 'ok',
    );
    assert.equal(drift.window.predictions, 12);
    assert.equal(typeof drift.features.text_length.psi, 'number');
    assert.equal(typeof drift.features.score.psi, 'number');
  });

  test('the prediction store holds the version that answered each request', async () => {
    await server.monitoring.writer?.flush(5000);
    const db = new DatabaseSync(join(storeDir, 'p.db'), { readOnly: true });
    try {
      const rows = db
        .prepare('SELECT model_version AS v, count(*) AS n FROM msgcls_predictions GROUP BY model_version ORDER BY v')
        .all() as { v: string; n: number }[];
      assert.deepEqual(
        rows.map((r) => [r.v, Number(r.n)]),
        [
          ['1', 1],
          ['2', 4],
          ['5', 32],
        ],
      );
    } finally {
      db.close();
    }
  });
});

describe('hot swap by polling', () => {
  let reg: TestRegistry;
  let server: TestServer;
  before(async () => {
    reg = await makeRegistry([{ kind: 'bias', bias: 2 }]);
    server = await startTestServer({ MODEL_REGISTRY: reg.root, MODEL_POLL_SECONDS: '1' });
  });
  after(async () => {
    await server?.close();
    await reg?.remove();
  });

  test('follows the alias within the poll interval; without ADMIN_TOKEN /admin/reload is open', async () => {
    assert.equal((await predict(server)).model.version, '1');
    await reg.alias('2');
    const deadline = Date.now() + 10_000;
    let version = '1';
    while (version !== '2' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      version = (await predict(server)).model.version;
    }
    assert.equal(version, '2');
    const health = await json(await fetch(`${server.url}/health`));
    assert.equal(health.model.reload.last_reload.trigger, 'poll');
    assert.equal(health.model.reload.poll_seconds, 1);
    assert.ok(health.model.reload.last_check_at);
    const r = await reload(server, {});
    assert.equal(r.status, 200);
    assert.equal(r.body.outcome, 'unchanged');
  });
});

describe('a pinned MODEL_VERSION', () => {
  let reg: TestRegistry;
  let server: TestServer;
  before(async () => {
    reg = await makeRegistry([{ kind: 'bias', bias: 2 }]);
    await reg.alias('2');
    server = await startTestServer({ MODEL_REGISTRY: reg.root, MODEL_VERSION: '1', MODEL_POLL_SECONDS: '1' });
  });
  after(async () => {
    await server?.close();
    await reg?.remove();
  });

  test('follows nothing: reload re-validates the version and leaves it', async () => {
    const r = await reload(server, {});
    assert.equal(r.body.outcome, 'unchanged');
    assert.equal(r.body.model.version, '1');
    const health = await json(await fetch(`${server.url}/health`));
    assert.deepEqual(health.model.reload.follows, { version: '1' });
    assert.equal(health.model.reload.poll_seconds, 0, 'a pinned version is not polled');
    assert.equal((await predict(server)).model.version, '1');
  });
});

describe('/admin/reload in the API docs', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  test('is documented in OpenAPI with its outcomes', async () => {
    const spec = await json(await fetch(`${server.url}/openapi.json`));
    const op = spec.paths['/admin/reload']?.post;
    assert.ok(op, '/admin/reload documented');
    assert.match(op.description, /hot|swap/i);
    const schema = op.responses['200'].content['application/json'].schema;
    assert.deepEqual(schema.properties.outcome.enum, ['unchanged', 'swapped', 'failed']);
    assert.ok(
      spec.paths['/health'].get.responses['200'].content['application/json'].schema.properties.model.properties.reload,
    );
  });
});
