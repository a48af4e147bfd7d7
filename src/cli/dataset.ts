// Dataset flags shared by `train` and `eval`, and the bad-row policy: bad rows are reported with
// their line numbers and stop the command, unless --skip-bad-rows says to go on without them.

import { type Dataset, DatasetError, type DatasetFormat, loadDataset } from '../data/load.ts';
import { CliError, UsageError } from './args.ts';

export const DATA_OPTIONS = {
  data: { type: 'string' },
  format: { type: 'string' },
  'skip-bad-rows': { type: 'boolean' },
} as const;

export const DATA_OPTIONS_HELP = `
  --data FILE|spamassassin   JSONL ({"text","label"} per line) or CSV/TSV with a header naming
                             "text" and "label"; or the word spamassassin for the public corpus
  --format F                 jsonl, csv or tsv, when the file extension does not say
  --skip-bad-rows            go on without rows that cannot be read (they are listed on stderr);
                             by default any bad row stops the command`;

const SHOWN_ERRORS = 20;

export async function readDataset(values: Record<string, unknown>): Promise<{ dataset: Dataset; skipped: number }> {
  const spec = values.data;
  if (typeof spec !== 'string' || spec === '') throw new UsageError('--data is required (a file, or spamassassin)');
  const format = values.format;
  if (format !== undefined && format !== 'jsonl' && format !== 'csv' && format !== 'tsv') {
    throw new UsageError(`--format must be jsonl, csv or tsv, not ${JSON.stringify(format)}`);
  }
  let dataset: Dataset;
  try {
    dataset = await loadDataset(spec, { format: format as DatasetFormat | undefined });
  } catch (err) {
    if (err instanceof DatasetError) throw new CliError(err.message, 1);
    throw err;
  }
  const { errors } = dataset;
  if (errors.length > 0) {
    const listing = errors
      .slice(0, SHOWN_ERRORS)
      .map((e) => `  line ${e.line}: ${e.reason}`)
      .join('\n');
    const more = errors.length > SHOWN_ERRORS ? `\n  … and ${errors.length - SHOWN_ERRORS} more` : '';
    if (!values['skip-bad-rows']) {
      throw new CliError(
        `${spec}: ${errors.length} bad row(s):\n${listing}${more}\nFix them, or pass --skip-bad-rows to go on without them.`,
        1,
      );
    }
    process.stderr.write(`${spec}: skipping ${errors.length} bad row(s):\n${listing}${more}\n`);
  }
  if (dataset.examples.length === 0) throw new CliError(`${spec}: no usable rows`, 1);
  return { dataset, skipped: errors.length };
}
