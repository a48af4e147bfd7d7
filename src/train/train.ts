// trainClassifier: examples → a fitted msgcls-linear/1 model with its manifest, metrics and drift reference.

import { firstLine } from '../data/email.ts';
import type { DatasetSource, Example } from '../data/types.ts';
import { DEFAULT_FEATURIZER, Featurizer, type FeaturizerConfig } from '../model/featurizer.ts';
import { LINEAR_FORMAT, LinearClassifier } from '../model/linear.ts';
import {
  decodeFloat16LE,
  encodeFloat16LE,
  type LinearModelSection,
  type SavableModel,
  VOCAB_FILE,
  WEIGHTS_FILE,
} from '../model/load.ts';
import { binaryMetrics } from '../model/metrics.ts';
import { referenceDistribution } from '../model/reference.ts';
import { countUrls } from '../model/text-stats.ts';
import {
  type BinaryMetrics,
  type Classifier,
  type ModelManifest,
  predictAll,
  type ReferenceDistribution,
  type SyncClassifier,
} from '../model/types.ts';
import { VocabFilter } from '../model/vocab.ts';
import { fitLogistic, packRows } from './optimize.ts';
import { firstLines, prepareSplit, resolveLabels, subjectOnly } from './prepare.ts';

export type TrainOptions = {
  seed: number;
  /** Defaults to "spam" when present, else the second label in sorted order. */
  positiveLabel?: string;
  /** Held-out share, stratified by label. Default 0.2. */
  testFraction?: number;
  /** Drop exact-duplicate texts before splitting. Default true. */
  dedupe?: boolean;
  /**
   * Training-time augmentation for short messages: for every training e-mail (an example with
   * `subject`/`body`), also train on its subject line and its first body line, with the same label.
   * Default true. Held-out rows are never used.
   */
  augment?: boolean;
  featurizer?: Partial<FeaturizerConfig>;
  epochs?: number;
  learningRate?: number;
  l2?: number;
  /** "sqrt-balanced": rows of class c weigh sqrt(n_majority / n_c); "none": all 1. Default sqrt-balanced. */
  classWeight?: 'sqrt-balanced' | 'none';
  /** Recorded in manifest.training.source. */
  source?: DatasetSource | Record<string, unknown>;
  /** ISO timestamp for manifest.created_at (default: now). */
  createdAt?: string;
  /** Called between stages (nothing is printed). */
  onProgress?: (event: { stage: string; ms: number }) => void;
};

export type TrainedModel = SavableModel & {
  classifier: LinearClassifier;
  metrics: Record<string, BinaryMetrics>;
  /** Milliseconds per stage. */
  timings: Record<string, number>;
};

export const TRAIN_DEFAULTS = {
  testFraction: 0.2,
  epochs: 10,
  learningRate: 0.3,
  l2: 1e-4,
  featurizer: { ...DEFAULT_FEATURIZER, hashBits: 18, charMin: 2, charMax: 4 } satisfies FeaturizerConfig,
  vocabLog2Bits: 20,
  vocabHashes: 3,
} as const;

/**
 * Fit on a seeded stratified (1 − testFraction) part, evaluate on the rest. The returned model is the
 * one fitted on the training part, so the recorded metrics describe it exactly.
 */
