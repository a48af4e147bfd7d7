// The prediction log and feedback store: what is kept, and the operations the service needs. Two
// implementations: SQLite (src/store/sqlite.ts, one instance) and PostgreSQL (src/store/postgres.ts,
// shared by several instances). Both run the same versioned migrations (src/store/migrations.ts).

import { TEXT_STAT_NAMES } from '../model/text-stats.ts';

/** One prediction as it is stored. Never raw text: `text` is the anonymised text, or null. */
export type PredictionRecord = {
  requestId: string;
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

export type FeedbackItem = { requestId: string; index: number; label: string };

/** recorded: first label for that prediction; updated: a different label replaced it; unchanged: same label again. */
export type FeedbackStatus = 'recorded' | 'updated' | 'unchanged';

export type FeedbackResult = FeedbackItem & {
  status: FeedbackStatus;
  /** When the prediction was made (ms since the epoch): label delay = received − this. */
  predictedAt: number;
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

/** Row → the drift features in DRIFT_FEATURES order (NULL → NaN). */
export function featureRow(r: Record<string, unknown>): { ts: number; values: number[] } {
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

/** A labelled prediction with its anonymised text. */
export type LabelledText = { text: string; label: string; ts: number; modelVersion: string; predicted: string };

export type PurgeCutoffs = { payloadBefore: number; predictionsBefore: number; feedbackBefore: number };
export type PurgeCounts = { payload: number; predictions: number; feedback: number };

export type Store = {
  readonly backend: 'sqlite' | 'postgres';
  /** Where it is, for /health and logs (no password). */
  readonly location: string;
  /** Applies the migrations not yet applied (idempotent; safe with several instances starting at once). */
  migrate(): Promise<{ applied: number[]; version: number }>;
  /** Inserts prediction records; a (request id, index) already stored is kept as it is. */
  insertPredictions(records: readonly PredictionRecord[]): Promise<number>;
  /** Records labels in one transaction, committed durably before it resolves; all or nothing. */
  recordFeedback(items: readonly FeedbackItem[], now: number): Promise<FeedbackOutcome>;
  /** Which of these (request id, index) pairs are stored as predictions. */
  hasPredictions(keys: readonly { requestId: string; index: number }[]): Promise<boolean[]>;
  /** The confusion matrix of every model version in the window. */
  confusion(window: QualityWindow): Promise<ConfusionCell[]>;
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
  }): Promise<{ ts: number; values: number[] }[]>;
  /** Deletes (or blanks, for the payload) at most `limit` expired rows of each kind. */
  purge(cutoffs: PurgeCutoffs, limit: number): Promise<PurgeCounts>;
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

/** A failure the operator must fix (wrong URL, no permission, database missing): the service does not start. */
export class StoreConfigError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'StoreConfigError';
  }
}

export const PREDICTION_COLUMNS = [
  'request_id',
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

/** A record as the row of values in PREDICTION_COLUMNS order (non-finite numbers become null). */
export function predictionRow(r: PredictionRecord): (string | number | null)[] {
  const num = (v: number) => (Number.isFinite(v) ? v : null);
  return [
    r.requestId,
    r.index,
    r.ts,
    r.modelName,
    r.modelVersion,
    r.label,
    num(r.proba),
    num(r.score),
    num(r.textLength),
    num(r.tokenCount),
    num(r.digitShare),
    num(r.upperShare),
    num(r.urlCount),
    num(r.unknownTokenShare),
    r.text,
    r.modelRole,
  ];
}

/** Last occurrence wins: a label sent twice for one prediction in a batch counts as the later one. */
export function dedupeFeedback(items: readonly FeedbackItem[]): FeedbackItem[] {
  const byKey = new Map<string, FeedbackItem>();
  for (const it of items) {
    const key = `${it.index}\u0000${it.requestId}`;
    byKey.delete(key);
    byKey.set(key, it);
  }
  return [...byKey.values()];
}
