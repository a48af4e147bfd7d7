// Model-quality monitoring, assembled: the prediction log (store + queue + writer), feedback,
// online quality, drift and retention. src/server.ts starts it before listening and closes it after
// the HTTP server has drained; the HTTP layer only sees the small interfaces below.

import type { Config } from '../config.ts';
import type { LoadedModel } from '../http/state.ts';
import { hasTextStats, type TextStats } from '../model/text-stats.ts';
import type { Prediction } from '../model/types.ts';
import { errorSummary, type Logs, safeError } from '../monitoring/logging.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import { createSizeBudget, type SizeBudget } from '../store/budget.ts';
import { createStoreHealth, type StoreHealth } from '../store/health.ts';
import { migrateAtStart, openStore } from '../store/open.ts';
import { createRetention, type Retention } from '../store/retention.ts';
import type { FeedbackItem, FeedbackOutcome, PredictionRecord, Store } from '../store/types.ts';
import { createStoreWriter, type StoreWriter } from '../store/writer.ts';
import { createModelDrift, DRIFT_FEATURES, type DriftReport, type DriftWindow } from './drift.ts';
import { type QualityMetricEvents, registerQualityMetrics } from './metrics.ts';
import { createQualityMonitor, type QualityMonitor } from './online.ts';

/** Called for every prediction, on the request path: must stay cheap, never throw, never wait. */
export type PredictionSink = {
  observe(predictionId: string, index: number, model: LoadedModel, text: string, p: Prediction): void;
  /** Backpressure from the store's queue: undefined when `records` can be recorded now, else wait for it. */
  room(records: number): Promise<void> | undefined;
};

export class StoreUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'StoreUnavailableError';
  }
}

export type StoreSummary = {
  status: 'ok' | 'degraded' | 'off';
  backend?: 'sqlite' | 'postgres';
  location?: string;
  queue_depth?: number;
  queue_capacity?: number;
  size_bytes?: number;
  size_budget_bytes?: number;
  last_error?: { what: string; message: string; at: string };
  last_ok_at?: string;
};

export type ModelMonitoring = {
  readonly store: Store | undefined;
  readonly writer: StoreWriter | undefined;
  readonly health: StoreHealth | undefined;
  readonly quality: QualityMonitor | undefined;
  readonly retention: Retention | undefined;
  readonly budget: SizeBudget | undefined;
  readonly sink: PredictionSink;
  /** The drift window of the model being served, as a report (undefined before a model is loaded). */
  drift(): DriftReport | undefined;
  /** The drift window of a rollout's challenger (or shadow) version. */
  challengerDrift(): DriftReport | undefined;
  /**
   * A model version now serves (at start, or after a hot swap) in its role: drift is measured on its
   * predictions only, against the reference it ships or one built from its first predictions.
   */
  useModel(model: LoadedModel): void;
  /** Records labels, durably; flushes this instance's queue first when a prediction is still in it. */
  submitFeedback(items: readonly FeedbackItem[]): Promise<FeedbackOutcome>;
  summary(): StoreSummary;
  /** Starts the timers (quality refresh, retention); call once the service is up. */
  start(): void;
  /** Flushes the queue within `timeoutMs`, stops the timers, closes the store. */
  close(timeoutMs: number): Promise<void>;
};

// How long POST /feedback waits for this instance's queue to reach the store.
const FEEDBACK_FLUSH_TIMEOUT_MS = 5000;

/**
 * Returns at once; the store opens (and migrates) in the background — with SQLite on its worker thread,
 * which boots on another core while the main thread builds the HTTP app. Await `opened` before serving:
 * until it resolves the store, writer, quality and the store's metrics are not there yet (only close()
 * may be called). It rejects as the start must fail: a wrong STORE_URL (StoreConfigError), a SQLite file
 * that does not migrate. An unreachable PostgreSQL does not reject it (the store starts degraded).
 */
