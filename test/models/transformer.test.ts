// Transformer classifiers in ONNX: a tiny WordPiece tokenizer + 2-layer BERT built and exported by
// test/fixtures/python/tiny_bert.py. The ids must equal Python's tokenizer (truncation included) and
// the probabilities torch's softmax within 1e-5, for the 3-input and the 2-input export.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { loadClassifier } from '../../src/model/load.ts';
import type { TransformerClassifier } from '../../src/model/transformer.ts';
import { predictAll } from '../../src/model/types.ts';
import { type BertExpected, pythonFixture, readExpected } from '../helpers/model-fixtures.ts';

let root: string;
let expected: BertExpected;
before(async () => {
  root = await pythonFixture('tiny_bert.py');
  expected = await readExpected<BertExpected>(root);
});

describe('transformer classifiers (ONNX + tokenizer.json + config.json)', () => {
  for (const variant of ['bert3', 'bert2']) {
    test(`${variant}: the same token ids as Python, probabilities within 1e-5 of torch`, async () => {
      const { classifier, manifest } = await loadClassifier(join(root, variant));
      try {
        assert.equal(manifest.format, 'onnx-transformer');
        assert.deepEqual([...classifier.labels], expected.labels, 'labels from config.json id2label');
        assert.equal(classifier.positiveLabel, expected.labels[1]);
        const t = classifier as TransformerClassifier;
        assert.equal(t.maxLength, expected.max_length);
        for (let i = 0; i < expected.probes.length; i++) {
          assert.deepEqual(
            t.encode(expected.probes[i]),
            expected.ids[i],
            `ids of "${expected.probes[i].slice(0, 40)}"`,
          );
        }
        assert.ok(
          expected.ids.some((ids) => ids.length === expected.max_length),
          'a probe is long enough to be truncated',
        );
        // Alone, and all in one padded batch: padding is masked, the numbers agree.
        const batch = await predictAll(classifier, expected.probes);
        for (let i = 0; i < expected.probes.length; i++) {
          const [alone] = await predictAll(classifier, [expected.probes[i]]);
          for (const [k, label] of expected.labels.entries()) {
            for (const [what, p] of [
              ['alone', alone],
              ['in a batch', batch[i]],
            ] as const) {
              const diff = Math.abs(p.probabilities[label] - expected.proba[i][k]);
              assert.ok(
                diff <= 1e-5,
                `${variant} probe ${i} ${label} ${what}: ${p.probabilities[label]} vs torch ${expected.proba[i][k]}`,
              );
            }
          }
          const best = expected.logits[i].indexOf(Math.max(...expected.logits[i]));
          assert.equal(batch[i].label, expected.labels[best]);
        }
      } finally {
        await classifier.dispose?.();
      }
    });
  }
});
