import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binaryMetrics, rocAuc } from '../../src/model/metrics.ts';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} ≉ ${b}`);

describe('binaryMetrics', () => {
  it('matches a hand-computed case (with a tie across classes)', () => {
    const y = [1, 0, 1, 1, 0, 0];
    const p = [0.9, 0.4, 0.6, 0.3, 0.6, 0.1];
    const m = binaryMetrics(y, p, 'spam');
    // predictions at 0.5: TP = {0, 2}, FP = {4}, FN = {3}, TN = {1, 5}
    assert.equal(m.n, 6);
    assert.equal(m.positive_label, 'spam');
    close(m.accuracy, 4 / 6);
    close(m.precision, 2 / 3);
    close(m.recall, 2 / 3);
    close(m.f1, 2 / 3);
    // pairs won by positives: 0.9 → 3, 0.6 → 1 + ½ (tie with 0.6) + 1, 0.3 → 1  ⇒ 6.5 / 9
    close(m.roc_auc, 6.5 / 9);
    close(m.log_loss, -(2 * Math.log(0.9) + 2 * Math.log(0.6) + Math.log(0.3) + Math.log(0.4)) / 6);
    close(m.brier, (0.01 + 0.16 + 0.16 + 0.49 + 0.36 + 0.01) / 6);
  });

  it('precision and F1 are 0 when nothing is predicted positive; log loss is clipped', () => {
    const m = binaryMetrics([true, false], [0, 0], 'spam');
    assert.equal(m.precision, 0);
    assert.equal(m.recall, 0);
    assert.equal(m.f1, 0);
    close(m.accuracy, 0.5);
    close(m.log_loss, -Math.log(1e-15) / 2, 1e-6);
    close(m.brier, 0.5);
  });

  it('rejects non-probabilities and length mismatches', () => {
    assert.throws(() => binaryMetrics([1], [1.5], 'x'), /not a probability/);
    assert.throws(() => binaryMetrics([1, 0], [0.5], 'x'), /2 truths but 1 predictions/);
  });
});

describe('rocAuc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one, ½ when all scores tie', () => {
    assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), 1);
    assert.equal(rocAuc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]), 0);
    assert.equal(rocAuc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]), 0.5);
  });

  it('is NaN with a single class', () => {
    assert.ok(Number.isNaN(rocAuc([1, 1], [0.2, 0.3])));
  });
});
