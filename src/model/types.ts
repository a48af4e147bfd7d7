// The contract between the model code (src/model, src/train) and the rest of the service.
// Everything that serves, evaluates or monitors a model talks to it through these types only,
// so that new formats (ONNX, MLflow pyfunc exports, ...) slot in behind `loadClassifier`.

export type Prediction = {
  /** The most probable label. */
  label: string;
  /** Probability of `label`. */
  proba: number;
  /** Probability of every label the model knows, summing to 1. */
  probabilities: Record<string, number>;
};

type ClassifierBase = {
  /** All labels, negative first for binary models: e.g. ["ham", "spam"]. */
  readonly labels: readonly string[];
  /** The label whose probability `score` returns and drift watches (e.g. "spam"). */
  readonly positiveLabel: string;
  /**
   * Releases what the classifier holds outside the JS heap (an ONNX session). Called when a version is
   * swapped out, after its last request has finished; the classifier is not used afterwards.
   */
  dispose?(): Promise<void> | void;
};

/** A classifier that answers synchronously (our msgcls-linear format): no await on the hot path. */
export type SyncClassifier = ClassifierBase & {
  readonly async?: false;
  /** Probability of `positiveLabel` for one text. Hot path: no I/O, minimal allocation. */
  score(text: string): number;
  /** Full prediction for one text. */
  predict(text: string): Prediction;
  /**
   * Frees what the model holds outside the JavaScript heap (an ONNX session, ...). Called once, after
   * the model was swapped out and its last in-flight request finished; the model is not used after.
   */
  dispose?(): void | Promise<void>;
};

/** A classifier whose inference is asynchronous (onnxruntime): a batch of N texts is one run. */
export type AsyncClassifier = ClassifierBase & {
  readonly async: true;
  /** Predictions for `texts`, in order. */
  predictBatch(texts: readonly string[]): Promise<Prediction[]>;
};

export type Classifier = SyncClassifier | AsyncClassifier;

/** Predictions for `texts` from any classifier (for callers off the hot path: CLI, warm-up, tests). */
export async function predictAll(classifier: Classifier, texts: readonly string[]): Promise<Prediction[]> {
  if (classifier.async) return classifier.predictBatch(texts);
  return texts.map((t) => classifier.predict(t));
}

/** A histogram over fixed bin edges, as recorded at training time for drift detection. */
export type ReferenceDistribution = {
  /** Inner bin edges, ascending; bins are (-inf, e0], (e0, e1], ..., (e_last, +inf). */
  edges: number[];
  /** Share of training inputs in each bin (edges.length + 1 values summing to 1). */
  proportions: number[];
  /** Number of inputs the proportions were computed from. */
  n: number;
  /**
   * Which inputs: "train" (the training rows' real texts) or "holdout" (the held-out rows, for values
   * that are degenerate or biased on training rows, such as the score or the unknown-token share).
   */
  population?: 'train' | 'holdout';
};

export type BinaryMetrics = {
  n: number;
  positive_label: string;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  roc_auc: number;
  log_loss: number;
  brier: number;
};

/** `model.json` in a registry version directory. */
export type ModelManifest = {
  /** Artifact format id, e.g. "msgcls-linear/1"; `loadClassifier` dispatches on it. */
  format: string;
  labels: string[];
  positive_label: string;
  created_at: string;
  /** Free-form, format-specific featurizer settings (recorded so the artifact is self-describing). */
  featurizer: Record<string, unknown>;
  /** Where the training data came from and what it held. */
  training: Record<string, unknown>;
  /** Evaluation metrics measured at training time, keyed by evaluation set. */
  metrics: Record<string, BinaryMetrics | Record<string, unknown>>;
  /** Training-time distributions of drift features and of the positive-label score. */
  reference: Record<string, ReferenceDistribution>;
  /** Files in the version directory that belong to the artifact, with their SHA-256. */
  files: Record<string, { sha256: string; bytes: number }>;
  /** Format-specific model parameters (for msgcls-linear/1: weights file, dtype, bias, vocabulary filter). */
  model?: Record<string, unknown>;
};
