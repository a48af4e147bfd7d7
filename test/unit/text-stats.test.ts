import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FEATURIZER, Featurizer } from '../../src/model/featurizer.ts';
import { LinearClassifier } from '../../src/model/linear.ts';
import { binIndex, histogram, quantileEdges, referenceDistribution } from '../../src/model/reference.ts';
import { countUrls, textStats } from '../../src/model/text-stats.ts';
import type { Classifier } from '../../src/model/types.ts';
import { VocabFilter } from '../../src/model/vocab.ts';

function classifierWithVocab(words: string[]): LinearClassifier {
  const featurizer = { ...DEFAULT_FEATURIZER, hashBits: 12 };
  const f = new Featurizer(featurizer);
  const vocab = VocabFilter.empty(16, 3);
  for (const w of words) {
    f.scan(w, true);
    for (let i = 0; i < f.counts.tokens; i++) vocab.add(f.tokenHash(i));
  }
  return new LinearClassifier({
    featurizer,
    weights: new Float32Array(1 << 12),
    bias: 0,
    labels: ['ham', 'spam'],
    vocab,
  });
}

describe('textStats', () => {
  const clf = classifierWithVocab(['hello world', 'visit']);

  it('computes the drift features of known strings', () => {
    const s = textStats('Hello WORLD 42, visit http://a.example and www.b.example!', clf);
    // tokens: hello world 42 visit http a example and www b example → 11
    assert.equal(s.text_length, 57);
    assert.equal(s.token_count, 11);
    // visible: letters 41 + digits 2 + symbols (",", ":", "/", "/", ".", ".", ".", "!") 8 = 51
    assert.equal(s.digit_share, 2 / 51);
    assert.equal(s.upper_share, 6 / 41);
    assert.equal(s.url_count, 2);
    // known: hello, world, visit → 8 of 11 unknown
    assert.equal(s.unknown_token_share, 8 / 11);
  });

  it('is 0 for shares of an empty text and reuses an output object', () => {
    const out = textStats('', clf);
    assert.deepEqual(out, {
      text_length: 0,
      token_count: 0,
      digit_share: 0,
      upper_share: 0,
      url_count: 0,
      unknown_token_share: 0,
    });
    const again = textStats('hello', clf, out);
    assert.equal(again, out);
    assert.equal(out.token_count, 1);
    assert.equal(out.unknown_token_share, 0);
  });

  it('refuses classifiers that cannot provide statistics', () => {
    const other: Classifier = {
      labels: ['a', 'b'],
      positiveLabel: 'b',
      score: () => 0.5,
      predict: () => ({ label: 'b', proba: 0.5, probabilities: { a: 0.5, b: 0.5 } }),
    };
    assert.throws(() => textStats('x', other), /does not provide text statistics/);
  });

  it('countUrls counts http(s):// and www. once each', () => {
    assert.equal(countUrls('see HTTPS://www.x.org and http://y and www.z.com, not wwwx or http:/'), 3);
    assert.equal(countUrls(''), 0);
  });
});

describe('reference distributions', () => {
  it('uses de-duplicated decile edges and right-closed bins', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    const edges = quantileEdges(values);
    assert.deepEqual(edges, [10, 20, 30, 40, 50, 60, 70, 80, 90]);
    assert.equal(binIndex(edges, 10), 0); // (-inf, 10]
    assert.equal(binIndex(edges, 10.5), 1);
    assert.equal(binIndex(edges, 1000), 9);
    const ref = referenceDistribution(values);
    assert.deepEqual(ref.proportions, new Array(10).fill(0.1));
    assert.equal(ref.n, 100);
  });

  it('collapses repeated edges (mostly-zero features)', () => {
    const values = [...new Array(80).fill(0), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 4, 9];
    const ref = referenceDistribution(values);
    // deciles: ranks 10..80 are 0, rank 90 is 1 → edges [0, 1]
    assert.deepEqual(ref.edges, [0, 1]);
    assert.deepEqual(ref.proportions, [0.8, 0.1, 0.1]);
    assert.deepEqual(histogram([], ref.edges), [0, 0, 0]);
  });
});

describe('one scan per predicted text (issue 8: the prediction scan yields the drift statistics)', () => {
  const words = ['hello', 'world', 'visit', 'free', 'prize', 'meeting', 'Réunion', '会议'];
  const pieces = [
    ...words,
    'http://a.b',
    'HTTPS://x',
    'www.y.z',
    'http://www.q',
    '//www.r',
    '42',
    '!!',
    ' ',
    '\u00a0',
    '😀',
  ];
  let seed = 7;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const texts = Array.from({ length: 300 }, () =>
    Array.from({ length: 1 + rand(12) }, () => pieces[rand(pieces.length)]).join(rand(2) ? ' ' : ''),
  );
  /** Statistics from a classifier that never predicted: the statistics-only scan. */
  const fresh = classifierWithVocab(['hello world', 'visit', 'free prize']);
  const expected = texts.map((t) => ({ ...textStats(t, fresh) }));

  it('the scan counts URLs exactly as countUrls does', () => {
    const f = new Featurizer({ ...DEFAULT_FEATURIZER, hashBits: 12 });
    for (const t of [...texts, 'hthttp://x', 'http://http://x', 'www.www.x', 'xx//www.a', 'http:/x', 'wwwww.a']) {
      f.scan(t);
      assert.equal(f.counts.urls, countUrls(t), JSON.stringify(t));
      f.scan(t, true);
      assert.equal(f.counts.urls, countUrls(t), JSON.stringify(t));
    }
  });

  it('predict then textStats: the same statistics, with one scan per text (single texts and a batch)', () => {
    const clf = classifierWithVocab(['hello world', 'visit', 'free prize']);
    let scans = 0;
    const scan = clf.featurizer.scan.bind(clf.featurizer);
    clf.featurizer.scan = (text: string, statsOnly?: boolean) => {
      scans++;
      scan(text, statsOnly);
    };
    textStats('warm', clf); // the first call turns remembering on
    scans = 0;
    // One at a time, as for {"text": ...}.
    for (let i = 0; i < 100; i++) {
      clf.predict(texts[i]);
      assert.deepEqual({ ...textStats(texts[i], clf) }, expected[i]);
    }
    assert.equal(scans, 100);
    // A batch, as for {"texts": [...]}: all predicted, then all observed in order.
    scans = 0;
    const batch = texts.slice(100);
    for (const t of batch) clf.predict(t);
    for (const [i, t] of batch.entries()) assert.deepEqual({ ...textStats(t, clf) }, expected[100 + i]);
    assert.equal(scans, batch.length);
  });

  it('a text not just predicted (out of order, or never) still gets its own statistics', () => {
    const clf = classifierWithVocab(['hello world', 'visit', 'free prize']);
    textStats('warm', clf);
    for (const t of texts.slice(0, 10)) clf.predict(t);
    for (const i of [7, 2, 9, 0]) assert.deepEqual({ ...textStats(texts[i], clf) }, expected[i]);
    assert.deepEqual({ ...textStats(texts[250], clf) }, expected[250]);
    // A remembered entry is used once; asking again rescans and agrees.
    assert.deepEqual({ ...textStats(texts[7], clf) }, expected[7]);
  });
});
