import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FEATURIZER, Featurizer, fmix32 } from '../../src/model/featurizer.ts';

const cfg = { ...DEFAULT_FEATURIZER, hashBits: 16, charMin: 2, charMax: 4 };

function features(f: Featurizer, text: string): Map<number, number> {
  f.scan(text);
  const { indices, values } = f.extract();
  const m = new Map<number, number>();
  for (let k = 0; k < indices.length; k++) m.set(indices[k], (m.get(indices[k]) ?? 0) + values[k]);
  return m;
}

function sameFeatures(a: Map<number, number>, b: Map<number, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (Math.abs((b.get(k) ?? Number.NaN) - v) > 1e-6) return false;
  return true;
}

describe('Featurizer', () => {
  it('is deterministic across instances and calls, and its hashes are pinned', () => {
    const a = new Featurizer(cfg);
    const b = new Featurizer(cfg);
    const t = 'Buy cheap iPhone now!!! Limited offer: 50% off';
    const fa = features(a, t);
    assert.ok(sameFeatures(fa, features(b, t)));
    assert.ok(sameFeatures(fa, features(a, t))); // scratch was reset
    // Pin the hash function so that a change cannot silently invalidate saved models.
    assert.equal(fmix32(0), 0);
    assert.equal(fmix32(1), 0x514e28b7);
    a.scan('free');
    assert.equal(a.counts.tokens, 1);
    assert.equal(a.tokenHash(0), 0xc9eac47f);
    a.reset();
  });

  it('produces L2-normalised blocks with sublinear TF', () => {
    const f = new Featurizer({ ...cfg, charMax: 0, wordBigrams: false, symbols: false });
    f.scan('spam spam spam eggs');
    const { indices, values } = f.extract();
    assert.equal(indices.length, 2);
    const tf = [1 + Math.log(3), 1];
    const norm = Math.hypot(...tf);
    assert.deepEqual(
      [...values].map((v) => +v.toFixed(6)),
      tf.map((v) => +(v / norm).toFixed(6)),
    );
    // both blocks together: each block has unit norm
    const g = new Featurizer(cfg);
    g.scan('hello world');
    const all = g.extract();
    let sq = 0;
    for (const v of all.values) sq += v * v;
    assert.ok(Math.abs(sq - 2) < 1e-5, `squared norm ${sq}`);
  });

  it('folds case, accents, fullwidth, mathematical letters, homoglyphs and zero-width characters', () => {
    const f = new Featurizer(cfg);
    const plain = features(f, 'free money');
    for (const variant of [
      'FREE Money',
      'fréé mönéy',
      'ＦＲＥＥ ｍｏｎｅｙ',
      '𝐟𝐫𝐞𝐞 money',
      'frе\u200Be money' /* Cyrillic е + ZWSP */,
    ]) {
      assert.ok(sameFeatures(plain, features(f, variant)), variant);
    }
    assert.ok(!sameFeatures(plain, features(f, 'free monkey')));
  });

  it('tokenises letters/digits, treats other visible characters as symbols, and counts characters', () => {
    const f = new Featurizer(cfg);
    f.scan('Win $100 NOW! 😀 v1agra');
    assert.equal(f.counts.tokens, 4); // win, 100, now, v1agra
    assert.equal(f.counts.letters, 3 + 3 + 5);
    assert.equal(f.counts.upper, 4); // W, N, O, W
    assert.equal(f.counts.digits, 3 + 1);
    assert.equal(f.counts.visible, 11 + 4 + 3); // + "$", "!", emoji
    f.reset();
  });

  it('works for empty text and handles lone surrogates', () => {
    const f = new Featurizer(cfg);
    f.scan('');
    assert.equal(f.extract().indices.length, 0);
    f.scan('a\ud800b');
    assert.equal(f.counts.tokens, 2);
    f.reset();
  });

  // Speed is the bench's to measure (npm run bench), not a test's: a timed assertion here failed on a
  // loaded machine. What a test can hold is that the scan's work is proportional to the text: every
  // repetition of a unit adds the same tokens and characters, up to the longest text accepted.
  it('counts in proportion to the text length, up to MAX_TEXT_CHARS', () => {
    const f = new Featurizer(cfg);
    const w = new Float32Array(f.dim);
    const unit = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit 12345 ÄÖÜ. ';
    const counts = (s: string) => {
      f.scan(s);
      assert.ok(Number.isFinite(f.dot(w)));
      return { ...f.counts };
    };
    const one = counts(unit);
    const many = counts(unit.repeat(290)); // ~20k characters
    for (const k of Object.keys(one) as (keyof typeof one)[]) assert.equal(many[k], one[k] * 290, k);
  });

  it('rejects invalid settings', () => {
    assert.throws(() => new Featurizer({ ...cfg, hashBits: 40 }), /hashBits/);
    assert.throws(() => new Featurizer({ ...cfg, charMin: 5, charMax: 3 }), /n-gram range/);
  });
});
