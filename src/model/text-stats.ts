// Per-text features for drift monitoring. The training-time distributions of exactly these values are
// stored in `manifest.reference`; the live service computes them per request with `textStats`.
//
//   text_length          UTF-16 code units (JavaScript string length)
//   token_count          word tokens, as the featurizer tokenises (runs of letters/digits after Unicode folding)
//   digit_share          digits / visible characters (letters + digits + symbols; 0 when none)
//   upper_share          upper-case letters / letters (0 when no letters)
//   url_count            occurrences of "http://", "https://" or "www." (a "www." right after "//" is
//                        not counted again), case-insensitive
//   unknown_token_share  share of word tokens whose hash is not in the training vocabulary filter
//                        (0 when no tokens; NaN for classifiers without a vocabulary)
// Plus, recorded in the reference but computed by the classifier: `score`, the positive-label probability.
// The classifier's prediction scan yields these too (ScanCounts), so a text predicted and then observed
// for drift is scanned once (see LinearClassifier.textStats).

import { Featurizer, urlAt } from './featurizer.ts';
import type { Classifier } from './types.ts';

export type TextStats = {
  text_length: number;
  token_count: number;
  digit_share: number;
  upper_share: number;
  url_count: number;
  unknown_token_share: number;
};

export const TEXT_STAT_NAMES = [
  'text_length',
  'token_count',
  'digit_share',
  'upper_share',
  'url_count',
  'unknown_token_share',
] as const satisfies readonly (keyof TextStats)[];

/** Classifiers that can compute text statistics with their own tokenizer and vocabulary. */
export type TextStatsProvider = { textStats(text: string, out?: TextStats): TextStats };

export function hasTextStats(c: unknown): c is TextStatsProvider {
  return typeof (c as Partial<TextStatsProvider>)?.textStats === 'function';
}

/**
 * Drift features of one text as seen by `classifier` (which must be one of ours, e.g. from
 * `loadClassifier`). Pass `out` to reuse an object and avoid the allocation.
 */
export function textStats(text: string, classifier: Classifier, out?: TextStats): TextStats {
  if (!hasTextStats(classifier)) {
    throw new Error('textStats: this classifier does not provide text statistics');
  }
  return classifier.textStats(text, out);
}

/**
 * Text statistics for classifiers that bring their own tokenizer (ONNX formats): the same definitions,
 * counted by a stats-only featurizer (256 buckets: it never builds features), and NaN for
 * `unknown_token_share` since there is no vocabulary filter to ask. Returns a function reusing one scanner.
 */
export function genericTextStats(): (text: string, out?: TextStats) => TextStats {
  const scanner = new Featurizer({
    hashBits: 8,
    charMin: 0,
    charMax: 0,
    wordBigrams: false,
    symbols: false,
    wordWeight: 1,
    charWeight: 0,
  });
  return (text, out) => {
    scanner.scan(text, true);
    const c = scanner.counts;
    const o = out ?? ({} as TextStats);
    o.text_length = text.length;
    o.token_count = c.tokens;
    o.digit_share = c.visible > 0 ? c.digits / c.visible : 0;
    o.upper_share = c.letters > 0 ? c.upper / c.letters : 0;
    o.url_count = c.urls;
    o.unknown_token_share = Number.NaN;
    return o;
  };
}

/** Count URLs: "http://", "https://" and "www." (not right after "//"), case-insensitively. Linear. */
export function countUrls(text: string): number {
  let count = 0;
  for (let i = 0; i + 3 < text.length; i++) {
    const end = urlAt(text, i);
    if (end >= 0) {
      count++;
      i = end;
    }
  }
  return count;
}
