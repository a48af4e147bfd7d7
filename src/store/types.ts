// The prediction log and feedback store: what is kept, and the operations the service needs. One
// query module (src/store/queries.ts) over two databases: SQLite (src/store/sqlite.ts, one instance,
// run in a worker thread) and PostgreSQL (src/store/postgres.ts, shared by several instances). Both
// run the same versioned migrations (src/store/migrations.ts).

import { TEXT_STAT_NAMES } from '../model/text-stats.ts';

/** One prediction as it is stored. Never raw text: `text` is the anonymised text, or null. */
export type PredictionRecord = {
  /** Server-generated (UUIDv7) id of the /predict call; never the client's X-Request-Id. */
  predictionId: string;
  /** Position in a batch request (0 for a single text). */
  index: number;
  /** Milliseconds since the epoch. */
  ts: number;
  modelName: string;
  modelVersion: string;
  /** The version's role in a rollout: champion, or challenger (canary/A-B). */
  modelRole: string;
  label: string;
  proba: number;
  /** Probability of the positive label (the drift feature `score`). */
  score: number;
  textLength: number;
  tokenCount: number;
  digitShare: number;
  upperShare: number;
  urlCount: number;
  /** NaN when the classifier has no vocabulary; stored as NULL. */
  unknownTokenShare: number;
  text: string | null;
};

/**
 * Prediction records in columns, as the writer queues them and as one message carries them to the
 * SQLite worker: no object per record, one typed array for the numbers (a memcpy to clone), one array
 * for the strings. Row i's numbers are num[i*NUM_COLS … i*NUM_COLS+NUM_COLS-1] in NUM_COLUMNS order,
 * its strings str[i*STR_COLS …] in STR_COLUMNS order.
 */
export type PredictionBatch = { n: number; num: Float64Array; str: (string | null)[] };

export const NUM_COLUMNS = ['item', 'ts', 'proba', 'score', ...TEXT_STAT_NAMES] as const;
export const STR_COLUMNS = ['prediction_id', 'model_name', 'model_version', 'label', 'text', 'model_role'] as const;
export const NUM_COLS = NUM_COLUMNS.length;
export const STR_COLS = STR_COLUMNS.length;

export function emptyBatch(capacity: number): PredictionBatch {
  return { n: 0, num: new Float64Array(capacity * NUM_COLS), str: new Array(capacity * STR_COLS).fill(null) };
}

/** Appends a record to a batch that has room for it. */
export function appendRecord(b: PredictionBatch, r: PredictionRecord): void {
  const o = b.n * NUM_COLS;
  const num = b.num;
  num[o] = r.index;
  num[o + 1] = r.ts;
  num[o + 2] = r.proba;
  num[o + 3] = r.score;
  num[o + 4] = r.textLength;
  num[o + 5] = r.tokenCount;
  num[o + 6] = r.digitShare;
  num[o + 7] = r.upperShare;
  num[o + 8] = r.urlCount;
  num[o + 9] = r.unknownTokenShare;
  const s = b.n * STR_COLS;
  b.str[s] = r.predictionId;
  b.str[s + 1] = r.modelName;
  b.str[s + 2] = r.modelVersion;
  b.str[s + 3] = r.label;
  b.str[s + 4] = r.text;
  b.str[s + 5] = r.modelRole;
  b.n++;
}

export function encodeBatch(records: readonly PredictionRecord[]): PredictionBatch {
  const b = emptyBatch(records.length);
  for (const r of records) appendRecord(b, r);
  return b;
}

