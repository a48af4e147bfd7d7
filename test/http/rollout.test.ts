// Rollouts on real servers: canary stickiness and roles, the verdict from real feedback, promotion
// through the CLI and the service following its aliases, the guard, and shadow scoring.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { chatCorpus } from '../fixtures/chat-corpus.ts';
import { rolloutRegistry, type TempRegistry } from '../helpers/rollout.ts';
import { CLI, startTestServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);

type Answer = { label: string; model: { name: string; version: string; role: string }; request_id: string };

async function predict(server: TestServer, text: string, user?: string): Promise<Answer> {
  const res = await fetch(`${server.url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(user ? { 'x-user-id': user } : {}) },
    body: JSON.stringify({ text }),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as Answer;
}

async function json(server: TestServer, path: string, init?: RequestInit) {
  const res = await fetch(server.url + path, init);
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies checked field by field
  return { status: res.status, body: (await res.json()) as any };
}

describe('canary rollout: stickiness, roles, verdict, promote', () => {
  let reg: TempRegistry;
  let dir: string;
  let server: TestServer;
  before(async () => {
    reg = await rolloutRegistry();
    dir = await mkdtemp(join(tmpdir(), 'msgcls-rollout-store-'));
    server = await startTestServer({
      MODEL_REGISTRY: reg.root,
      MODEL_POLL_SECONDS: '0',
      ROLLOUT_MODE: 'canary',
      CHALLENGER_ALIAS: 'challenger',
      CANARY_PERCENT: '30',
      STORE_URL: `sqlite:${join(dir, 'store.db')}`,
      STORE_FLUSH_MS: '10',
      VERDICT_MIN_LABELS: '100',
      GUARD_MIN_REQUESTS: '50',
    });
  });
  after(async () => {
    await server?.close();
    await reg.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test('the same user always gets the same version; ~30 % of users get the challenger; the role is in the answer', async () => {
    const byUser = new Map<string, string>();
    let challengerUsers = 0;
    const traffic = chatCorpus(300, 5);
    for (let u = 0; u < 300; u++) {
      const a = await predict(server, traffic[u].text, `user-${u}`);
      byUser.set(`user-${u}`, a.model.version);
      assert.equal(a.model.role, a.model.version === '2' ? 'challenger' : 'champion');
      if (a.model.role === 'challenger') challengerUsers++;
    }
    for (let u = 0; u < 300; u += 7) {
      const a = await predict(server, traffic[(u * 13) % 300].text, `user-${u}`);
      assert.equal(a.model.version, byUser.get(`user-${u}`), `user-${u} moved`);
    }
    assert.ok(challengerUsers > 60 && challengerUsers < 120, `${challengerUsers} of 300 users on the challenger`);
    // The dashboard shows the rollout panel while two versions take part.
    const dash = await json(server, '/dashboard/data');
    assert.equal(dash.status, 200);
    assert.equal(dash.body.rollout.rollout.mode, 'canary');
    assert.equal(dash.body.rollout.rollout.configured_weight, 0.3);
    assert.ok(['promote', 'hold', 'rollback'].includes(dash.body.rollout.verdict.decision));
    // Metrics carry the role, and the business log lines the version and role.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(
      metrics,
      /msgcls_predictions_total\{model_name="msg_cls",model_version="2",role="challenger",label="ham"\} \d+/,
    );
    assert.match(metrics, /msgcls_model_info\{[^}]*model_version="2"[^}]*role="challenger"\} 1/);
    assert.match(metrics, /msgcls_rollout_challenger_weight 0\.3/);
    const business = server.logs.records().filter((r) => r.log_type === 'business' && r.model_role === 'challenger');
    assert.ok(business.length >= 60 && business.every((r) => r.model_version === '2'));
    // The store keeps the role of every prediction with its version.
    assert.ok(await server.monitoring.writer?.flush(5000));
    const db = new DatabaseSync(join(dir, 'store.db'), { readOnly: true });
    const rows = db
      .prepare('SELECT model_version, model_role, COUNT(*) AS n FROM msgcls_predictions GROUP BY 1, 2 ORDER BY 1')
      .all() as { model_version: string; model_role: string; n: number }[];
    db.close();
    assert.deepEqual(
      rows.map((r) => [r.model_version, r.model_role]),
      [
        ['1', 'champion'],
        ['2', 'challenger'],
      ],
    );
    assert.equal(
      rows.reduce((a, r) => a + Number(r.n), 0),
      343,
    );
  });

  test('OIP requests are routed by the same rollout', async () => {
    const res = await fetch(`${server.url}/v2/models/msg_cls/infer`, {
      method: 'POST',
      headers: { 'x-user-id': 'user-0' },
      body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['hi'] }] }),
    });
    const body = (await res.json()) as { model_version: string; parameters: { model_role: string } };
    const viaPredict = await predict(server, 'hi', 'user-0');
    assert.equal(body.model_version, viaPredict.model.version);
    assert.equal(body.parameters.model_role, viaPredict.model.role);
  });

  test('with 12 labels the verdict is "not enough data"; with a few hundred it says promote', async () => {
    const messages = chatCorpus(900, 7);
    const sendAndLabel = async (from: number, to: number) => {
      const items: { request_id: string; label: string }[] = [];
      for (let i = from; i < to; i++) {
        const a = await predict(server, messages[i].text, `chat-${i}`);
        items.push({ request_id: a.request_id, label: messages[i].label });
      }
      const fb = await json(server, '/feedback', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items }),
      });
      assert.equal(fb.status, 200, JSON.stringify(fb.body));
      // Each label says which version, in which role, made the prediction it is about.
      for (const r of fb.body.results as { model_version: string; model_role: string }[]) {
        assert.equal(r.model_role, r.model_version === '2' ? 'challenger' : 'champion');
      }
    };
    await sendAndLabel(0, 12);
    let v = await json(server, '/monitoring/rollout');
    assert.equal(v.status, 200);
    assert.equal(v.body.verdict.decision, 'hold');
    assert.match(v.body.verdict.reasons.join('\n'), /not enough data on quality/);
    assert.equal(v.body.scope.quality, 'fleet');

    await sendAndLabel(12, 900);
    v = await json(server, '/monitoring/rollout');
    const { verdict } = v.body;
    assert.equal(verdict.decision, 'promote', verdict.reasons.join('\n'));
    assert.ok(verdict.challenger.labelled >= 100 && verdict.champion.labelled >= 100);
    assert.ok(verdict.challenger.accuracy.value > verdict.champion.accuracy.value);
    assert.ok(verdict.tests.accuracy.p < 0.05);
    assert.ok(verdict.challenger.accuracy.ci95.low > verdict.champion.accuracy.ci95.high, 'intervals apart');
    assert.equal(v.body.rollout.versions.challenger.version, '2');
  });

  test('msg-cls rollout promote moves the champion alias; the service follows on reload', async () => {
    const env = { ...process.env, MODEL_REGISTRY: reg.root };
    const { stdout } = await run(process.execPath, [CLI, 'rollout', 'promote', '--url', server.url], { env });
    const out = JSON.parse(stdout);
    assert.deepEqual(out.champion, { alias: 'champion', version: '2', previous: '1' });
    const status = JSON.parse((await run(process.execPath, [CLI, 'rollout', 'status'], { env })).stdout);
    assert.deepEqual(status.versions, { champion: '2', challenger: null });

    const reload = await json(server, '/admin/reload', { method: 'POST' });
    assert.equal(reload.body.outcome, 'swapped');
    for (let u = 0; u < 50; u++) {
      const a = await predict(server, 'see you at the pub', `user-${u}`);
      assert.deepEqual([a.model.version, a.model.role], ['2', 'champion'], `user-${u}`);
    }
    const v = await json(server, '/monitoring/rollout');
    assert.equal(v.body.verdict.challenger, null);
    assert.match(v.body.verdict.reasons[0], /no challenger/);
    // Rolling back a rollout that is over says so.
    await assert.rejects(run(process.execPath, [CLI, 'rollout', 'rollback'], { env }), /no alias "challenger"/);
  });
});

describe('canary guard', () => {
  let reg: TempRegistry;
  let server: TestServer;
  before(async () => {
    reg = await rolloutRegistry();
    // Every challenger call is "too slow": the guard must take it out after GUARD_MIN_REQUESTS calls.
    server = await startTestServer({
      MODEL_REGISTRY: reg.root,
      MODEL_POLL_SECONDS: '0',
      ROLLOUT_MODE: 'ab',
      CHALLENGER_ALIAS: 'challenger',
      AB_SPLIT: '50',
      GUARD_MAX_P95_MS: '0.000001',
      GUARD_MIN_REQUESTS: '32',
    });
  });
  after(async () => {
    await server?.close();
    await reg.cleanup();
  });

  test('a challenger breaking the latency limit gets weight 0, with a log line, a metric and the reason', async () => {
    let challenger = 0;
    for (let u = 0; u < 400; u++)
      if ((await predict(server, 'hello there', `u${u}`)).model.role === 'challenger') challenger++;
    assert.ok(challenger >= 32 && challenger < 60, `${challenger} challenger answers before the guard tripped`);
    for (let u = 0; u < 100; u++) assert.equal((await predict(server, 'hello again', `u${u}`)).model.role, 'champion');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /msgcls_rollout_guard_tripped 1/);
    assert.match(metrics, /msgcls_rollout_guard_trips_total 1/);
    assert.match(metrics, /msgcls_rollout_challenger_weight 0\n/);
    const line = server.logs.records().find((r) => String(r.msg).startsWith('rollout guard'));
    assert.ok(line, 'the trip is logged');
    assert.equal(line.model_version, '2');
    const v = await json(server, '/monitoring/rollout');
    assert.equal(v.body.verdict.decision, 'rollback');
    assert.match(v.body.verdict.reasons[0], /guard rolled the canary back: p95 inference time/);
  });

  test('promote is refused while the verdict says rollback; rollback removes the challenger everywhere', async () => {
    const env = { ...process.env, MODEL_REGISTRY: reg.root };
    await assert.rejects(
      run(process.execPath, [CLI, 'rollout', 'promote', '--url', server.url], { env }),
      /verdict is "rollback", not "promote": the guard rolled the canary back.*pass --force/s,
    );
    const { stdout } = await run(process.execPath, [CLI, 'rollout', 'rollback'], { env });
    assert.deepEqual(JSON.parse(stdout).removed, { alias: 'challenger', version: '2' });
    await json(server, '/admin/reload', { method: 'POST' });
    const v = await json(server, '/monitoring/rollout');
    assert.equal(v.body.verdict.challenger, null, 'the service dropped the challenger when its alias went');
    const line = server.logs.records().find((r) => String(r.msg).includes('challenger alias "challenger" is gone'));
    assert.ok(line);
  });
});

describe('shadow mode', () => {
  let reg: TempRegistry;
  let dir: string;
  let server: TestServer;
  before(async () => {
    reg = await rolloutRegistry();
    dir = await mkdtemp(join(tmpdir(), 'msgcls-shadow-store-'));
    server = await startTestServer({
      MODEL_REGISTRY: reg.root,
      MODEL_POLL_SECONDS: '0',
      ROLLOUT_MODE: 'shadow',
      CHALLENGER_ALIAS: 'challenger',
      STORE_URL: `sqlite:${join(dir, 'store.db')}`,
    });
  });
  after(async () => {
    await server?.close();
    await reg.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test('the champion answers; the challenger scores every text off the response path; agreement is measured', async () => {
    const messages = chatCorpus(200, 3);
    for (const m of messages) {
      const a = await predict(server, m.text);
      assert.deepEqual([a.model.version, a.model.role], ['1', 'champion']);
    }
    await new Promise((r) => setTimeout(r, 50));
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const count = (result: string) =>
      Number(new RegExp(`msgcls_rollout_comparisons_total\\{result="${result}"\\} (\\d+)`).exec(metrics)?.[1]);
    assert.equal(count('agree') + count('disagree'), 200);
    assert.ok(count('disagree') > 20, 'the chat model disagrees with the e-mail model on chat');
    assert.match(metrics, /msgcls_rollout_score_difference_count 200/);
    assert.match(
      metrics,
      /msgcls_predictions_total\{model_name="msg_cls",model_version="2",role="shadow",label="\w+"\} \d+/,
    );
    assert.match(metrics, /msgcls_rollout_shadow_dropped_total 0/);
    const v = await json(server, '/monitoring/rollout');
    assert.equal(v.body.rollout.agreement.compared, 200);
    assert.equal(v.body.verdict.agreement.compared, 200);
    assert.match(v.body.verdict.reasons.join('\n'), /agree on \d+\.\d % of 200 texts/);
    assert.match(v.body.verdict.reasons.join('\n'), /switch to ROLLOUT_MODE=canary/);
    // Shadow business lines carry the role.
    assert.ok(server.logs.records().some((r) => r.log_type === 'business' && r.model_role === 'shadow'));
  });
});
