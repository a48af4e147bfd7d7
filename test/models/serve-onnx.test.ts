// The service serving ONNX models end to end: a real server on a loopback port, a local registry whose
// version is a skl2onnx model (converted without the locale option, as most are) or a tiny transformer.
// /predict answers sklearn's / torch's probabilities, a batch is one inference, the prediction store
// and drift get text statistics, and nothing crashes for a version that brings no drift reference.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import {
  type BertExpected,
  pythonFixture,
  readExpected,
  registryWith,
  type SklearnExpected,
} from '../helpers/model-fixtures.ts';
import { postJson, startTestServer, type TestServer } from '../helpers/server.ts';

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name));
  assert.ok(line, `metric ${name} present`);
  return Number(line.split(' ').pop());
}

describe('serving a scikit-learn ONNX model', () => {
  let server: TestServer;
  let expected: SklearnExpected;
  let registry: string;
  let dataDir: string;
  before(async () => {
    const root = await pythonFixture('sklearn_onnx.py');
    expected = await readExpected<SklearnExpected>(root);
    registry = await registryWith('spam_onnx', join(root, 'binary-nolocale'));
    dataDir = await mkdtemp(join(tmpdir(), 'msgcls-onnx-store-'));
    server = await startTestServer({
      MODEL_REGISTRY: registry,
      MODEL_NAME: 'spam_onnx',
      STORE_URL: `sqlite:${join(dataDir, 'p.db')}`,
      STORE_FLUSH_MS: '20',
    });
  });
  after(async () => {
    await server?.close();
    await rm(registry, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  test('one text: the probabilities scikit-learn gives, within 1e-5', async () => {
    const want = expected.models['binary-nolocale'];
    for (let i = 0; i < expected.probes.length; i++) {
      const res = await postJson(`${server.url}/predict`, { text: expected.probes[i] });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.deepEqual(Object.keys(res.json.probabilities).sort(), want.classes);
      for (const [j, label] of want.classes.entries()) {
        assert.ok(Math.abs(res.json.probabilities[label] - want.proba[i][j]) <= 1e-5, `${expected.probes[i]} ${label}`);
      }
      assert.equal(res.json.proba, res.json.probabilities[res.json.label]);
      assert.deepEqual(res.json.model, { name: 'spam_onnx', version: '1', role: 'champion' });
    }
  });

  test('a batch of 64 is one inference and answers in order', async () => {
    const metric = 'msgcls_inference_duration_seconds_count{model_name="spam_onnx",model_version="1",role="champion"}';
    const before = metricValue(await (await fetch(`${server.url}/metrics`)).text(), metric);
    const texts = Array.from({ length: 64 }, (_, i) => expected.probes[i % expected.probes.length]);
    const res = await postJson(`${server.url}/predict`, { texts });
    assert.equal(res.status, 200);
    assert.equal(res.json.predictions.length, 64);
    for (let i = 0; i < 64; i++) {
      const want = expected.models['binary-nolocale'].proba[i % expected.probes.length][1];
      assert.ok(Math.abs(res.json.predictions[i].probabilities.spam - want) <= 1e-5);
    }
    const afterCount = metricValue(await (await fetch(`${server.url}/metrics`)).text(), metric);
    assert.equal(afterCount - before, 1);
  });

  test('bad input is still a 4xx', async () => {
    const res = await postJson(`${server.url}/predict`, { texts: ['ok', '   '] });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'empty_text');
  });

  test('drift and the store get text statistics; no reference is no crash', async () => {
    const drift = await fetch(`${server.url}/monitoring/drift`);
    assert.equal(drift.status, 200);
    const health = (await (await fetch(`${server.url}/health`)).json()) as { status: string };
    assert.equal(health.status, 'ok', JSON.stringify(health));
    // Wait for the writer to flush, then read the records straight from SQLite.
    let rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const db = new DatabaseSync(join(dataDir, 'p.db'), { readOnly: true });
      try {
        rows = db.prepare("SELECT * FROM msgcls_predictions WHERE model_name = 'spam_onnx' LIMIT 5").all() as Record<
          string,
          unknown
        >[];
      } catch {
        rows = [];
      } finally {
        db.close();
      }
    }
    assert.ok(rows.length > 0, 'predictions were stored');
    const row = rows[0];
    assert.equal(row.model_version, '1');
    assert.equal(typeof row.token_count, 'number');
    assert.ok((row.token_count as number) > 0);
  });
});

describe('serving a transformer ONNX model', () => {
  let server: TestServer;
  let expected: BertExpected;
  let registry: string;
  before(async () => {
    const root = await pythonFixture('tiny_bert.py');
    expected = await readExpected<BertExpected>(root);
    registry = await registryWith('tiny_bert', join(root, 'bert3'));
    server = await startTestServer({ MODEL_REGISTRY: registry, MODEL_NAME: 'tiny_bert' });
  });
  after(async () => {
    await server?.close();
    await rm(registry, { recursive: true, force: true });
  });

  test('one text and a batch: torch’s probabilities within 1e-5', async () => {
    const one = await postJson(`${server.url}/predict`, { text: expected.probes[0] });
    assert.equal(one.status, 200);
    assert.ok(Math.abs(one.json.probabilities[expected.labels[1]] - expected.proba[0][1]) <= 1e-5);
    const batch = await postJson(`${server.url}/predict`, { texts: expected.probes });
    assert.equal(batch.status, 200);
    for (let i = 0; i < expected.probes.length; i++) {
      assert.ok(Math.abs(batch.json.predictions[i].probabilities[expected.labels[1]] - expected.proba[i][1]) <= 1e-5);
    }
  });
});