/** The records of a batch as objects (tests, and tools that read a batch back). */
export function decodeBatch(b: PredictionBatch): PredictionRecord[] {
  const out: PredictionRecord[] = [];
  for (let i = 0; i < b.n; i++) {
    const o = i * NUM_COLS;
    const s = i * STR_COLS;
    const n = b.num;
    out.push({
      predictionId: b.str[s] as string,
      index: n[o],
      ts: n[o + 1],
      modelName: b.str[s + 1] as string,
      modelVersion: b.str[s + 2] as string,
      label: b.str[s + 3] as string,
      proba: n[o + 2],
      score: n[o + 3],
      textLength: n[o + 4],
      tokenCount: n[o + 5],
      digitShare: n[o + 6],
      upperShare: n[o + 7],
      urlCount: n[o + 8],
      unknownTokenShare: n[o + 9],
      text: b.str[s + 4],
      modelRole: b.str[s + 5] as string,
    });
  }
  return out;
}

/** The first n rows of a batch, trimmed to size (what goes over the wire or into a query). */
export function trimBatch(b: PredictionBatch): PredictionBatch {
  return { n: b.n, num: b.num.slice(0, b.n * NUM_COLS), str: b.str.slice(0, b.n * STR_COLS) };
}

/** Writes row i's values, in PREDICTION_COLUMNS order, into `out` from `at` (no allocation); returns the next position. */
export function putRow(b: PredictionBatch, i: number, out: (string | number | null)[], at: number): number {
  const o = i * NUM_COLS;
  const s = i * STR_COLS;
  const n = b.num;
  const fin = (v: number) => (Number.isFinite(v) ? v : null);
  out[at] = b.str[s];
  out[at + 1] = n[o];
  out[at + 2] = n[o + 1];
  out[at + 3] = b.str[s + 1];
  out[at + 4] = b.str[s + 2];
  out[at + 5] = b.str[s + 3];
  out[at + 6] = fin(n[o + 2]);
  out[at + 7] = fin(n[o + 3]);
  out[at + 8] = fin(n[o + 4]);
  out[at + 9] = fin(n[o + 5]);
  out[at + 10] = fin(n[o + 6]);
  out[at + 11] = fin(n[o + 7]);
  out[at + 12] = fin(n[o + 8]);
  out[at + 13] = fin(n[o + 9]);
  out[at + 14] = b.str[s + 4];
  out[at + 15] = b.str[s + 5];
  return at + 16;
}

/** Row i as the values of PREDICTION_COLUMNS (non-finite numbers become null). */
export function batchRow(b: PredictionBatch, i: number): (string | number | null)[] {
  const row: (string | number | null)[] = new Array(PREDICTION_COLUMNS.length);
  putRow(b, i, row, 0);
  return row;
}

export type FeedbackItem = { predictionId: string; index: number; label: string };

/** recorded: first label for that prediction; updated: a different label replaced it; unchanged: same label again. */
export type FeedbackStatus = 'recorded' | 'updated' | 'unchanged';

export type FeedbackResult = FeedbackItem & {
  status: FeedbackStatus;
  /** When the prediction was made (ms since the epoch): label delay = received − this. */
  predictedAt: number;
  /** The version that made the prediction, and its rollout role (champion, challenger). */
  modelVersion: string;
  modelRole: string;
};

export type FeedbackOutcome =
  | { ok: true; results: FeedbackResult[] }
  /** Some request ids have no stored prediction: nothing was written. */
  | { ok: false; unknown: FeedbackItem[] };

/** One cell of the confusion matrix of a model version, with the label delays of its predictions. */
export type ConfusionCell = {
  modelName: string;
  modelVersion: string;
  predicted: string;
  actual: string;
  n: number;
  /** Sum and maximum of (label received − prediction made), in milliseconds. */
  delaySumMs: number;
  delayMaxMs: number;
};

/** Labelled predictions made at or after `sinceTs`, or the last `lastN` labelled predictions per model version. */
export type QualityWindow = { sinceTs: number } | { lastN: number };

export type PurgeCutoffs = { payloadBefore: number; predictionsBefore: number; feedbackBefore: number };
export type PurgeCounts = { payload: number; predictions: number; feedback: number };

