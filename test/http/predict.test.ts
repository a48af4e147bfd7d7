import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { postJson, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

describe('POST /predict', () => {
  test('classifies one text', async () => {
    const res = await postJson(`${server.url}/predict`, {
      text: 'WINNER!! Claim your FREE prize now, click http://win.example.com/claim?id=77',
    });
    assert.equal(res.status, 200);
    assert.equal(res.json.label, 'spam');
    assert.ok(res.json.proba > 0.5 && res.json.proba <= 1);
    assert.deepEqual(Object.keys(res.json.probabilities).sort(), ['ham', 'spam']);
    assert.ok(Math.abs(res.json.probabilities.spam + res.json.probabilities.ham - 1) < 1e-9);
    assert.equal(res.json.proba, res.json.probabilities[res.json.label]);
    assert.deepEqual(res.json.model, { name: 'msg_cls', version: server.state.model?.ref.version });
    assert.match(res.json.request_id, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('x-request-id'), res.json.request_id);
  });

  test('a colleague’s note is ham', async () => {
    const res = await postJson(`${server.url}/predict`, {
      text: 'Hi Tom, I pushed the fix for the build script to the repo; can you review the patch before the release tomorrow?',
    });
    assert.equal(res.status, 200);
    assert.equal(res.json.label, 'ham');
  });

  test('a batch returns predictions in order, the same as one by one', async () => {
    const texts = [
      'Buy cheap meds online, no prescription, 80% off!!!',
      'Thanks for the patch, I will rebuild the package and check the test failures tonight.',
      'x',
    ];
    const res = await postJson(`${server.url}/predict`, { texts });
    assert.equal(res.status, 200);
    assert.equal(res.json.predictions.length, 3);
    for (let i = 0; i < texts.length; i++) {
      const one = await postJson(`${server.url}/predict`, { text: texts[i] });
      assert.deepEqual(res.json.predictions[i], {
        label: one.json.label,
        proba: one.json.proba,
        probabilities: one.json.probabilities,
      });
    }
    assert.equal(res.json.predictions[0].label, 'spam');
    assert.equal(res.json.predictions[1].label, 'ham');
  });

  test('a batch of exactly MAX_BATCH texts is accepted', async () => {
    const texts = Array.from({ length: 256 }, (_, i) => `message number ${i}`);
    const res = await postJson(`${server.url}/predict`, { texts });
    assert.equal(res.status, 200);
    assert.equal(res.json.predictions.length, 256);
  });

  test('a text of exactly MAX_TEXT_CHARS characters is accepted (astral characters count once)', async () => {
    const res = await postJson(`${server.url}/predict`, { text: '😀'.repeat(20000) });
    assert.equal(res.status, 200);
  });

  test('keeps a valid X-Request-Id and replaces an invalid one', async () => {
    const kept = await postJson(`${server.url}/predict`, { text: 'hello' }, { 'x-request-id': 'abc-123.def_456' });
    assert.equal(kept.json.request_id, 'abc-123.def_456');
    assert.equal(kept.headers.get('x-request-id'), 'abc-123.def_456');
    const replaced = await postJson(
      `${server.url}/predict`,
      { text: 'hello' },
      { 'x-request-id': 'bad id with spaces <script>' },
    );
    assert.match(replaced.json.request_id, /^[0-9a-f-]{36}$/);
    const tooLong = await postJson(`${server.url}/predict`, { text: 'hello' }, { 'x-request-id': 'a'.repeat(129) });
    assert.match(tooLong.json.request_id, /^[0-9a-f-]{36}$/);
  });

  test('unknown fields are refused, as by /feedback (one rule for every endpoint)', async () => {
    const res = await postJson(`${server.url}/predict`, { text: 'hello there', id: 5 });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'unknown_field');
    assert.match(res.json.detail as string, /unknown field "id"/);
  });
});
