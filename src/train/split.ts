// Seeded stratified train/test split.

import { Rng } from './random.ts';

/**
 * Split indices 0..labels.length-1 into train and test so that each label keeps (to rounding) the same
 * share in both. For every label (in sorted order) its indices are shuffled with the seeded generator
 * and the first round(count × testFraction) go to test. Returned index lists are sorted ascending.
 */
export function stratifiedSplit(
  labels: readonly string[],
  testFraction: number,
  seed: number,
): { train: number[]; test: number[] } {
  if (!(testFraction > 0 && testFraction < 1)) throw new Error(`testFraction must be in (0, 1), got ${testFraction}`);
  const byLabel = new Map<string, number[]>();
  labels.forEach((l, i) => {
    const list = byLabel.get(l);
    if (list) list.push(i);
    else byLabel.set(l, [i]);
  });
  const rng = new Rng(seed);
  const train: number[] = [];
  const test: number[] = [];
  for (const label of [...byLabel.keys()].sort()) {
    const idx = byLabel.get(label) as number[];
    rng.shuffle(idx);
    const nTest = Math.round(idx.length * testFraction);
    for (let k = 0; k < idx.length; k++) (k < nTest ? test : train).push(idx[k]);
  }
  train.sort((a, b) => a - b);
  test.sort((a, b) => a - b);
  return { train, test };
}
