// PSI, verdicts and the sliding drift window, on hand-checked numbers.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createDriftWindow,
  createModelDrift,
  DRIFT_FEATURES,
  EMPTY_BIN_SHARE,
  overallStatus,
  psi,
  verdict,
} from '../../src/quality/drift.ts';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} is not ${b}`);

describe('psi', () => {
  test('is 0 for identical distributions and symmetric', () => {
    close(psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]), 0);
    const a = [0.1, 0.2, 0.7];
    const b = [0.3, 0.3, 0.4];
    close(psi(a, b), psi(b, a));
  });

  test('matches the definition Σ (live − ref) · ln(live / ref)', () => {
    const ref = [0.5, 0.5];
    const live = [0.8, 0.2];
    close(psi(ref, live), 0.3 * Math.log(0.8 / 0.5) + -0.3 * Math.log(0.2 / 0.5));
    close(psi(ref, live), 0.4158883083359672);
  });

  test('counts an empty bin, in either distribution, as a share of 0.0001', () => {
    assert.equal(EMPTY_BIN_SHARE, 1e-4);
    const expected = (1 - 0.5) * Math.log(1 / 0.5) + (1e-4 - 0.5) * Math.log(1e-4 / 0.5);
    close(psi([0.5, 0.5], [1, 0]), expected);
    close(psi([1, 0], [0.5, 0.5]), expected);
    assert.ok(Number.isFinite(psi([0, 1], [0, 1])));
    close(psi([0, 1], [0, 1]), 0);
  });

  test('refuses distributions over different bins', () => {
    assert.throws(() => psi([1], [0.5, 0.5]), /different bins/);
  });
});

describe('verdict', () => {
  const t = { moderate: 0.1, drifted: 0.2 };
  test('stable < 0.1 ≤ moderate < 0.2 ≤ drifted', () => {
    assert.equal(verdict(0, t), 'stable');
    assert.equal(verdict(0.0999, t), 'stable');
    assert.equal(verdict(0.1, t), 'moderate');
    assert.equal(verdict(0.1999, t), 'moderate');
    assert.equal(verdict(0.2, t), 'drifted');
    assert.equal(verdict(5, t), 'drifted');
  });
  test('follows configured thresholds', () => {
    assert.equal(verdict(0.2, { moderate: 0.25, drifted: 0.5 }), 'stable');
  });
});

describe('drift window', () => {
  // One feature with edges [10, 20]: bins (-inf,10], (10,20], (20,inf), reference 25/50/25 %.
  const reference = { text_length: { edges: [10, 20], proportions: [0.25, 0.5, 0.25], n: 100 } };
  const opts = { window: 4, maxAgeMinutes: 0, minCount: 2, moderate: 0.1, drifted: 0.2 };
  const values = (len: number) => {
    const v = new Float64Array(DRIFT_FEATURES.length).fill(Number.NaN);
    v[0] = len;
    return v;
  };

  test('bins live values with the reference edges (right-closed) and reports only features with a reference', () => {
    const w = createDriftWindow({ name: 'm', version: '1' }, reference, opts);
    for (const len of [10, 11, 20, 21]) w.observe(values(len), 0);
    const r = w.report(0);
    assert.deepEqual(Object.keys(r.features), ['text_length']);
    assert.deepEqual(r.features.text_length?.live, [0.25, 0.5, 0.25]);
    close(r.features.text_length?.psi as number, 0);
    assert.equal(r.features.text_length?.verdict, 'stable');
    assert.equal(r.status, 'ok');
  });

  test('the overall status follows the features: drifted when every feature is drifted, never "ok"', () => {
    const w = createDriftWindow({ name: 'm', version: '1' }, reference, opts);
    for (const len of [50, 50, 50, 50]) w.observe(values(len), 0);
    const r = w.report(0);
    assert.equal(r.features.text_length?.verdict, 'drifted');
    assert.equal(r.status, 'drifted');
    assert.deepEqual(r.drifted_features, ['text_length']);
  });

  test('overallStatus: the worst verdict wins', () => {
    assert.equal(overallStatus(false, ['drifted']), 'insufficient_data');
    assert.equal(overallStatus(true, ['stable', 'stable']), 'ok');
    assert.equal(overallStatus(true, ['stable', 'moderate', null]), 'moderate');
    assert.equal(overallStatus(true, ['moderate', 'drifted', 'stable']), 'drifted');
  });

  test('slides: the oldest prediction leaves when the window is full', () => {
    const w = createDriftWindow({ name: 'm', version: '1' }, reference, opts);
    for (const len of [1, 1, 1, 1, 50, 50]) w.observe(values(len), 0);
    const r = w.report(0);
    assert.equal(r.window.predictions, 4);
    assert.deepEqual(r.features.text_length?.live, [0.5, 0, 0.5]);
    assert.equal(r.features.text_length?.verdict, 'drifted');
  });

  test('drops predictions older than the maximum age', () => {
    const w = createDriftWindow({ name: 'm', version: '1' }, reference, { ...opts, maxAgeMinutes: 1 });
    w.observe(values(1), 0);
    w.observe(values(1), 0);
    w.observe(values(15), 90_000);
    w.observe(values(15), 90_000);
    const r = w.report(100_000);
    assert.equal(r.window.predictions, 2);
    assert.deepEqual(r.features.text_length?.live, [0, 1, 0]);
  });

  test('gives no PSI below the minimum count, and leaves NaN values out', () => {
    const w = createDriftWindow({ name: 'm', version: '1' }, reference, opts);
    w.observe(values(5), 0);
    let r = w.report(0);
    assert.equal(r.status, 'insufficient_data');
    assert.equal(r.features.text_length?.psi, null);
    assert.equal(r.features.text_length?.verdict, null);
    w.observe(values(Number.NaN), 0);
    r = w.report(0);
    assert.equal(r.window.predictions, 2);
    assert.equal(r.features.text_length?.count, 1);
    assert.equal(r.features.text_length?.psi, null, 'one value of the feature is below the minimum count');
  });
});

describe('drift of a model version', () => {
  const opts = { window: 10, maxAgeMinutes: 0, minCount: 5, moderate: 0.1, drifted: 0.2, referenceCount: 20 };
  const values = (len: number) => {
    const v = new Float64Array(DRIFT_FEATURES.length).fill(Number.NaN);
    v[0] = len;
    v[DRIFT_FEATURES.length - 1] = (len % 10) / 10; // the score
    return v;
  };

  test('uses the reference the artifact ships, and says so', () => {
    const reference = { text_length: { edges: [10, 20], proportions: [0.25, 0.5, 0.25], n: 300 } };
    const d = createModelDrift({ name: 'm', version: '1' }, reference, opts);
    d.observe(values(15), 0);
    const r = d.report(0);
    assert.deepEqual(r.reference, { source: 'shipped', n: 300 });
    assert.equal(r.status, 'insufficient_data');
    assert.deepEqual(Object.keys(r.features), ['text_length']);
  });

  test('without one, builds it from the first N predictions, then measures the ones after', () => {
    const d = createModelDrift({ name: 'm', version: '2' }, {}, opts);
    for (let i = 0; i < 19; i++) d.observe(values(i), 0);
    let r = d.report(0);
    assert.equal(r.status, 'building_reference');
    assert.deepEqual(r.reference, { source: 'first_predictions', n: 19 });
    assert.deepEqual(r.features, {});
    d.observe(values(19), 0);
    r = d.report(0);
    assert.deepEqual(r.reference, { source: 'first_predictions', n: 20 });
    assert.equal(r.window.predictions, 0, 'the reference predictions are not in the window');
    // Features the model gives no value for (NaN throughout) get no reference.
    assert.deepEqual(Object.keys(r.features).sort(), ['score', 'text_length']);
    // Deciles of 0..19: edges 1, 3, 5, …, 17.
    assert.deepEqual(r.features.text_length?.edges, [1, 3, 5, 7, 9, 11, 13, 15, 17]);
    // The same distribution again: stable; all of it beyond the last edge: drifted.
    for (let i = 0; i < 10; i++) d.observe(values(i * 2), 0);
    r = d.report(0);
    assert.equal(r.features.text_length?.verdict, 'stable');
    // The scores of these (even tenths only) leave half the reference bins empty: the score drifted,
    // and the overall status says so.
    assert.equal(r.features.score?.verdict, 'drifted');
    assert.equal(r.status, 'drifted');
    assert.deepEqual(r.drifted_features, ['score']);
    for (let i = 0; i < 10; i++) d.observe(values(100 + i), 0);
    assert.equal(d.report(0).features.text_length?.verdict, 'drifted');
  });
});
