// The canary guard and the shadow queue.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createGuard, createTally, type GuardTrip, p95, record } from '../../src/rollout/guard.ts';
import { compare, createAgreementTally, createShadowQueue, SCORE_DIFF_BOUNDS } from '../../src/rollout/shadow.ts';

describe('guard', () => {
  const limits = { maxErrorRatio: 0.05, maxP95Ms: 10, minRequests: 100 };

  test('does nothing below the minimum request count, even with every call failing', () => {
    const trips: GuardTrip[] = [];
    const g = createGuard(limits, (t) => trips.push(t));
    const t = createTally();
    for (let i = 0; i < 99; i++) record(t, 1, true);
    assert.equal(g.check('2', t), undefined);
    assert.equal(trips.length, 0);
    record(t, 1, true);
    assert.match(
      g.check('2', t)?.reason ?? '',
      /error ratio 100\.0 % over 100 calls is above GUARD_MAX_ERROR_RATIO=0\.05/,
    );
    assert.equal(trips.length, 1);
  });

  test('trips on the error ratio just above the limit, not at it', () => {
    const g = createGuard(limits, () => undefined);
    const t = createTally();
    for (let i = 0; i < 200; i++) record(t, 0.1, i < 10); // 5.0 %
    assert.equal(g.check('2', t), undefined);
    record(t, 0.1, true); // 11/201 = 5.47 %
    assert.ok(g.check('2', t));
  });

  test('trips on p95 latency; once per version; reset() re-arms it', () => {
    const trips: GuardTrip[] = [];
    const g = createGuard(limits, (t) => trips.push(t));
    const t = createTally();
    for (let i = 0; i < 94; i++) record(t, 1, false);
    for (let i = 0; i < 6; i++) record(t, 40, false);
    assert.ok((p95(t) ?? 0) > 10);
    const trip = g.check('7', t);
    assert.equal(trip?.version, '7');
    assert.match(trip?.reason ?? '', /p95 inference time .* ms over 100 calls is above GUARD_MAX_P95_MS=10/);
    g.check('7', t);
    assert.equal(trips.length, 1, 'tripped once');
    assert.equal(g.tripped, trip);
    g.reset();
    assert.equal(g.tripped, undefined);
    const fresh = createTally();
    for (let i = 0; i < 100; i++) record(fresh, 1, false);
    assert.equal(g.check('8', fresh), undefined, 'a healthy new version is not tripped');
  });
});

describe('shadow queue', () => {
  test('runs items off the current turn, in batches, in order; drops and counts beyond its capacity', async () => {
    const batches: number[][] = [];
    let drops = 0;
    const q = createShadowQueue<number>({
      capacity: 5,
      batchSize: 2,
      run: (items) => batches.push([...items]),
      onDrop: () => drops++,
    });
    for (let i = 0; i < 7; i++) q.push(i);
    assert.equal(batches.length, 0, 'nothing runs on the response path');
    assert.equal(q.depth(), 5);
    assert.equal(q.dropped(), 2);
    assert.equal(drops, 2);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(batches, [[0, 1], [2, 3], [4]]);
    assert.equal(q.depth(), 0);
    assert.equal(q.push(9), true, 'room again');
    q.drain();
    assert.deepEqual(batches.at(-1), [9]);
  });

  test('a failing batch does not stop the queue', async () => {
    let calls = 0;
    const q = createShadowQueue<number>({
      capacity: 10,
      batchSize: 1,
      run: () => {
        calls++;
        if (calls === 1) throw new Error('boom');
      },
    });
    q.push(1);
    q.push(2);
    assert.throws(() => q.drain(), /boom/);
    q.drain();
    assert.equal(calls, 2);
  });

  test('agreement and score differences', () => {
    const t = createAgreementTally();
    compare(t, 'spam', 'spam', 0.9, 0.95); // +0.05
    compare(t, 'spam', 'ham', 0.6, 0.3); // -0.3
    compare(t, 'ham', 'ham', 0.1, 0.1); // 0
    assert.equal(t.compared, 3);
    assert.equal(t.agreed, 2);
    const at = (x: number) => SCORE_DIFF_BOUNDS.findIndex((b) => x <= b);
    assert.equal(t.diff[at(0.05)], 1);
    assert.equal(t.diff[at(-0.3)], 1);
    assert.equal(t.diff[at(0)], 1);
    assert.ok(Math.abs(t.diffSum - -0.25) < 1e-12);
  });
});
