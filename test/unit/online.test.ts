// Online quality figures from a confusion matrix, checked by hand.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { figures } from '../../src/quality/online.ts';
import type { ConfusionCell } from '../../src/store/types.ts';

const cell = (predicted: string, actual: string, n: number, delaySumMs = 0, delayMaxMs = 0): ConfusionCell => ({
  modelName: 'm',
  modelVersion: '1',
  predicted,
  actual,
  n,
  delaySumMs,
  delayMaxMs,
});

describe('figures', () => {
  test('precision, recall, F1 per label, accuracy and label delay', () => {
    // spam predicted 10 times: 8 right; ham predicted 30 times: 27 right (3 were spam).
    const f = figures([
      cell('spam', 'spam', 8, 8000, 2000),
      cell('spam', 'ham', 2, 2000, 1500),
      cell('ham', 'ham', 27, 27_000, 3000),
      cell('ham', 'spam', 3, 30_000, 60_000),
    ]);
    assert.equal(f.labelled, 40);
    assert.equal(f.accuracy, 35 / 40);
    assert.equal(f.labels.spam.precision, 8 / 10);
    assert.equal(f.labels.spam.recall, 8 / 11);
    const p = 0.8;
    const r = 8 / 11;
    assert.ok(Math.abs((f.labels.spam.f1 as number) - (2 * p * r) / (p + r)) < 1e-12);
    assert.equal(f.labels.spam.support, 11);
    assert.equal(f.labels.spam.predicted, 10);
    assert.equal(f.labels.ham.precision, 27 / 30);
    assert.equal(f.labels.ham.recall, 27 / 29);
    assert.equal(f.label_delay_seconds.mean, 67 / 40);
    assert.equal(f.label_delay_seconds.max, 60);
    assert.deepEqual(f.confusion, { spam: { spam: 8, ham: 2 }, ham: { ham: 27, spam: 3 } });
  });

  test('undefined ratios are null, not 0 or NaN', () => {
    const f = figures([cell('spam', 'ham', 3)]);
    assert.equal(f.labels.spam.precision, 0);
    assert.equal(f.labels.spam.recall, null, 'no true spam among the labels');
    assert.equal(f.labels.spam.f1, null);
    assert.equal(f.labels.ham.precision, null, 'ham was never predicted');
    assert.equal(f.labels.ham.recall, 0);
    assert.equal(f.accuracy, 0);
    const empty = figures([]);
    assert.equal(empty.labelled, 0);
    assert.equal(empty.accuracy, null);
    assert.deepEqual(empty.label_delay_seconds, { mean: null, max: null });
  });

  test('F1 is 0 when precision and recall are both 0', () => {
    const f = figures([cell('spam', 'ham', 1), cell('ham', 'spam', 1)]);
    assert.equal(f.labels.spam.f1, 0);
  });
});
