// The msgcls-linear/1 classifier: hashed features (./featurizer.ts) → logistic regression.

import { Featurizer, type FeaturizerConfig } from './featurizer.ts';
import type { TextStats } from './text-stats.ts';
import type { Prediction, SyncClassifier } from './types.ts';
import type { VocabFilter } from './vocab.ts';

export const LINEAR_FORMAT = 'msgcls-linear/1';

export type LinearModelParams = {
  featurizer: FeaturizerConfig;
  /** One weight per hash bucket (length 2^hashBits). */
  weights: Float32Array;
  bias: number;
  /** [negative, positive] */
  labels: readonly [string, string];
  vocab: VocabFilter | null;
};

/**
 * How many predicted texts keep their drift statistics until asked for: the largest default batch
 * (MAX_BATCH). A text not found (a larger batch, or never predicted) is scanned again, statistics only.
 */
const REMEMBERED = 256;
/** Per remembered text: tokens, letters, upper, digits, visible, urls, unknown tokens. */
const FIELDS = 7;

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

export class LinearClassifier implements SyncClassifier {
  readonly labels: readonly string[];
  readonly positiveLabel: string;
  readonly negativeLabel: string;
  readonly featurizer: Featurizer;
  readonly weights: Float32Array;
  readonly bias: number;
  readonly vocab: VocabFilter | null;
  // The statistics of recently predicted texts, so that textStats right after predict (the drift monitor,
  // once per predicted text, in the same order) costs no second scan. Off until textStats is first called:
  // a classifier only used to predict (CLI, evaluation) does not pay for it.
  private remembering = false;
  private readonly rememberedTexts: (string | undefined)[] = new Array(REMEMBERED).fill(undefined);
  private readonly rememberedStats = new Float64Array(REMEMBERED * FIELDS);
  private nextSlot = 0;
  private lookupHint = 0;

  constructor(params: LinearModelParams) {
    this.featurizer = new Featurizer(params.featurizer);
    if (params.weights.length !== this.featurizer.dim) {
      throw new Error(`weights have ${params.weights.length} entries, the featurizer needs ${this.featurizer.dim}`);
    }
    if (params.labels.length !== 2 || params.labels[0] === params.labels[1]) {
      throw new Error(`a binary model needs two distinct labels, got ${JSON.stringify(params.labels)}`);
    }
    this.labels = Object.freeze([params.labels[0], params.labels[1]]);
    this.negativeLabel = params.labels[0];
    this.positiveLabel = params.labels[1];
    this.weights = params.weights;
    this.bias = params.bias;
    this.vocab = params.vocab;
  }

  /** Log-odds of the positive label. */
  margin(text: string): number {
    this.featurizer.scan(text);
    if (this.remembering) this.remember(text);
    return this.bias + this.featurizer.dot(this.weights);
  }

  private unknownTokens(): number {
    const f = this.featurizer;
    let u = 0;
    if (this.vocab) for (let i = 0; i < f.counts.tokens; i++) if (!this.vocab.has(f.tokenHash(i))) u++;
    return u;
  }

  private remember(text: string): void {
    const slot = this.nextSlot;
    this.nextSlot = (slot + 1) % REMEMBERED;
    const c = this.featurizer.counts;
    const o = slot * FIELDS;
    const r = this.rememberedStats;
    r[o] = c.tokens;
    r[o + 1] = c.letters;
    r[o + 2] = c.upper;
    r[o + 3] = c.digits;
    r[o + 4] = c.visible;
    r[o + 5] = c.urls;
    r[o + 6] = this.unknownTokens();
    this.rememberedTexts[slot] = text;
  }

  /** The slot remembering `text` (consumed: the reference is dropped), or -1. */
  private recall(text: string): number {
    const texts = this.rememberedTexts;
    // Asked in the order predicted: the hint is right but for the first of a batch.
    let slot = this.lookupHint;
    if (texts[slot] !== text) {
      slot = -1;
      for (let k = 1; k <= REMEMBERED; k++) {
        const s = (this.nextSlot - k + REMEMBERED) % REMEMBERED;
        if (texts[s] === text) {
          slot = s;
          break;
        }
      }
      if (slot < 0) return -1;
    }
    texts[slot] = undefined;
    this.lookupHint = (slot + 1) % REMEMBERED;
    return slot;
  }

  score(text: string): number {
    return sigmoid(this.margin(text));
  }

  predict(text: string): Prediction {
    const p = this.score(text);
    const positive = p >= 0.5;
    return {
      label: positive ? this.positiveLabel : this.negativeLabel,
      proba: positive ? p : 1 - p,
      probabilities: { [this.negativeLabel]: 1 - p, [this.positiveLabel]: p },
    };
  }

  /**
   * Drift features of one text (see ./text-stats.ts for definitions): from the prediction's own scan
   * when the text was just predicted, else from a statistics-only scan.
   */
  textStats(text: string, out?: TextStats): TextStats {
    let tokens: number;
    let letters: number;
    let upper: number;
    let digits: number;
    let visible: number;
    let urls: number;
    let unknown: number;
    const slot = this.remembering ? this.recall(text) : -1;
    this.remembering = true;
    if (slot >= 0) {
      const r = this.rememberedStats;
      const o = slot * FIELDS;
      tokens = r[o];
      letters = r[o + 1];
      upper = r[o + 2];
      digits = r[o + 3];
      visible = r[o + 4];
      urls = r[o + 5];
      unknown = r[o + 6];
    } else {
      const f = this.featurizer;
      f.scan(text, true);
      const c = f.counts;
      tokens = c.tokens;
      letters = c.letters;
      upper = c.upper;
      digits = c.digits;
      visible = c.visible;
      urls = c.urls;
      unknown = this.unknownTokens();
    }
    const o = out ?? ({} as TextStats);
    o.text_length = text.length;
    o.token_count = tokens;
    o.digit_share = visible > 0 ? digits / visible : 0;
    o.upper_share = letters > 0 ? upper / letters : 0;
    o.url_count = urls;
    o.unknown_token_share = this.vocab ? (tokens > 0 ? unknown / tokens : 0) : Number.NaN;
    return o;
  }
}
