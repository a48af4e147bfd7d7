// The verdict's arithmetic: Wilson intervals and z-tests checked against values computed with scipy
// (norm.ppf/norm.cdf and the textbook formulas), and the decision on made-up but realistic figures.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { histogramQuantile, normalCdf, twoProportionZ, wilson } from '../../src/rollout/stats.ts';
import { type VerdictLimits, type VersionFigures, verdict } from '../../src/rollout/verdict.ts';

const close = (a: number, b: number, eps: number, what: string) =>
  assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} is not within ${eps} of ${b}`);

describe('statistics', () => {
  test('Wilson interval: 8 of 10 → [0.4902, 0.9433]', () => {
    const ci = wilson(8, 10);
    assert.ok(ci);
    close(ci.low, 0.4902, 1e-4, 'low');
    close(ci.high, 0.9433, 1e-4, 'high');
    const zero = wilson(0, 12);
    assert.ok(zero);
    close(zero.low, 0, 1e-12, '0 of 12: lower bound');
    close(zero.high, 0.2425, 1e-4, '0 of 12: upper bound stays well above 0');
    assert.equal(wilson(0, 0), null);
  });

  test('normal CDF', () => {
    close(normalCdf(0), 0.5, 1e-7, 'Φ(0)');
    close(normalCdf(1.959963984540054), 0.975, 1e-6, 'Φ(1.96)');
    close(normalCdf(-1), 0.158655, 1e-6, 'Φ(-1)');
  });

  test('two-proportion z-test (pooled): 45/100 vs 30/100 → z = 2.1909, p = 0.0285', () => {
    const t = twoProportionZ(45, 100, 30, 100);
    assert.ok(t);
    close(t.z, 2.1909, 1e-4, 'z');
    close(t.p, 0.02846, 1e-5, 'p');
    assert.equal(twoProportionZ(5, 5, 7, 7), null, 'no variance');
    assert.equal(twoProportionZ(1, 0, 1, 1), null, 'empty sample');
  });

  test('histogram quantile interpolates within the bucket, as Prometheus does', () => {
    // 10 observations ≤ 1, 10 in (1, 2]: the median is at the top of the first bucket, p75 halfway in the second.
    assert.equal(histogramQuantile(0.5, [1, 2], [10, 10, 0]), 1);
    assert.equal(histogramQuantile(0.75, [1, 2], [10, 10, 0]), 1.5);
    assert.equal(histogramQuantile(0.95, [1, 2], [0, 0, 0]), null);
    assert.equal(histogramQuantile(0.99, [1, 2], [0, 0, 5]), 2, 'beyond the last bound: the last bound');
  });
});

const limits: VerdictLimits = {
  minLabels: 100,
  minRequests: 100,
  maxErrorRatio: 0.05,
  maxLatencyRatio: 2,
  alpha: 0.05,
  driftPsi: 0.2,
};

function figures(over: Partial<VersionFigures> & { acc?: [number, number] }): VersionFigures {
  const [correct, labelled] = over.acc ?? [0, 0];
  return {
    model_version: '1',
    requests: 1000,
    errors: 0,
    p95_ms: 0.05,
    labelled,
    correct,
    // a balanced positive label with the same accuracy
    positive: { tp: Math.round(correct / 2), predicted: Math.round(labelled / 2), support: Math.round(labelled / 2) },
    drift_psi: 0.01,
    ...over,
  };
}

describe('verdict', () => {
  test('12 labels: hold, "not enough data" — even when the challenger got all of them right', () => {
    const v = verdict(figures({ acc: [6, 12] }), figures({ model_version: '2', acc: [12, 12] }), limits);
    assert.equal(v.decision, 'hold');
    assert.match(v.reasons.join('\n'), /not enough data on quality: 12 labelled predictions for the challenger/);
    assert.equal(v.challenger?.accuracy.n, 12);
    assert.ok(
      v.challenger?.accuracy.ci95 && v.challenger.accuracy.ci95.low < 0.8,
      'the interval shows how little 12 labels say',
    );
  });

  test('significantly better on enough labels: promote, with the p-value and intervals in the reason', () => {
    const v = verdict(figures({ acc: [300, 500] }), figures({ model_version: '2', acc: [450, 500] }), limits);
    assert.equal(v.decision, 'promote', v.reasons.join('\n'));
    assert.match(
      v.reasons[0],
      /significantly better \(p < 0\.0001\): accuracy 90\.0 % \[87\.[0-9] %, 92\.[0-9] %\] on 500 labels/,
    );
    assert.ok(v.tests.accuracy && v.tests.accuracy.z > 0 && v.tests.accuracy.p < 0.001);
    assert.ok((v.challenger?.f1 ?? 0) > (v.champion.f1 ?? 1));
  });

  test('a small difference on enough labels: hold, no significant difference', () => {
    const v = verdict(figures({ acc: [400, 500] }), figures({ model_version: '2', acc: [410, 500] }), limits);
    assert.equal(v.decision, 'hold');
    assert.match(v.reasons[0], /no significant difference in quality \(p=0\.[3-9]/);
  });

  test('significantly worse: rollback', () => {
    const v = verdict(figures({ acc: [450, 500] }), figures({ model_version: '2', acc: [300, 500] }), limits);
    assert.equal(v.decision, 'rollback');
    assert.match(v.reasons[0], /significantly worse/);
  });

  test('errors above the limit or latency above the ratio: rollback whatever the quality', () => {
    const better = { model_version: '2', acc: [450, 500] as [number, number] };
    const e = verdict(figures({ acc: [300, 500] }), figures({ ...better, errors: 80 }), limits);
    assert.equal(e.decision, 'rollback');
    assert.match(e.reasons.join('\n'), /error ratio 8\.0 % is above the limit 5\.0 %/);
    const l = verdict(figures({ acc: [300, 500], p95_ms: 0.5 }), figures({ ...better, p95_ms: 5 }), limits);
    assert.equal(l.decision, 'rollback');
    assert.match(l.reasons.join('\n'), /10\.00× the champion's/);
    // Twice as slow but by less than a millisecond: noise, not a reason.
    const n = verdict(figures({ acc: [300, 500], p95_ms: 0.05 }), figures({ ...better, p95_ms: 0.5 }), limits);
    assert.equal(n.decision, 'promote', n.reasons.join('\n'));
  });

  test('errors below the limit but significantly above the champion: rollback', () => {
    const v = verdict(
      figures({ errors: 0, acc: [0, 0] }),
      figures({ model_version: '2', errors: 30, requests: 1000 }),
      limits,
    );
    assert.equal(v.decision, 'rollback');
    assert.match(v.reasons[0], /errors more often than the champion/);
  });

  test('few calls: errors and latency are not judged yet', () => {
    const v = verdict(figures({}), figures({ model_version: '2', requests: 20, errors: 1 }), limits);
    assert.equal(v.decision, 'hold');
    assert.match(v.reasons.join('\n'), /the challenger scored 20 texts, 100 needed/);
  });

  test('drift holds a promotion; the guard forces a rollback; agreement is reported', () => {
    const d = verdict(
      figures({ acc: [300, 500] }),
      figures({ model_version: '2', acc: [450, 500], drift_psi: 0.4 }),
      limits,
    );
    assert.equal(d.decision, 'hold');
    assert.match(d.reasons.join('\n'), /drifted .*PSI 0\.400/);
    const g = verdict(figures({}), figures({ model_version: '2' }), limits, {
      guardTripped: 'p95 too high',
      agreement: { compared: 200, agreed: 190 },
    });
    assert.equal(g.decision, 'rollback');
    assert.match(g.reasons.join('\n'), /guard rolled the canary back: p95 too high/);
    assert.match(g.reasons.join('\n'), /agree on 95\.0 % of 200 texts/);
    assert.equal(g.agreement?.value, 0.95);
  });

  test('no challenger: hold and say how to add one', () => {
    const v = verdict(figures({}), undefined, limits);
    assert.equal(v.decision, 'hold');
    assert.match(v.reasons[0], /CHALLENGER_ALIAS/);
  });
});
