// Model-quality monitoring, assembled: the prediction log (store + queue + writer), feedback,
// online quality, drift and retention. src/server.ts starts it before listening and closes it after
// the HTTP server has drained; the HTTP layer only sees the small interfaces below.

import type { Config } from '../config.ts';
import type { LoadedModel } from '../http/state.ts';
import { hasTextStats, type TextStats } from '../model/text-stats.ts';
import type { Prediction } from '../model/types.ts';
import { errorSummary, type Logs, safeError } from '../monitoring/logging.ts';
import type { Metrics } from '../monitoring/metrics.ts';
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
  observe(requestId: string, index: number, model: LoadedModel, text: string, p: Prediction): void;
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
  last_error?: { what: string; message: string; at: string };
  last_ok_at?: string;
};

export type ModelMonitoring = {
  readonly store: Store | undefined;
  readonly writer: StoreWriter | undefined;
  readonly health: StoreHealth | undefined;
  readonly quality: QualityMonitor | undefined;
  readonly retention: Retention | undefined;
  readonly sink: PredictionSink;
  /** The drift window of the model being served, as a report (undefined before a model is loaded). */
  drift(): DriftReport | undefined;
  /**
   * A model version now serves (at start, or after a hot swap): drift is measured on its predictions
   * only, against the reference it ships or one built from its first predictions.
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

export async function startModelMonitoring(
  config: Pick<Config, 'store' | 'quality' | 'drift'>,
  obs: { logs: Logs; metrics: Metrics | undefined },
): Promise<ModelMonitoring> {
  const { logs, metrics } = obs;
  const sc = config.store;
  const store = await openStore(sc, (err) =>
    logs.service.warn({ err: safeError(err) }, 'store: an idle database connection failed; it will be replaced'),
  );
  let health: StoreHealth | undefined;
  let writer: StoreWriter | undefined;
  let quality: QualityMonitor | undefined;
  let retention: Retention | undefined;
  let events: QualityMetricEvents | undefined;

  if (store) {
    health = createStoreHealth();
    health.onChange((status, err) => {
      if (status === 'ok') logs.service.info({ store: store.location }, 'store: working again');
      // An outage of the store is an operational condition, not a bug: a warning without a stack, so
      // that the exception log (and its alert) keeps meaning "a bug to fix".
      else
        logs.service.warn(
          { store: store.location, err: errorSummary(err) },
          'store: an operation failed; predictions are queued (and dropped when the queue is full), feedback answers 503',
        );
    });
    const migrated = await migrateAtStart(store);
    if (migrated.ok) {
      logs.service.info(
        { store: store.location, schema_version: migrated.version, applied: migrated.applied },
        'store: schema up to date',
      );
    } else {
      health.failed('migrate', migrated.err);
    }
    quality = createQualityMonitor(store, health, config.quality, () => undefined);
  }

  let drift: DriftWindow | undefined;
  const metricSources = {
    backend: store?.backend,
    writer: undefined as StoreWriter | undefined,
    health,
    quality,
    drift: () => drift?.report(Date.now()),
  };
  if (metrics) events = registerQualityMetrics(metrics.registry, metricSources);
  if (store && health) {
    writer = createStoreWriter(
      store,
      health,
      { queueSize: sc.queueSize, batchSize: sc.batchSize, flushMs: sc.flushMs },
      events?.writer ?? {},
      health.status === 'ok',
    );
    metricSources.writer = writer;
    retention = createRetention(store, health, sc.retention, {
      deleted: (kind, rows) => events?.retentionDeleted(kind, rows),
      done: (run) => {
        if (run.payload + run.predictions + run.feedback > 0)
          logs.service.info({ ...run }, 'retention: expired rows removed');
      },
    });
  }

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
  let driftModel: LoadedModel | undefined;
  const storeText = sc.storeText;
  const useModel = (model: LoadedModel) => {
    driftModel = model;
    drift = createModelDrift(model.info, model.manifest.reference, config.drift);
  };
  let sinkErrors = 0;
  const sink: PredictionSink = {
    observe(requestId, index, model, text, p) {
      try {
        observe(requestId, index, model, text, p);
      } catch (err) {
        // Monitoring must never fail a prediction; a bug here is logged (the first few times).
        if (sinkErrors++ < 10) logs.exception.error({ err: safeError(err, [text]) }, 'recording a prediction failed');
      }
    },
  };
  function observe(requestId: string, index: number, model: LoadedModel, text: string, p: Prediction): void {
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
      if (driftModel === undefined) useModel(model);
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
      if (writer) {
        const record: PredictionRecord = {
          requestId,
          index,
          ts: now,
          modelName: model.info.name,
          modelVersion: model.info.version,
          label: p.label,
          proba: p.proba,
          score,
          textLength: stats.text_length,
          tokenCount: stats.token_count,
          digitShare: stats.digit_share,
          upperShare: stats.upper_share,
          urlCount: stats.url_count,
          unknownTokenShare: stats.unknown_token_share,
          text: storeText ? logs.safeText(text) : null,
        };
        writer.enqueue(record);
      }
    }
  }

  return {
    store,
    writer,
    health,
    quality,
    retention,
    sink,
    drift: () => drift?.report(Date.now()),
    useModel,

    async submitFeedback(items) {
      if (!store || !health) throw new StoreUnavailableError('the store is off (STORE_URL=off)');
      if (writer && items.some((it) => writer?.isPending(it.requestId, it.index))) {
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
        last_error: health.lastError,
        last_ok_at: health.lastOkAt,
      };
    },

    start() {
      quality?.start(config.quality.refreshS);
      retention?.start();
    },

    async close(timeoutMs) {
      quality?.stop();
      retention?.stop();
      if (writer) {
        const { flushed, dropped } = await writer.close(timeoutMs);
        if (!flushed) {
          logs.service.warn({ dropped }, 'store: the prediction queue was not flushed before the shutdown deadline');
        }
      }
      await store?.close().catch((err) => logs.service.warn({ err: safeError(err) }, 'store: close failed'));
    },
  };
}
