import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Example } from '../../src/data/types.ts';
import { dedupeExamples, resolveLabels } from '../../src/train/prepare.ts';
import { Rng } from '../../src/train/random.ts';
import { stratifiedSplit } from '../../src/train/split.ts';
import { evaluate, trainClassifier } from '../../src/train/train.ts';

/** A small synthetic e-mail-like dataset with overlapping vocabularies. */
function synthetic(n: number, seed: number): Example[] {
  const rng = new Rng(seed);
  const pick = (words: string[], k: number) => Array.from({ length: k }, () => words[rng.int(words.length)]).join(' ');
  const spamW = ['free', 'winner', 'cash', 'offer', 'click', 'viagra', 'prize', 'urgent', 'money', 'deal'];
  const hamW = ['meeting', 'patch', 'review', 'lunch', 'report', 'build', 'thanks', 'tomorrow', 'kernel', 'draft'];
  const common = ['the', 'a', 'to', 'you', 'and', 'of', 'please', 'today', 'now', 'this'];
  const out: Example[] = [];
  for (let i = 0; i < n; i++) {
    const spam = i % 3 === 0;
    const words = spam ? spamW : hamW;
    const subject = `${pick(words, 2)} ${pick(common, 1)}`;
    const body = `${pick(common, 3)} ${pick(words, 4)} ${pick(common, 3)}\n${pick(words, 2)} ${pick(common, 4)}`;
    out.push({ text: `${subject}\n${body}`, label: spam ? 'spam' : 'ham', subject, body });
  }
  return out;
}

const fast = { epochs: 5, featurizer: { hashBits: 14 } };

describe('trainClassifier', () => {
  const data = synthetic(300, 1);

  it('separates the classes of a synthetic dataset, incl. subject lines alone', () => {
    const trained = trainClassifier(data, { seed: 3, ...fast });
    const m = trained.metrics;
    assert.ok(m.holdout.f1 > 0.95, `holdout F1 ${m.holdout.f1}`);
    assert.ok(m.holdout.roc_auc > 0.99);
    assert.ok(m.holdout_subject_only.f1 > 0.9, `subject F1 ${m.holdout_subject_only.f1}`);
    assert.equal(m.holdout.n, 60);
    assert.equal(trained.classifier.positiveLabel, 'spam');
    assert.deepEqual(trained.classifier.labels, ['ham', 'spam']);
    assert.ok(trained.classifier.score('free cash prize click now') > 0.5);
    assert.ok(trained.classifier.score('patch review tomorrow') < 0.5);
    const pred = trained.classifier.predict('free cash');
    assert.equal(pred.label, 'spam');
    assert.ok(Math.abs(pred.probabilities.ham + pred.probabilities.spam - 1) < 1e-12);
    // manifest essentials
    const man = trained.manifest;
    assert.equal(man.format, 'msgcls-linear/1');
    assert.equal(man.positive_label, 'spam');
    for (const k of [
      'text_length',
      'token_count',
      'digit_share',
      'upper_share',
      'url_count',
      'unknown_token_share',
      'score',
    ]) {
      const r = man.reference[k];
      assert.ok(r, k);
      assert.equal(r.proportions.length, r.edges.length + 1);
      assert.ok(Math.abs(r.proportions.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    }
    assert.equal(man.reference.score.n, 60);
    assert.ok(typeof trained.timings.fit === 'number');
  });

  it('is deterministic for a seed and changes with it', () => {
    const a = trainClassifier(data, { seed: 5, ...fast });
    const b = trainClassifier(data, { seed: 5, ...fast });
    const c = trainClassifier(data, { seed: 6, ...fast });
    assert.deepEqual(a.metrics, b.metrics);
    assert.deepEqual(a.files['weights.f16'], b.files['weights.f16']);
    assert.notDeepEqual(a.files['weights.f16'], c.files['weights.f16']);
  });

  it('never trains on held-out rows: augmentation uses training e-mails only', () => {
    const trained = trainClassifier(data, { seed: 3, ...fast });
    const training = trained.manifest.training as {
      split: { train_rows: number };
      augmentation: { subject_rows: number };
      training_rows: number;
    };
    assert.equal(training.split.train_rows, 240);
    assert.ok(training.augmentation.subject_rows <= 240);
    assert.ok(training.training_rows <= 240 * 3);
  });

  it('requires exactly two labels and a known positive label', () => {
    const three = [...data.slice(0, 10), { text: 'x', label: 'other' }];
    assert.throws(() => trainClassifier(three, { seed: 1 }), /exactly two labels.*found 3: "ham", "other", "spam"/);
    assert.throws(
      () =>
        trainClassifier(
          data.filter((e) => e.label === 'ham'),
          { seed: 1 },
        ),
      /found 1: "ham"/,
    );
    assert.throws(() => trainClassifier(data, { seed: 1, positiveLabel: 'eggs' }), /positive label "eggs"/);
  });

  it('defaults the positive label to spam, else the second label in sorted order', () => {
    assert.equal(
      resolveLabels([
        { text: 'a', label: 'spam' },
        { text: 'b', label: 'zzz' },
      ]).positive,
      'spam',
    );
    assert.equal(
      resolveLabels([
        { text: 'a', label: 'pos' },
        { text: 'b', label: 'neg' },
      ]).positive,
      'pos',
    );
    assert.deepEqual(
      resolveLabels([
        { text: 'a', label: '1' },
        { text: 'b', label: '0' },
      ]).labels,
      ['0', '1'],
    );
  });
});

describe('evaluate', () => {
  it('scores examples and can flip the positive label', () => {
    const trained = trainClassifier(synthetic(150, 2), { seed: 1, ...fast });
    const rows: Example[] = [
      { text: 'free cash prize', label: 'spam' },
      { text: 'kernel patch review', label: 'ham' },
    ];
    const m = evaluate(trained.classifier, rows);
    assert.equal(m.n, 2);
    assert.equal(m.accuracy, 1);
    const flipped = evaluate(trained.classifier, rows, 'ham');
    assert.equal(flipped.positive_label, 'ham');
    assert.equal(flipped.accuracy, 1);
    assert.throws(
      () => evaluate(trained.classifier, [{ text: 'x', label: 'eggs' }]),
      /labels not known to the model: "eggs"/,
    );
  });
});

describe('dedupe and split', () => {
  it('drops exact duplicates (first kept) and texts with conflicting labels', () => {
    const d = dedupeExamples([
      { text: 'a', label: 'x' },
      { text: 'a', label: 'x' },
      { text: 'b', label: 'x' },
      { text: 'b', label: 'y' },
      { text: 'c', label: 'y' },
    ]);
    assert.deepEqual(
      d.examples.map((e) => e.text),
      ['a', 'c'],
    );
    assert.equal(d.removed, 1);
    assert.equal(d.conflicting_texts, 1);
    assert.equal(d.conflicting_rows, 2);
  });

  it('stratifies, is seeded and covers every index once', () => {
    const labels = [...new Array(70).fill('a'), ...new Array(30).fill('b')];
    const s1 = stratifiedSplit(labels, 0.2, 9);
    const s2 = stratifiedSplit(labels, 0.2, 9);
    assert.deepEqual(s1, s2);
    assert.equal(s1.test.filter((i) => labels[i] === 'a').length, 14);
    assert.equal(s1.test.filter((i) => labels[i] === 'b').length, 6);
    assert.deepEqual(
      [...s1.train, ...s1.test].sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.notDeepEqual(stratifiedSplit(labels, 0.2, 10).test, s1.test);
  });
});
