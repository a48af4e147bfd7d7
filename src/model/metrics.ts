// Binary classification metrics for probabilistic predictions.

import type { BinaryMetrics } from './types.ts';

const EPS = 1e-15;

/**
 * Metrics of positive-label probabilities `proba` against truths `isPositive` (1/true = positive).
 * The hard prediction is positive when proba ≥ threshold (default 0.5).
 * - precision/recall/F1 of the positive label (0 when undefined, e.g. no predicted positives);
 * - roc_auc by the Mann–Whitney statistic with tied scores counted as ½ (NaN with a single class);
 * - log_loss: mean −ln p(true label), probabilities clipped to [1e-15, 1 − 1e-15];
 * - brier: mean (proba − y)².
 */
export function binaryMetrics(
  isPositive: ArrayLike<number | boolean>,
  proba: ArrayLike<number>,
  positiveLabel: string,
  threshold = 0.5,
): BinaryMetrics {
  const n = proba.length;
  if (isPositive.length !== n) throw new Error(`metrics: ${isPositive.length} truths but ${n} predictions`);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  let ll = 0;
  let brier = 0;
  for (let i = 0; i < n; i++) {
    const y = isPositive[i] ? 1 : 0;
    const p = proba[i];
    if (!(p >= 0 && p <= 1)) throw new Error(`metrics: prediction ${i} is not a probability: ${p}`);
    const pred = p >= threshold;
    if (pred && y) tp++;
    else if (pred) fp++;
    else if (y) fn++;
    else tn++;
    const pc = Math.min(Math.max(p, EPS), 1 - EPS);
    ll -= y ? Math.log(pc) : Math.log(1 - pc);
    brier += (p - y) * (p - y);
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return {
    n,
    positive_label: positiveLabel,
    accuracy: n > 0 ? (tp + tn) / n : 0,
    precision,
    recall,
    f1,
    roc_auc: rocAuc(isPositive, proba),
    log_loss: n > 0 ? ll / n : 0,
    brier: n > 0 ? brier / n : 0,
  };
}

/** Area under the ROC curve (probability that a random positive outscores a random negative; ties ½). */
export function rocAuc(isPositive: ArrayLike<number | boolean>, score: ArrayLike<number>): number {
  const n = score.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a] - score[b]);
  let nPos = 0;
  for (let i = 0; i < n; i++) if (isPositive[i]) nPos++;
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  // Sum of (average) ranks of the positives.
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && score[order[j + 1]] === score[order[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (isPositive[order[k]]) rankSum += avgRank;
    i = j + 1;
  }
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
