// Export the seeded train/test split of a dataset as JSONL, for the scikit-learn baseline.
//
//   node scripts/export-split.ts [--data spamassassin|PATH] [--seed 42] [--test-fraction 0.2] [--out DIR]
//
// Writes DIR/train.jsonl and DIR/test.jsonl (default DIR: tmp/split), one object per line:
// {"text", "label", "subject"?, "first_line"?}. Uses exactly the de-duplication and split of training.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { firstLine } from '../src/data/email.ts';
import { loadDataset } from '../src/data/load.ts';
import { prepareSplit } from '../src/train/prepare.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'spamassassin' },
    seed: { type: 'string', default: '42' },
    'test-fraction': { type: 'string', default: '0.2' },
    out: { type: 'string', default: 'tmp/split' },
  },
});
const dataset = await loadDataset(values.data as string);
if (dataset.errors.length > 0) {
  console.error(
    `${dataset.errors.length} bad rows skipped (first: line ${dataset.errors[0].line}: ${dataset.errors[0].reason})`,
  );
}
const split = prepareSplit(dataset.examples, {
  seed: Number(values.seed),
  testFraction: Number(values['test-fraction']),
  dedupe: true,
});
mkdirSync(values.out as string, { recursive: true });
for (const [name, rows] of [
  ['train', split.train],
  ['test', split.test],
] as const) {
  const lines = rows.map((e) =>
    JSON.stringify({
      text: e.text,
      label: e.label,
      ...(e.subject !== undefined ? { subject: e.subject } : {}),
      ...(e.body !== undefined ? { first_line: firstLine(e.body) } : {}),
    }),
  );
  writeFileSync(join(values.out as string, `${name}.jsonl`), `${lines.join('\n')}\n`);
}
console.log(
  JSON.stringify({ out: values.out, train: split.train.length, test: split.test.length, dedupe: split.dedupe }),
);
