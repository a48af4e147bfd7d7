// scikit-learn text pipelines converted by skl2onnx, loaded by msg-cls: parity with scikit-learn's
// predict_proba (built by test/fixtures/python/sklearn_onnx.py), the ZipMap form, multi-class, MLflow
// model directories, and the StringNormalizer locale pitfall.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { loadClassifier } from '../../src/model/load.ts';
import { createSession } from '../../src/model/onnx.ts';
import { editOnnxModel, readOnnxGraph } from '../../src/model/onnx-proto.ts';
import { predictAll } from '../../src/model/types.ts';
import { pythonFixture, readExpected, type SklearnExpected } from '../helpers/model-fixtures.ts';

let root: string;
let expected: SklearnExpected;
before(async () => {
  root = await pythonFixture('sklearn_onnx.py');
  expected = await readExpected<SklearnExpected>(root);
});

function assertClose(actual: number, wanted: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - wanted) <= tol, `${what}: ${actual} vs ${wanted} (|diff| > ${tol})`);
}

describe('skl2onnx models match scikit-learn', () => {
  for (const variant of ['binary', 'binary-zipmap', 'binary-nolocale', 'multiclass', 'mlflow']) {
    test(`${variant}: labels from the model, probabilities within 1e-5 of predict_proba`, async () => {
      const want = expected.models[variant];
      const { classifier, manifest } = await loadClassifier(join(root, variant));
      try {
        assert.equal(classifier.async, true);
        assert.deepEqual([...classifier.labels], want.classes);
        assert.equal(manifest.format, 'onnx-sklearn');
        assert.deepEqual(manifest.labels, want.classes);
        // The TF-IDF L2 Normalizer runs as LpNormalization (src/model/onnx.ts): parity below covers it.
        assert.equal((manifest.model as { normalizers_replaced: number }).normalizers_replaced, 1);
        // One batch (one run) and one text at a time agree (to float32 rounding).
        const batch = await predictAll(classifier, expected.probes);
        for (let i = 0; i < expected.probes.length; i++) {
          const [alone] = await predictAll(classifier, [expected.probes[i]]);
          for (let j = 0; j < want.classes.length; j++) {
            const label = want.classes[j];
            assertClose(
              batch[i].probabilities[label],
              want.proba[i][j],
              1e-5,
              `${variant} "${expected.probes[i]}" ${label}`,
            );
            assertClose(alone.probabilities[label], batch[i].probabilities[label], 1e-6, 'alone vs in a batch');
          }
          const best = want.proba[i].indexOf(Math.max(...want.proba[i]));
          assert.equal(batch[i].label, want.classes[best]);
          assert.equal(batch[i].proba, batch[i].probabilities[batch[i].label]);
        }
      } finally {
        await classifier.dispose?.();
      }
    });
  }

  test('the positive label is the second class (sklearn classes_[1]) unless the model or the caller names one', async () => {
    const binary = await loadClassifier(join(root, 'binary'));
    assert.equal(binary.classifier.positiveLabel, 'spam');
    assert.equal(binary.manifest.positive_label, 'spam');
    const multi = await loadClassifier(join(root, 'multiclass'));
    assert.equal(multi.classifier.positiveLabel, 'work', 'from the ONNX metadata_props positive_label');
    const configured = await loadClassifier(join(root, 'binary'), { positiveLabel: 'ham' });
    assert.equal(configured.classifier.positiveLabel, 'ham');
    await assert.rejects(
      loadClassifier(join(root, 'binary'), { positiveLabel: 'eggs' }),
      /"eggs" is not one of the model's labels: ham, spam/,
    );
    for (const m of [binary, multi, configured]) await m.classifier.dispose?.();
  });

  test("an MLflow model directory: the onnx flavor's data file, MLmodel metadata positive_label", async () => {
    const { classifier, manifest } = await loadClassifier(join(root, 'mlflow'));
    assert.equal(classifier.positiveLabel, 'ham');
    assert.equal((manifest.model as { source: string }).source, 'mlflow');
    assert.ok(manifest.files.MLmodel && manifest.files['model.onnx']);
    assert.match(manifest.files['model.onnx'].sha256, /^[0-9a-f]{64}$/);
    await classifier.dispose?.();
  });
});