export function startModelMonitoring(
  config: Pick<Config, 'store' | 'quality' | 'drift'>,
  obs: { logs: Logs; metrics: Metrics | undefined },
): ModelMonitoring & { readonly opened: Promise<void> } {
  const { logs, metrics } = obs;
  const sc = config.store;
  let store: Store | undefined;
  let health: StoreHealth | undefined;
  let writer: StoreWriter | undefined;
  let quality: QualityMonitor | undefined;
  let retention: Retention | undefined;
  let budget: SizeBudget | undefined;
  let events: QualityMetricEvents | undefined;
  let drift: DriftWindow | undefined;

  async function open(): Promise<void> {
    const opened = await openStore(sc, (err) =>
      logs.service.warn({ err: safeError(err) }, 'store: an idle database connection failed; it will be replaced'),
    );
    if (opened) {
      const h = createStoreHealth();
      h.onChange((status, err) => {
        if (status === 'ok') logs.service.info({ store: opened.location }, 'store: working again');
        // An outage of the store is an operational condition, not a bug: a warning without a stack, so
        // that the exception log (and its alert) keeps meaning "a bug to fix".
        else
          logs.service.warn(
            { store: opened.location, err: errorSummary(err) },
            'store: an operation failed; predictions are queued (and dropped when the queue is full), feedback answers 503',
          );
      });
      let migrated: Awaited<ReturnType<typeof migrateAtStart>>;
      try {
        migrated = await migrateAtStart(opened);
      } catch (err) {
        await opened.close(0).catch(() => undefined);
        throw err;
      }
      if (migrated.ok) {
        logs.service.info(
          { store: opened.location, schema_version: migrated.version, applied: migrated.applied },
          'store: schema up to date',
        );
      } else {
        h.failed('migrate', migrated.err);
      }
      store = opened;
      health = h;
      quality = createQualityMonitor(opened, h, config.quality, () => undefined);
    }

    const metricSources = {
      backend: store?.backend,
      writer: undefined as StoreWriter | undefined,
      health,
      quality,
      budget: undefined as SizeBudget | undefined,
      drift: () => drift?.report(Date.now()),
    };
    if (metrics) events = registerQualityMetrics(metrics.registry, metricSources);
    if (store && health) {
      writer = createStoreWriter(
        store,
        health,
        {
          queueSize: sc.queueSize,
          batchSize: sc.batchSize,
          flushMs: sc.flushMs,
          maxWaitMs: sc.queueWaitMs,
          // PostgreSQL: one chunk per pooled connection, one left for feedback and queries. SQLite: the
          // next chunk waits in the worker while one commits.
          concurrency: store.backend === 'postgres' ? Math.max(1, sc.poolSize - 1) : 2,
        },
        events?.writer ?? {},
        health.up,
      );
      metricSources.writer = writer;
      budget = createSizeBudget(
        store,
        health,
        { maxBytes: sc.maxBytes, batch: sc.retention.batch },
        {
          deleted: (rows) => {
            events?.retentionDeleted('size_budget', rows);
            logs.service.info(
              { rows, budget_mb: sc.maxBytes / 1048576 },
              'store: oldest predictions deleted (size budget)',
            );
          },
          overBudget: (u) =>
            logs.service.warn(
              { size_bytes: u.bytes, budget_bytes: sc.maxBytes },
              'store: over its size budget with no prediction left to delete (feedback labels fill it): raise STORE_MAX_MB or lower RETENTION_FEEDBACK_DAYS',
            ),
        },
      );
      metricSources.budget = budget;
      retention = createRetention(store, health, sc.retention, {
        deleted: (kind, rows) => events?.retentionDeleted(kind, rows),
        done: (run) => {
          if (run.payload + run.predictions + run.feedback > 0)
            logs.service.info({ ...run }, 'retention: expired rows removed');
        },
      });
    }
  }
  const opened = open();
  // Awaited by the caller, maybe only after other start-up steps: not an unhandled rejection meanwhile.
  opened.catch(() => undefined);

  // The request path. One reusable stats object and one feature vector: no allocation but the record.
  const stats: TextStats = {
    text_length: 0,
    token_count: 0,
    digit_share: 0,
    upper_share: 0,
    url_count: 0,
    unknown_token_share: 0,
  };
  const features = new Float64Array(DRIFT_FEATURES.length);
  const record: PredictionRecord = {
    predictionId: '',
    index: 0,
    ts: 0,
    modelName: '',
    modelVersion: '',
    modelRole: '',
    label: '',
    proba: 0,
    score: 0,
    textLength: 0,
    tokenCount: 0,
    digitShare: 0,
    upperShare: 0,
    urlCount: 0,
    unknownTokenShare: 0,
    text: null,
  };
  let driftModel: LoadedModel | undefined;
  const storeText = sc.storeText;
  // A rollout's second version (challenger or shadow) has its own window: one window per role, so
  // that canary traffic does not restart the champion's window at every request.
  let secondModel: LoadedModel | undefined;
  let secondDrift: DriftWindow | undefined;
  const useModel = (model: LoadedModel) => {
    if (model.info.role !== 'champion') {
      secondModel = model;
      secondDrift = createModelDrift(model.info, model.manifest.reference, config.drift);
      return;
    }
    driftModel = model;
    drift = createModelDrift(model.info, model.manifest.reference, config.drift);
  };
  let sinkErrors = 0;
  const sink: PredictionSink = {
    room: (records) => writer?.room(records),
    observe(predictionId, index, model, text, p) {
      try {
        observe(predictionId, index, model, text, p);
      } catch (err) {
        // Monitoring must never fail a prediction; a bug here is logged (the first few times).
        if (sinkErrors++ < 10) logs.exception.error({ err: safeError(err, [text]) }, 'recording a prediction failed');
      }
    },
  };
  function observe(predictionId: string, index: number, model: LoadedModel, text: string, p: Prediction): void {
    {
      const classifier = model.classifier;
      if (hasTextStats(classifier)) classifier.textStats(text, stats);
      else {
        stats.text_length = text.length;
        stats.token_count = Number.NaN;
        stats.digit_share = Number.NaN;
        stats.upper_share = Number.NaN;
        stats.url_count = Number.NaN;
        stats.unknown_token_share = Number.NaN;
      }
      const score = p.probabilities[classifier.positiveLabel] ?? Number.NaN;
      const now = Date.now();
      const champion = model.info.role === 'champion';
      if (champion ? driftModel === undefined : secondModel === undefined) useModel(model);
      features[0] = stats.text_length;
      features[1] = stats.token_count;
      features[2] = stats.digit_share;
      features[3] = stats.upper_share;
      features[4] = stats.url_count;
      features[5] = stats.unknown_token_share;
      features[6] = score;
      // A request that started on the previous version and ends after a swap is stored with its
      // version but left out of the new version's drift window.
      if (model === driftModel) drift?.observe(features, now);
      else if (model === secondModel) secondDrift?.observe(features, now);
      // Shadow predictions are not stored: they are not answers, and get no labels.
      if (writer && model.info.role !== 'shadow') {
        // One scratch record, reused: the writer copies it into its columnar queue.
        const r = record;
        r.predictionId = predictionId;
        r.index = index;
        r.ts = now;
        r.modelName = model.info.name;
        r.modelVersion = model.info.version;
        r.modelRole = model.info.role;
        r.label = p.label;
        r.proba = p.proba;
        r.score = score;
        r.textLength = stats.text_length;
        r.tokenCount = stats.token_count;
        r.digitShare = stats.digit_share;
        r.upperShare = stats.upper_share;
        r.urlCount = stats.url_count;
        r.unknownTokenShare = stats.unknown_token_share;
        r.text = storeText ? logs.safeText(text) : null;
        writer.enqueue(record);
      }
    }
  }

  return {
    opened,
    get store() {
      return store;
    },
    get writer() {
      return writer;
    },
    get health() {
      return health;
    },
    get quality() {
      return quality;
    },
    get retention() {
      return retention;
    },
    get budget() {
      return budget;
    },
    sink,
    drift: () => drift?.report(Date.now()),
    challengerDrift: () => secondDrift?.report(Date.now()),
    useModel,

    async submitFeedback(items) {
      if (!store || !health) throw new StoreUnavailableError('the store is off (STORE_URL=off)');
      if (writer && items.some((it) => writer?.isPending(it.predictionId, it.index))) {
        // Feedback that overtakes its own prediction record: write the queue first, then look it up.
        if (!(await writer.flush(FEEDBACK_FLUSH_TIMEOUT_MS))) {
          throw new StoreUnavailableError('the prediction is still queued: the store did not accept it in time');
        }
      }
      let outcome: FeedbackOutcome;
      try {
        outcome = await store.recordFeedback(items, Date.now());
      } catch (err) {
        health.failed('feedback', err);
        throw new StoreUnavailableError(`the store failed: ${(err as Error).message}`, err);
      }
      health.ok();
      if (outcome.ok && events) {
        const now = Date.now();
        for (const r of outcome.results) {
          events.feedback(r.status, r.status === 'recorded' ? (now - r.predictedAt) / 1000 : undefined);
        }
      }
      return outcome;
    },

    summary() {
      if (!store || !health) return { status: 'off' };
      return {
        status: health.status,
        backend: store.backend,
        location: store.location,
        queue_depth: writer?.depth(),
        queue_capacity: writer?.capacity,
        size_bytes: budget?.latest()?.bytes,
        size_budget_bytes: budget?.maxBytes,
        last_error: health.lastError,
        last_ok_at: health.lastOkAt,
      };
    },

    start() {
      quality?.start(config.quality.refreshS);
      retention?.start();
      budget?.start();
    },

    async close(timeoutMs) {
      const closeBy = performance.now() + timeoutMs;
      // Closing while the store still opens (another start-up step failed): once it is open, close it.
      await opened.catch(() => undefined);
      quality?.stop();
      // A retention or budget pass under way finishes its current statement; not past the deadline.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([retention?.stop(), budget?.stop()]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(0, timeoutMs / 2));
        }),
      ]);
      clearTimeout(timer);
      if (writer) {
        // Leave a moment of the deadline for closing the store itself.
        const left = Math.max(0, closeBy - performance.now());
        const { flushed, dropped } = await writer.close(Math.max(0, left - Math.min(500, left / 4)));
        if (!flushed) {
          logs.service.warn({ dropped }, 'store: the prediction queue was not flushed before the shutdown deadline');
        }
      }
      await store
        ?.close(Math.max(0, closeBy - performance.now()))
        .catch((err) => logs.service.warn({ err: safeError(err) }, 'store: close failed'));
    },
  };
}
