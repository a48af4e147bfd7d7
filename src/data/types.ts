// Data types shared by the loaders and the trainer.

export type Example = {
  text: string;
  label: string;
  /**
   * Optional structure of an e-mail example (text = `${subject}\n${body}`). Used for short-message
   * evaluation (subject lines alone, first body lines) and for training-time augmentation.
   */
  subject?: string;
  body?: string;
  /** Where the example came from, e.g. "spam-1/00001" or "line 17". Informational only. */
  origin?: string;
};

/** A rejected input row: 1-based line where the record starts, and why. */
export type RowError = { line: number; reason: string };

export type ParseResult = { examples: Example[]; errors: RowError[] };

export type DatasetFormat = 'jsonl' | 'csv' | 'tsv';

export type DatasetSource =
  | { kind: 'file'; path: string; format: DatasetFormat; sha256: string; bytes: number }
  | { kind: 'spamassassin'; package: string; version: string; groups: Record<string, number> };

export type Dataset = ParseResult & { source: DatasetSource };

/** Thrown for file-level problems (unreadable file, unknown format, header without text/label). */
export class DatasetError extends Error {
  override name = 'DatasetError';
}
