import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketCounts, createSeries, quantile, toColumns } from '../../src/dashboard/series.ts';
import { createMetrics } from '../../src/monitoring/metrics.ts';

describe('dashboard series', () => {
  it('computes quantiles from cumulative buckets as histogram_quantile does', () => {
    const bounds = [1, 2, 4];
    // 10 observations ≤ 1, 10 in (1, 2], none in (2, 4], 0 above: total 20.
    assert.equal(quantile(0.5, bounds, [10, 20, 20, 20]), 1);
    assert.equal(quantile(0.75, bounds, [10, 20, 20, 20]), 1.5);
    assert.equal(quantile(0.25, bounds, [10, 20, 20, 20]), 0.5);
    // Everything above the last bound: the last bound, as PromQL answers.
    assert.equal(quantile(0.99, bounds, [0, 0, 0, 5]), 4);
    assert.equal(quantile(0.5, bounds, [0, 0, 0, 0]), null);
  });

  it('turns cumulative metrics into per-second rates, percentiles and per-version predictions', async () => {
    const metrics = createMetrics();
    let now = 999_000;
    const series = createSeries({
      registry: metrics.registry,
      activeRequests: () => metrics.activeRequests(),
      now: () => now,
    });
    try {
      const model = { name: 'm', version: '3' };
      metrics.modelLoaded(model, { alias: 'champion', loadedAt: new Date(), labels: ['ham', 'spam'] });
      metrics.requestFinished('POST', '/predict', 200, 0.004, 10, 10);
      now = 1_000_000;
      await series.sample();
      for (let i = 0; i < 90; i++) metrics.requestFinished('POST', '/predict', 200, 0.0008, 10, 10);
      for (let i = 0; i < 10; i++) metrics.requestFinished('POST', '/predict', 503, 0.2, 10, 10);
      metrics.requestFinished('GET', '/dashboard/data', 200, 0.001, 0, 10);
      for (let i = 0; i < 7; i++) metrics.predicted(model, 'spam', 0.97, 40);
      metrics.predicted(model, 'ham', 0.6, 40);
      await series.sample(1_001_000);

      const slots = series.fine();
      assert.deepEqual(
        slots.map((s) => s.t),
        [999, 1000, 1001],
      );
      assert.equal(
        toColumns(series.fine(999), series.bounds()).rps_2xx[0],
        1,
        'counted from the baseline taken at start',
      );
      const cols = toColumns(series.fine(1000), series.bounds());
      assert.deepEqual(cols.t, [1001]);
      assert.equal(cols.rps_2xx[0], 90, 'the dashboard’s own request is not counted');
      assert.equal(cols.rps_5xx[0], 10);
      assert.equal(cols.error_ratio[0], 0.1);
      assert.ok((cols.p50_ms[0] as number) <= 1, `p50 ${cols.p50_ms[0]} ms`);
      assert.ok((cols.p99_ms[0] as number) >= 100, `p99 ${cols.p99_ms[0]} ms`);
      assert.deepEqual(cols.predictions, { 'v3 ham': [1], 'v3 spam': [7] });
      assert.ok(cols.rss_mb[0] > 10);

      const proba = bucketCounts(slots, series.bounds().proba, (s) => s.proba);
      assert.equal(
        proba.counts.reduce((a, b) => a + b, 0),
        8,
      );
      assert.equal(proba.counts[proba.bounds.indexOf(0.99)], 7, '0.97 falls in (0.95, 0.99]');
    } finally {
      series.stop();
    }
  });

  it('rolls seconds up into minutes', async () => {
    const metrics = createMetrics();
    const t0 = 60_000 * 1000; // a minute boundary, in ms
    const series = createSeries({ registry: metrics.registry, now: () => t0 });
    try {
      for (let s = 1; s <= 61; s++) {
        metrics.requestFinished('GET', '/health', 200, 0.001, 0, 10);
        await series.sample(t0 + s * 1000);
      }
      const coarse = series.coarse();
      assert.equal(coarse.length, 1, 'one finished minute');
      const cols = toColumns(coarse, series.bounds());
      assert.equal(cols.t[0], 60_000);
      // 59 requests fell in the first minute's seconds 1..59 → 59/60 per second.
      assert.ok(Math.abs(cols.rps_2xx[0] - 59 / 60) < 1e-9, String(cols.rps_2xx[0]));
    } finally {
      series.stop();
    }
  });

  it('works without metrics (METRICS_ENABLED=false): process figures only', async () => {
    const series = createSeries({ registry: undefined, now: () => 5000 });
    try {
      await series.sample();
      const cols = toColumns(series.fine(), series.bounds());
      assert.deepEqual(cols.t, [5, 5]);
      assert.equal(cols.p50_ms[0], null);
      assert.ok(cols.rss_mb[0] > 0);
    } finally {
      series.stop();
    }
  });
});