export function trainClassifier(examples: readonly Example[], options: TrainOptions): TrainedModel {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (stage: string) => {
    const now = performance.now();
    timings[stage] = Math.round((now - t) * 10) / 10;
    options.onProgress?.({ stage, ms: timings[stage] });
    t = now;
  };
  if (!Number.isInteger(options.seed)) throw new Error(`seed must be an integer, got ${options.seed}`);
  const testFraction = options.testFraction ?? TRAIN_DEFAULTS.testFraction;
  const dedupe = options.dedupe ?? true;
  const augment = options.augment ?? true;
  const epochs = options.epochs ?? TRAIN_DEFAULTS.epochs;
  const learningRate = options.learningRate ?? TRAIN_DEFAULTS.learningRate;
  const l2 = options.l2 ?? TRAIN_DEFAULTS.l2;
  const classWeight = options.classWeight ?? 'sqrt-balanced';
  const fcfg: FeaturizerConfig = { ...TRAIN_DEFAULTS.featurizer, ...options.featurizer };

  const { positive, negative } = resolveLabels(examples, options.positiveLabel);
  const split = prepareSplit(examples, { seed: options.seed, testFraction, dedupe });
  if (split.test.length === 0 || split.train.length === 0)
    throw new Error('not enough examples to split into train and test');
  for (const part of [split.train, split.test]) {
    if (!part.some((e) => e.label === positive) || !part.some((e) => e.label === negative)) {
      throw new Error('both labels must occur in the training and the held-out part; add more examples');
    }
  }
  lap('split');

  // Featurize training rows (+ augmentation), collect vocabulary and text-stat reference values.
  const featurizer = new Featurizer(fcfg);
  const vocab = VocabFilter.empty(TRAIN_DEFAULTS.vocabLog2Bits, TRAIN_DEFAULTS.vocabHashes);
  const vocabSeen = new Set<number>();
  const rows: { indices: Int32Array; values: Float32Array }[] = [];
  const ys: number[] = [];
  const stat = {
    text_length: [] as number[],
    token_count: [] as number[],
    digit_share: [] as number[],
    upper_share: [] as number[],
    url_count: [] as number[],
  };
  let subjectRows = 0;
  let firstLineRows = 0;
  const addRow = (text: string, y: number) => {
    featurizer.scan(text);
    rows.push(featurizer.extract());
    ys.push(y);
  };
  for (const e of split.train) {
    const y = e.label === positive ? 1 : 0;
    featurizer.scan(e.text);
    const c = featurizer.counts;
    for (let i = 0; i < c.tokens; i++) {
      const h = featurizer.tokenHash(i);
      vocab.add(h);
      vocabSeen.add(h);
    }
    stat.text_length.push(e.text.length);
    stat.token_count.push(c.tokens);
    stat.digit_share.push(c.visible > 0 ? c.digits / c.visible : 0);
    stat.upper_share.push(c.letters > 0 ? c.upper / c.letters : 0);
    stat.url_count.push(countUrls(e.text));
    rows.push(featurizer.extract());
    ys.push(y);
    if (augment) {
      const subject = e.subject?.trim();
      if (subject && subject !== e.text) {
        addRow(subject, y);
        subjectRows++;
      }
      if (e.body !== undefined) {
        const line = firstLine(e.body);
        if (line && line !== subject) {
          addRow(line, y);
          firstLineRows++;
        }
      }
    }
  }
  const X = packRows(rows);
  const y = Uint8Array.from(ys);
  let nPos = 0;
  for (const v of ys) nPos += v;
  const nNeg = ys.length - nPos;
  const wPos = classWeight === 'sqrt-balanced' ? Math.sqrt(Math.max(nPos, nNeg) / nPos) : 1;
  const wNeg = classWeight === 'sqrt-balanced' ? Math.sqrt(Math.max(nPos, nNeg) / nNeg) : 1;
  const sampleWeight = Float32Array.from(ys, (v) => (v ? wPos : wNeg));
  lap('featurize');

  const fit = fitLogistic(X, y, sampleWeight, { dim: featurizer.dim, epochs, learningRate, l2, seed: options.seed });
  lap('fit');

  // The served model uses half-precision weights: build the classifier from exactly those.
  const weightBytes = encodeFloat16LE(fit.weights);
  const weights = decodeFloat16LE(weightBytes, featurizer.dim);
  const classifier = new LinearClassifier({
    featurizer: fcfg,
    weights,
    bias: fit.bias,
    labels: [negative, positive],
    vocab,
  });

  // Evaluation on the held-out part: full texts and short-message views.
  const metrics: Record<string, BinaryMetrics> = {};
  const holdoutScores = scoreAll(classifier, split.test);
  metrics.holdout = binaryMetrics(
    split.test.map((e) => e.label === positive),
    holdoutScores,
    positive,
  );
  const subjects = subjectOnly(split.test);
  if (subjects.length > 0) metrics.holdout_subject_only = evaluate(classifier, subjects, positive);
  // Threads and repeated spam runs share subjects: also score only subjects never seen in training.
  const trainSubjects = new Set(subjectOnly(split.train).map((e) => e.text));
  const unseenSubjects = subjects.filter((e) => !trainSubjects.has(e.text));
  const unseenLabels = new Set(unseenSubjects.map((e) => e.label));
  if (unseenLabels.size === 2) metrics.holdout_subject_only_unseen = evaluate(classifier, unseenSubjects, positive);
  const lines = firstLines(split.test);
  if (lines.length > 0) metrics.holdout_first_line = evaluate(classifier, lines, positive);
  lap('evaluate');

  // Drift reference: text features of the training e-mails; unknown-token share and score on held-out.
  const unknown: number[] = [];
  for (const e of split.test) unknown.push(classifier.textStats(e.text).unknown_token_share);
  const reference: Record<string, ReferenceDistribution> = {};
  for (const [name, values] of Object.entries(stat))
    reference[name] = { ...referenceDistribution(values), population: 'train' };
  reference.unknown_token_share = { ...referenceDistribution(unknown), population: 'holdout' };
  reference.score = { ...referenceDistribution(holdoutScores), population: 'holdout' };
  lap('reference');

  const countLabels = (rows: readonly Example[]) => {
    const out: Record<string, number> = { [negative]: 0, [positive]: 0 };
    for (const e of rows) out[e.label]++;
    return out;
  };
  const section: LinearModelSection = {
    weights_file: WEIGHTS_FILE,
    weights_dtype: 'float16-le',
    dim: featurizer.dim,
    bias: fit.bias,
    vocab_file: VOCAB_FILE,
    vocab_hashes: TRAIN_DEFAULTS.vocabHashes,
  };
  const manifest: Omit<ModelManifest, 'files'> = {
    format: LINEAR_FORMAT,
    labels: [negative, positive],
    positive_label: positive,
    created_at: options.createdAt ?? new Date().toISOString(),
    featurizer: {
      ...fcfg,
      tokenizer:
        'runs of Unicode letters/digits after NFKD folding, mark stripping, lower-casing and homoglyph mapping; other visible characters are symbol tokens',
      features:
        'word unigrams + bigrams + symbol unigrams (word block), char n-grams of boundary-padded words (char block); FNV-1a + murmur3 fmix32 hashing',
      tf: '1 + ln(tf)',
      normalization: 'L2 per block, scaled by wordWeight / charWeight',
      icu: process.versions.icu ?? null,
    },
    training: {
      source: options.source ?? null,
      rows_in: split.rowsIn,
      dedupe: split.dedupe,
      rows_after_dedupe: split.train.length + split.test.length,
      label_counts: countLabels([...split.train, ...split.test]),
      seed: options.seed,
      split: {
        method: 'stratified',
        test_fraction: testFraction,
        train_rows: split.train.length,
        test_rows: split.test.length,
        train_label_counts: countLabels(split.train),
        test_label_counts: countLabels(split.test),
      },
      augmentation: augment ? { subject_rows: subjectRows, first_line_rows: firstLineRows } : null,
      training_rows: X.nRows,
      nonzeros: X.indices.length,
      optimizer: {
        method: 'logistic regression, AdaGrad SGD, lazy L2, seeded shuffles',
        epochs,
        learning_rate: learningRate,
        l2,
        class_weight: classWeight,
        row_weights: { [negative]: wNeg, [positive]: wPos },
        final_epoch_loss: fit.epochLoss[fit.epochLoss.length - 1],
      },
      vocabulary: {
        distinct_tokens: vocabSeen.size,
        filter_bits: 2 ** TRAIN_DEFAULTS.vocabLog2Bits,
        filter_hashes: TRAIN_DEFAULTS.vocabHashes,
        expected_false_positive_rate: vocab.falsePositiveRate(vocabSeen.size),
      },
      holdout_subjects_seen_in_training: subjects.filter((e) => trainSubjects.has(e.text)).length,
      timings_ms: timings,
    },
    metrics,
    reference,
    model: section,
  };
  const files = { [WEIGHTS_FILE]: weightBytes, [VOCAB_FILE]: vocab.bits };
  return { manifest, files, classifier, metrics, timings };
}

