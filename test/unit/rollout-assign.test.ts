// Sticky assignment: stable, salt-dependent, and splitting ids at the configured share.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  answeringRole,
  BUCKETS,
  bucketOf,
  bucketsFor,
  hash32,
  parseKeySource,
  rolloutKey,
} from '../../src/rollout/assign.ts';

const SALT = 'msg-cls';

describe('sticky assignment', () => {
  test('the same key always lands in the same bucket (a fixed value: the same on every instance and restart)', () => {
    assert.equal(bucketOf(SALT, 'user-42'), bucketOf(SALT, 'user-42'));
    // Pinned: a change of the hash would move every user to another version at the next deploy.
    assert.equal(hash32(SALT, 'user-42'), 2122180512);
    assert.equal(bucketOf(SALT, 'user-42'), 512);
    assert.ok(bucketOf(SALT, 'user-42') >= 0 && bucketOf(SALT, 'user-42') < BUCKETS);
  });

  test('the salt separates from the key: ("ab","c") and ("a","bc") differ', () => {
    assert.notEqual(hash32('ab', 'c'), hash32('a', 'bc'));
  });

  for (const share of [1, 10, 25, 50, 90]) {
    test(`10,000 ids split within 1 % of a ${share} % share (sequential, UUID-like and e-mail ids)`, () => {
      const kinds: [string, (i: number) => string][] = [
        ['sequential', (i) => `user-${i}`],
        ['numeric', (i) => String(i)],
        [
          'uuid-like',
          (i) => `${(i * 2654435761).toString(16).padStart(8, '0')}-4b1c-9d2e-${i.toString(16).padStart(12, '0')}`,
        ],
        ['email', (i) => `person${i}@example.org`],
      ];
      const cut = bucketsFor(share);
      for (const [kind, id] of kinds) {
        let challenger = 0;
        for (let i = 0; i < 10_000; i++) {
          if (answeringRole('canary', bucketOf(SALT, id(i)), cut) === 'challenger') challenger++;
        }
        const got = challenger / 100;
        assert.ok(Math.abs(got - share) <= 1, `${kind}: ${got} % went to the challenger, configured ${share} %`);
      }
    });
  }

  test('another salt reshuffles users', () => {
    let moved = 0;
    for (let i = 0; i < 1000; i++) if (bucketOf('a', `u${i}`) !== bucketOf('b', `u${i}`)) moved++;
    assert.ok(moved > 990);
  });

  test('off and shadow: the champion answers every request; canary/ab: buckets below the cut go to the challenger', () => {
    for (const mode of ['off', 'shadow'] as const) assert.equal(answeringRole(mode, 0, BUCKETS), 'champion');
    assert.equal(answeringRole('canary', 999, bucketsFor(10)), 'challenger');
    assert.equal(answeringRole('canary', 1000, bucketsFor(10)), 'champion');
    assert.equal(answeringRole('ab', 4999, bucketsFor(50)), 'challenger');
    assert.equal(answeringRole('ab', 0, bucketsFor(0)), 'champion', 'a weight of 0 sends nobody');
    assert.equal(bucketsFor(12.5), 1250);
  });

  test('the key: X-User-Id, else the configured header, else the client IP', () => {
    const src = parseKeySource('header:X-Session-Id');
    assert.deepEqual(src, { kind: 'header', name: 'x-session-id' });
    if (src === undefined) return;
    assert.equal(rolloutKey({ headers: { 'x-user-id': 'u1', 'x-session-id': 's1' }, ip: '1.2.3.4' }, src), 'u1');
    assert.equal(rolloutKey({ headers: { 'x-session-id': 's1' }, ip: '1.2.3.4' }, src), 's1');
    assert.equal(rolloutKey({ headers: {}, ip: '1.2.3.4' }, src), '1.2.3.4');
    assert.equal(rolloutKey({ headers: { 'x-session-id': 's1' }, ip: '1.2.3.4' }, { kind: 'ip' }), '1.2.3.4');
    assert.equal(parseKeySource('ip')?.kind, 'ip');
    assert.equal(parseKeySource('cookie:x'), undefined);
    assert.equal(parseKeySource('header:'), undefined);
  });
});
