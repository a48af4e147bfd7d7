// The CLI with an ONNX version: `msg-cls predict` and `msg-cls eval` work for every format.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  pythonFixture,
  readExpected,
  registryWith,
  type SklearnExpected,
  TRAIN_JSONL,
} from '../helpers/model-fixtures.ts';
import { spawnCli } from '../helpers/server.ts';

let registry: string;
let expected: SklearnExpected;
before(async () => {
  const root = await pythonFixture('sklearn_onnx.py');
  expected = await readExpected<SklearnExpected>(root);
  registry = await registryWith('spam_onnx', join(root, 'binary'));
});
after(() => rm(registry, { recursive: true, force: true }));

test('msg-cls predict prints the ONNX model’s prediction', async () => {
  const child = spawnCli(['predict', expected.probes[0], '--name', 'spam_onnx'], { MODEL_REGISTRY: registry });
  const { code } = await child.exited;
  assert.equal(code, 0, child.stderr.join(''));
  const out = JSON.parse(child.stdout.join(''));
  assert.ok(Math.abs(out.probabilities.spam - expected.models.binary.proba[0][1]) <= 1e-5);
  assert.deepEqual(out.model, { name: 'spam_onnx', version: '1' });
});

test('msg-cls eval scores an ONNX model on a labelled file', async () => {
  const child = spawnCli(['eval', '--data', TRAIN_JSONL, '--name', 'spam_onnx'], { MODEL_REGISTRY: registry });
  const { code } = await child.exited;
  assert.equal(code, 0, child.stderr.join(''));
  const out = JSON.parse(child.stdout.join(''));
  assert.equal(out.n, 24);
  assert.equal(out.positive_label, 'spam');
  // Trained on these very rows: it fits them.
  assert.ok(out.accuracy >= 0.9, JSON.stringify(out));
});
