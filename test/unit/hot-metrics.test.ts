import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../src/monitoring/hot-metrics.ts';

const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .sort();

describe('FastHistogram / FastCounter', () => {
  test('expose exactly what prom-client would for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const buckets = [0.001, 0.01, 0.1, 1];
    const fh = new FastHistogram({ name: 'h', help: 'h', labelNames: ['a', 'b'], buckets, registry: ours });
    const ph = new Histogram({ name: 'h', help: 'h', labelNames: ['a', 'b'], buckets, registers: [theirs] });
    const fc = new FastCounter({ name: 'c_total', help: 'c', labelNames: ['a'], registry: ours });
    const pc = new Counter({ name: 'c_total', help: 'c', labelNames: ['a'], registers: [theirs] });
    const values = [0, 0.0005, 0.001, 0.002, 0.05, 0.1, 0.5, 1, 2, 100];
    for (const [i, v] of values.entries()) {
      const labels = i % 2 ? ['x', 'y'] : ['x', 'z'];
      fh.cell(...labels).observe(v);
      ph.labels(...labels).observe(v);
      fc.cell(labels[1]).inc();
      pc.labels(labels[1]).inc();
    }
    fc.cell('y').inc(2.5);
    pc.labels('y').inc(2.5);
    assert.deepEqual(lines(await ours.metrics()), lines(await theirs.metrics()));
    assert.match(await ours.metrics(), /^# TYPE h histogram$/m);
    assert.match(await ours.metrics(), /^# TYPE c_total counter$/m);
  });

  test('a cell is found once and reused; label arity is checked', () => {
    const h = new FastHistogram({ name: 'h2', help: 'h', labelNames: ['a'], buckets: [1], registry: new Registry() });
    assert.equal(h.cell('x'), h.cell('x'));
    assert.notEqual(h.cell('x'), h.cell('y'));
    assert.throws(() => h.cell(), /expected 1 label values \(a\), got 0/);
  });
});