describe('non-ASCII words: the token pattern', () => {
  test('with [\\p{L}\\p{N}_]{2,} the ONNX model matches scikit-learn on accented, Greek, Cyrillic and CJK text', async () => {
    const want = expected.models.unicode;
    const { classifier } = await loadClassifier(join(root, 'unicode'));
    const ps = await predictAll(classifier, expected.unicode_probes);
    for (let i = 0; i < ps.length; i++) {
      for (const [j, label] of want.classes.entries()) {
        assertClose(ps[i].probabilities[label], want.proba[i][j], 1e-5, `"${expected.unicode_probes[i]}" ${label}`);
      }
    }
    await classifier.dispose?.();
  });

  test('with \\b\\w\\w+\\b (ASCII-only in onnxruntime’s RE2) non-ASCII words are lost: why the README recommends the Unicode pattern', async () => {
    const want = expected.models['unicode-asciipattern'];
    const { classifier } = await loadClassifier(join(root, 'unicode-asciipattern'));
    const ps = await predictAll(classifier, expected.unicode_probes);
    const gaps = ps.map((p, i) => Math.abs(p.probabilities[want.classes[1]] - want.proba[i][1]));
    assert.ok(Math.max(...gaps) > 1e-3, `largest gap ${Math.max(...gaps)}`);
    // The all-ASCII probe still matches.
    const ascii = expected.unicode_probes.indexOf('Buy cheap iPhone');
    assertClose(ps[ascii].probabilities[want.classes[1]], want.proba[ascii][1], 1e-5, 'ASCII probe');
    await classifier.dispose?.();
  });
});

describe('the StringNormalizer locale pitfall', () => {
  test('a model converted without the locale option fails in onnxruntime as it is, and loads after the rewrite', async (t) => {
    const bytes = await readFile(join(root, 'binary-nolocale', 'model.onnx'));
    const normalizer = readOnnxGraph(bytes).nodes.find((n) => n.opType === 'StringNormalizer');
    assert.ok(normalizer, 'skl2onnx writes a StringNormalizer for TfidfVectorizer');
    assert.equal(normalizer.attributes.get('locale'), undefined, 'converted without a locale');
    const raw = await createSession(bytes).then(
      (s) => s.release().then(() => undefined),
      (err: Error) => err,
    );
    if (raw === undefined) {
      t.diagnostic(
        'this machine has the en_US.UTF-8 locale: the unpatched model loads here (it does not on slim images)',
      );
    } else {
      assert.match(raw.message, /locale/i);
    }
    const { classifier, manifest } = await loadClassifier(join(root, 'binary-nolocale'));
    assert.deepEqual((manifest.model as { locale_rewritten_from: string[] }).locale_rewritten_from, ['']);
    const ps = await predictAll(classifier, expected.probes);
    // Non-ASCII upper case (ÉNORME, GRATUIT) is lower-cased as scikit-learn does.
    for (let i = 0; i < ps.length; i++)
      assertClose(ps[i].probabilities.spam, expected.models['binary-nolocale'].proba[i][1], 1e-5, expected.probes[i]);
    await classifier.dispose?.();
  });

  test('the protobuf edits: no edit gives the same bytes; a set attribute, an added output and a swapped operator read back', async () => {
    const bytes = await readFile(join(root, 'binary-zipmap', 'model.onnx'));
    assert.deepEqual(Buffer.from(editOnnxModel(bytes, {})), Buffer.from(bytes));
    const before = readOnnxGraph(bytes);
    const sn = before.nodes.find((n) => n.opType === 'StringNormalizer');
    assert.ok(sn);
    const edited = editOnnxModel(bytes, {
      setStringAttribute: [{ node: sn.index, name: 'locale', value: 'xx_YY.UTF-8' }],
      addOutputs: ['probabilities'],
    });
    const after = readOnnxGraph(edited);
    assert.equal(after.nodes[sn.index].attributes.get('locale')?.s, 'xx_YY.UTF-8');
    assert.equal(after.nodes[sn.index].attributes.get('case_change_action')?.s, 'LOWER');
    assert.deepEqual(after.outputs, [...before.outputs, 'probabilities']);
    assert.equal(after.nodes.length, before.nodes.length);
    const norm = before.nodes.find((n) => n.opType === 'Normalizer');
    assert.ok(norm);
    const swapped = readOnnxGraph(
      editOnnxModel(bytes, {
        replaceOperator: [
          { node: norm.index, opType: 'LpNormalization', domain: '', intAttributes: { axis: -1, p: 2 } },
        ],
      }),
    ).nodes[norm.index];
    assert.equal(swapped.opType, 'LpNormalization');
    assert.equal(swapped.domain, '');
    assert.deepEqual(swapped.inputs, norm.inputs);
    assert.deepEqual(swapped.outputs, norm.outputs);
    assert.equal(swapped.attributes.get('axis')?.i, -1);
    assert.equal(swapped.attributes.get('p')?.i, 2);
    assert.equal(swapped.attributes.get('norm'), undefined);
    assert.deepEqual(
      after.nodes.map((n) => n.opType),
      before.nodes.map((n) => n.opType),
    );
  });
});