export type Store = {
  readonly backend: 'sqlite' | 'postgres';
  /** Where it is, for /health and logs (no password). */
  readonly location: string;
  /** Applies the migrations not yet applied (idempotent; safe with several instances starting at once). */
  migrate(): Promise<{ applied: number[]; version: number }>;
  /** Inserts prediction records; a (prediction id, index) already stored is kept as it is. Resolves to the rows written. */
  insertPredictions(records: readonly PredictionRecord[] | PredictionBatch): Promise<number>;
  /** Records labels in one transaction, committed durably before it resolves; all or nothing. */
  recordFeedback(items: readonly FeedbackItem[], now: number): Promise<FeedbackOutcome>;
  /** Which of these (request id, index) pairs are stored as predictions. */
  hasPredictions(keys: readonly { predictionId: string; index: number }[]): Promise<boolean[]>;
  /** The confusion matrix of every model version in the window. */
  confusion(window: QualityWindow): Promise<ConfusionCell[]>;
  /** Deletes (or blanks, for the payload) at most `limit` expired rows of each kind. */
  purge(cutoffs: PurgeCutoffs, limit: number): Promise<PurgeCounts>;
  /**
   * Predictions that received a feedback label and still have their (anonymised) text — what
   * `msg-cls train --from-store` learns from — made at or after `sinceTs`, oldest first, at most `limit`.
   */
  labelledTexts(opts: { sinceTs: number; modelName: string; limit: number }): Promise<LabelledText[]>;
  /**
   * The drift features (DRIFT_FEATURES order, NaN for NULL) of the latest `limit` predictions of one
   * model version made at or after `sinceTs`, by every instance writing to this store: the fleet's
   * drift window.
   */
  recentFeatures(opts: {
    modelName: string;
    modelVersion: string;
    sinceTs: number;
    limit: number;
  }): Promise<FeatureRow[]>;
  /** Deletes at most `limit` of the oldest prediction records (the size budget). */
  deleteOldest(limit: number): Promise<number>;
  /** Bytes the tables hold (live data, not free pages) and an estimate of the prediction records. */
  usage(): Promise<StoreUsage>;
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>;
  /** Closes within `timeoutMs` (PostgreSQL: ends the pool; connections still busy are cut). */
  close(timeoutMs?: number): Promise<void>;
};

export type StoreUsage = { bytes: number; predictions: number };

/** A labelled prediction with its anonymised text. */
export type LabelledText = { text: string; label: string; ts: number; modelVersion: string; predicted: string };

/** One prediction's drift features, in DRIFT_FEATURES order (NaN for NULL). */
export type FeatureRow = { ts: number; values: number[] };

/** Row → the drift features in DRIFT_FEATURES order (NULL → NaN). */
export function featureRow(r: Record<string, unknown>): FeatureRow {
  const num = (v: unknown) => (v === null || v === undefined ? Number.NaN : Number(v));
  return {
    ts: Number(r.ts),
    values: [
      num(r.text_length),
      num(r.token_count),
      num(r.digit_share),
      num(r.upper_share),
      num(r.url_count),
      num(r.unknown_token_share),
      num(r.score),
    ],
  };
}

/** A failure the operator must fix (wrong URL, no permission, database missing): the service does not start. */
export class StoreConfigError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'StoreConfigError';
  }
}

export const PREDICTION_COLUMNS = [
  'prediction_id',
  'item',
  'ts',
  'model_name',
  'model_version',
  'label',
  'proba',
  'score',
  ...TEXT_STAT_NAMES,
  'text',
  'model_role',
] as const;

/** Last occurrence wins: a label sent twice for one prediction in a batch counts as the later one. */
export function dedupeFeedback(items: readonly FeedbackItem[]): FeedbackItem[] {
  const byKey = new Map<string, FeedbackItem>();
  for (const it of items) {
    const key = `${it.index}\u0000${it.predictionId}`;
    byKey.delete(key);
    byKey.set(key, it);
  }
  return [...byKey.values()];
}
