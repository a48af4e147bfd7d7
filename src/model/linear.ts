// The msgcls-linear/1 classifier: hashed features (./featurizer.ts) → logistic regression.

import { Featurizer, type FeaturizerConfig } from './featurizer.ts';
import { countUrls, type TextStats } from './text-stats.ts';
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
    return this.bias + this.featurizer.dot(this.weights);
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

  /** Drift features of one text (see ./text-stats.ts for definitions). */
  textStats(text: string, out?: TextStats): TextStats {
    const f = this.featurizer;
    f.scan(text, true);
    const c = f.counts;
    let unknown = Number.NaN;
    if (this.vocab) {
      let u = 0;
      for (let i = 0; i < c.tokens; i++) if (!this.vocab.has(f.tokenHash(i))) u++;
      unknown = c.tokens > 0 ? u / c.tokens : 0;
    }
    const o = out ?? ({} as TextStats);
    o.text_length = text.length;
    o.token_count = c.tokens;
    o.digit_share = c.visible > 0 ? c.digits / c.visible : 0;
    o.upper_share = c.letters > 0 ? c.upper / c.letters : 0;
    o.url_count = countUrls(text);
    o.unknown_token_share = unknown;
    return o;
  }
}