function scoreAll(classifier: SyncClassifier, examples: readonly Example[]): Float64Array {
  const out = new Float64Array(examples.length);
  for (let i = 0; i < examples.length; i++) out[i] = classifier.score(examples[i].text);
  return out;
}

/**
 * Metrics of `classifier` on labelled examples. Labels other than the positive one count as negative,
 * but every label must be one the classifier knows.
 */
export function evaluate(
  classifier: SyncClassifier,
  examples: readonly Example[],
  positiveLabel = classifier.positiveLabel,
): BinaryMetrics {
  checkLabels(classifier, examples, positiveLabel);
  const flip = positiveLabel !== classifier.positiveLabel;
  const scores = new Float64Array(examples.length);
  for (let i = 0; i < examples.length; i++) {
    const p = classifier.score(examples[i].text);
    scores[i] = flip ? 1 - p : p;
  }
  return binaryMetrics(
    examples.map((e) => e.label === positiveLabel),
    scores,
    positiveLabel,
  );
}

/** `evaluate` for any format: async ones (ONNX) are run in batches; the score is P(positive label). */
export async function evaluateAny(
  classifier: Classifier,
  examples: readonly Example[],
  positiveLabel = classifier.positiveLabel,
): Promise<BinaryMetrics> {
  if (!classifier.async) return evaluate(classifier, examples, positiveLabel);
  checkLabels(classifier, examples, positiveLabel);
  const scores = new Float64Array(examples.length);
  const BATCH = 256;
  for (let i = 0; i < examples.length; i += BATCH) {
    const chunk = examples.slice(i, i + BATCH).map((e) => e.text);
    const ps = await predictAll(classifier, chunk);
    for (let j = 0; j < ps.length; j++) scores[i + j] = ps[j].probabilities[positiveLabel] ?? 0;
  }
  return binaryMetrics(
    examples.map((e) => e.label === positiveLabel),
    scores,
    positiveLabel,
  );
}

function checkLabels(classifier: Classifier, examples: readonly Example[], positiveLabel: string): void {
  if (!classifier.labels.includes(positiveLabel)) {
    throw new Error(
      `positive label ${JSON.stringify(positiveLabel)} is not one of the model's labels: ${classifier.labels.join(', ')}`,
    );
  }
  const unknown = new Set<string>();
  for (const e of examples) if (!classifier.labels.includes(e.label)) unknown.add(e.label);
  if (unknown.size > 0) {
    throw new Error(
      `labels not known to the model: ${[...unknown]
        .slice(0, 10)
        .map((l) => JSON.stringify(l))
        .join(', ')} (model labels: ${classifier.labels.join(', ')})`,
    );
  }
}
