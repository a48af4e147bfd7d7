// loadDataset(spec): the one entry point the CLI uses to get labelled examples.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { formatFromPath, parseDataset } from './parse.ts';
import { loadSpamAssassin } from './spamassassin.ts';
import { type Dataset, DatasetError, type DatasetFormat } from './types.ts';

export type LoadOptions = {
  /** Override the format that the file extension implies. */
  format?: DatasetFormat;
};

/**
 * Load a dataset. `spec` is either the word `spamassassin` (the bundled public corpus) or a path to a
 * .jsonl/.ndjson, .csv or .tsv file. Bad rows are returned in `errors` with their line numbers; the
 * caller decides whether to fail or skip them. File-level problems throw a DatasetError.
 */
export async function loadDataset(spec: string, options: LoadOptions = {}): Promise<Dataset> {
  if (spec === 'spamassassin') return loadSpamAssassin();
  const format = options.format ?? formatFromPath(spec);
  if (!format) {
    throw new DatasetError(
      `cannot tell the format of "${spec}" from its extension (expected .jsonl, .ndjson, .csv or .tsv); name the format with --format jsonl, csv or tsv`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(spec);
  } catch (err) {
    throw new DatasetError(`cannot read dataset file "${spec}": ${(err as Error).message}`);
  }
  const content = new TextDecoder('utf-8').decode(bytes);
  const { examples, errors } = parseDataset(content, format);
  return {
    examples,
    errors,
    source: {
      kind: 'file',
      path: spec,
      format,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
    },
  };
}

export { extractEmail, firstLine } from './email.ts';
export { formatFromPath, parseDataset, parseDelimited, parseJsonl } from './parse.ts';
export { loadSpamAssassin } from './spamassassin.ts';
export type { Dataset, DatasetFormat, DatasetSource, Example, RowError } from './types.ts';
export { DatasetError } from './types.ts';
