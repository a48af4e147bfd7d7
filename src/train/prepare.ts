// Label checks, de-duplication and the seeded stratified split shared by training and the exports.

import { firstLine } from '../data/email.ts';
import type { Example } from '../data/types.ts';
import { stratifiedSplit } from './split.ts';

export type Dedupe = {
  examples: Example[];
  /** Rows dropped because an earlier row had exactly the same text and label. */
  removed: number;
  /** Texts that occur with more than one label (all their rows are dropped: the truth is unknown). */
  conflicting_texts: number;
  conflicting_rows: number;
};

/**
 * Drop exact-duplicate texts, keeping the first occurrence. Done before splitting so that no text is in
 * both the training and the held-out part. A text seen with two different labels is dropped entirely.
 */
export function dedupeExamples(examples: readonly Example[]): Dedupe {
  const labelsOf = new Map<string, Set<string>>();
  for (const e of examples) {
    const s = labelsOf.get(e.text);
    if (s) s.add(e.label);
    else labelsOf.set(e.text, new Set([e.label]));
  }
  const kept = new Set<string>();
  const out: Example[] = [];
  let removed = 0;
  let conflictingRows = 0;
  let conflictingTexts = 0;
  for (const [, s] of labelsOf) if (s.size > 1) conflictingTexts++;
  for (const e of examples) {
    if ((labelsOf.get(e.text) as Set<string>).size > 1) {
      conflictingRows++;
      continue;
    }
    if (kept.has(e.text)) {
      removed++;
      continue;
    }
    kept.add(e.text);
    out.push(e);
  }
  return { examples: out, removed, conflicting_texts: conflictingTexts, conflicting_rows: conflictingRows };
}

/** The two labels (sorted) and the positive one; throws unless there are exactly two. */
export function resolveLabels(
  examples: readonly Example[],
  positiveLabel?: string,
): { labels: [string, string]; positive: string; negative: string } {
  const found = [...new Set(examples.map((e) => e.label))].sort();
  if (found.length !== 2) {
    const shown = found
      .slice(0, 20)
      .map((l) => JSON.stringify(l))
      .join(', ');
    throw new Error(
      `exactly two labels are supported; found ${found.length}${found.length ? `: ${shown}${found.length > 20 ? ', ...' : ''}` : ''}`,
    );
  }
  let positive = positiveLabel ?? (found.includes('spam') ? 'spam' : found[1]);
  if (!found.includes(positive)) {
    throw new Error(
      `positive label ${JSON.stringify(positiveLabel)} is not among the labels found: ${found.map((l) => JSON.stringify(l)).join(', ')}`,
    );
  }
  positive = positive as string;
  const negative = found[0] === positive ? found[1] : found[0];
  return { labels: [negative, positive], positive, negative };
}

export type PreparedSplit = {
  train: Example[];
  test: Example[];
  dedupe: Omit<Dedupe, 'examples'> | null;
  rowsIn: number;
};

/** De-duplicate (unless disabled) and split with the seeded stratified splitter. */
export function prepareSplit(
  examples: readonly Example[],
  options: { seed: number; testFraction: number; dedupe: boolean },
): PreparedSplit {
  let rows: readonly Example[] = examples;
  let dedupe: PreparedSplit['dedupe'] = null;
  if (options.dedupe) {
    const d = dedupeExamples(examples);
    rows = d.examples;
    dedupe = { removed: d.removed, conflicting_texts: d.conflicting_texts, conflicting_rows: d.conflicting_rows };
  }
  const { train, test } = stratifiedSplit(
    rows.map((e) => e.label),
    options.testFraction,
    options.seed,
  );
  return { train: train.map((i) => rows[i]), test: test.map((i) => rows[i]), dedupe, rowsIn: examples.length };
}

/** Short-message views of e-mail examples: the subject alone and the first body line. */
export function subjectOnly(examples: readonly Example[]): Example[] {
  const out: Example[] = [];
  for (const e of examples) if (e.subject?.trim()) out.push({ text: e.subject, label: e.label, origin: e.origin });
  return out;
}

export function firstLines(examples: readonly Example[], maxChars = 160): Example[] {
  const out: Example[] = [];
  for (const e of examples) {
    if (e.body === undefined) continue;
    const line = firstLine(e.body, maxChars);
    if (line) out.push({ text: line, label: e.label, origin: e.origin });
  }
  return out;
}
