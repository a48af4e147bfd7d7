// Prometheus metrics of the prediction log, feedback, online quality and drift. The quality and drift
// gauges are filled when Prometheus scrapes (collect), from figures computed on a timer (quality) or
// from the drift window — never per request. Store counters change once per batch, not per record.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SizeBudget } from '../store/budget.ts';
import type { StoreHealth } from '../store/health.ts';
import type { PurgeCounts } from '../store/types.ts';
import { DROP_REASONS, type StoreWriter, type WriterEvents } from '../store/writer.ts';
import type { DriftReport } from './drift.ts';
import type { QualityMonitor, WindowFigures, WindowName } from './online.ts';

export const STORE_WRITE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// Label delays span seconds (a user clicks "spam") to weeks (a review queue).
export const LABEL_DELAY_BUCKETS = [1, 10, 60, 300, 900, 3600, 14_400, 43_200, 86_400, 259_200, 604_800, 2_592_000];

export type QualityMetricsSources = {
  /** Undefined when the store is off. */
  backend: string | undefined;
  /** Read at scrape time (the writer is created after the metrics, with their events). */
  writer: StoreWriter | undefined;
  health: StoreHealth | undefined;
  quality: QualityMonitor | undefined;
  /** Read at scrape time: the last size measurement, never a query per scrape. */
  budget: SizeBudget | undefined;
  drift: () => DriftReport | undefined;
};

export type QualityMetricEvents = {
  writer: WriterEvents;
  feedback(status: 'recorded' | 'updated' | 'unchanged', delaySeconds: number | undefined): void;
  retentionDeleted(kind: keyof PurgeCounts | 'size_budget', rows: number): void;
};

export function registerQualityMetrics(registry: Registry, src: QualityMetricsSources): QualityMetricEvents {
  const registers = [registry];
  const { health } = src;
  const storeOn = src.backend !== undefined;

  if (storeOn && health) {
    new Gauge({
      name: 'msgcls_store_queue_depth',
      help: 'Prediction records waiting to be written to the store (the batch being written included).',
      registers,
      collect() {
        this.set(src.writer?.depth() ?? 0);
      },
    });
    new Gauge({
      name: 'msgcls_store_queue_capacity',
      help: 'Most prediction records the queue holds (STORE_QUEUE_SIZE); beyond it records are dropped.',
      registers,
      collect() {
        this.set(src.writer?.capacity ?? 0);
      },
    });
    new Gauge({
      name: 'msgcls_store_size_bytes',
      help: 'Bytes the store tables hold (live data), measured every minute; compare with msgcls_store_size_budget_bytes.',
      registers,
      collect() {
        const u = src.budget?.latest();
        if (u !== undefined) this.set(u.bytes);
      },
    });
    new Gauge({
      name: 'msgcls_store_size_budget_bytes',
      help: 'STORE_MAX_MB in bytes: past 90 % of it the oldest prediction records are deleted (0: no bound).',
      registers,
      collect() {
        this.set(src.budget?.maxBytes ?? 0);
      },
    });
    new Gauge({
      name: 'msgcls_store_up',
      help: 'Whether the last operation on the store succeeded (1) or failed (0: degraded). Records dropped while it works are msgcls_store_dropped_records_total.',
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        this.labels(src.backend ?? '').set(health.up ? 1 : 0);
      },
    });
  }
  const written = new Counter({
    name: 'msgcls_store_written_records_total',
    help: 'Prediction records committed to the store (rows really inserted).',
    registers,
  });
  const dropped = new Counter({
    name: 'msgcls_store_dropped_records_total',
    help: 'Prediction records not stored, by reason: queue_full (store slow or down), rejected (the store refused the batch), shutdown (left at exit).',
    labelNames: ['reason'],
    registers,
  });
  const failures = new Counter({
    name: 'msgcls_store_write_failures_total',
    help: 'Failed attempts to write a batch of prediction records (retried while the store is unreachable).',
    registers,
  });
  const writeSeconds = new Histogram({
    name: 'msgcls_store_write_duration_seconds',
    help: 'Time to write one batch of prediction records. With SQLite this is time the event loop was blocked.',
    buckets: STORE_WRITE_BUCKETS,
    registers,
  });
  const feedbackLabels = new Counter({
    name: 'msgcls_feedback_labels_total',
    help: 'Feedback labels committed, by result: recorded (first label), updated (a different label replaced it), unchanged (same label again).',
    labelNames: ['result'],
    registers,
  });
  const labelDelay = new Histogram({
    name: 'msgcls_feedback_delay_seconds',
    help: 'Time from a prediction to its first feedback label.',
    buckets: LABEL_DELAY_BUCKETS,
    registers,
  });
  const retention = new Counter({
    name: 'msgcls_retention_deleted_rows_total',
    help: 'Rows removed by retention: payload (anonymised texts blanked), predictions, feedback; size_budget: oldest predictions deleted to keep STORE_MAX_MB.',
    labelNames: ['kind'],
    registers,
  });
  if (storeOn) {
    written.inc(0);
    failures.inc(0);
    for (const r of DROP_REASONS) dropped.labels(r).inc(0);
    for (const r of ['recorded', 'updated', 'unchanged']) feedbackLabels.labels(r).inc(0);
    for (const k of ['payload', 'predictions', 'feedback', 'size_budget']) retention.labels(k).inc(0);
  }

  if (src.quality) {
    const quality = src.quality;
    const modelLabels = ['model_name', 'model_version'];
    type Row = { name: string; version: string; window: WindowName; f: WindowFigures };
    const rows = (): Row[] =>
      (quality.latest()?.models ?? []).flatMap((m) =>
        (['time', 'count'] as const)
          .filter((w) => m.windows[w] !== undefined)
          .map((w) => ({ name: m.model_name, version: m.model_version, window: w, f: m.windows[w] as WindowFigures })),
      );
    const perLabel = (name: string, help: string, pick: 'precision' | 'recall' | 'f1') =>
      new Gauge({
        name,
        help,
        labelNames: [...modelLabels, 'label', 'window'],
        registers,
        collect() {
          this.reset();
          for (const r of rows()) {
            for (const [label, lf] of Object.entries(r.f.labels)) {
              const v = lf[pick];
              if (v !== null) this.labels(r.name, r.version, label, r.window).set(v);
            }
          }
        },
      });
    perLabel(
      'msgcls_online_precision',
      'Online precision per label (one-vs-rest), from feedback labels, per window (time or count).',
      'precision',
    );
    perLabel(
      'msgcls_online_recall',
      'Online recall per label (one-vs-rest), from feedback labels, per window.',
      'recall',
    );
    perLabel('msgcls_online_f1', 'Online F1 per label (one-vs-rest), from feedback labels, per window.', 'f1');
    const perWindow = (name: string, help: string, pick: (f: WindowFigures) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: [...modelLabels, 'window'],
        registers,
        collect() {
          this.reset();
          for (const r of rows()) {
            const v = pick(r.f);
            if (v !== null) this.labels(r.name, r.version, r.window).set(v);
          }
        },
      });
    perWindow('msgcls_online_accuracy', 'Online accuracy, from feedback labels, per window.', (f) => f.accuracy);
    perWindow(
      'msgcls_online_labelled_predictions',
      'Predictions with a feedback label in the window (what the online figures are computed from).',
      (f) => f.labelled,
    );
    new Gauge({
      name: 'msgcls_online_label_delay_seconds',
      help: 'Time from prediction to feedback label, mean and max over the labelled predictions of the window.',
      labelNames: [...modelLabels, 'window', 'stat'],
      registers,
      collect() {
        this.reset();
        for (const r of rows()) {
          const d = r.f.label_delay_seconds;
          if (d.mean !== null) this.labels(r.name, r.version, r.window, 'mean').set(d.mean);
          if (d.max !== null) this.labels(r.name, r.version, r.window, 'max').set(d.max);
        }
      },
    });
  }

  new Gauge({
    name: 'msgcls_drift_psi',
    help: 'Population Stability Index of each input feature (and the score) over the drift window, against the training reference.',
    labelNames: ['model_name', 'model_version', 'feature'],
    registers,
    collect() {
      this.reset();
      const d = src.drift();
      if (!d) return;
      for (const [feature, f] of Object.entries(d.features)) {
        if (f?.psi !== null && f?.psi !== undefined) this.labels(d.model_name, d.model_version, feature).set(f.psi);
      }
    },
  });
  new Gauge({
    name: 'msgcls_drift_window_predictions',
    help: 'Predictions in the drift window of this instance.',
    labelNames: ['model_name', 'model_version'],
    registers,
    collect() {
      this.reset();
      const d = src.drift();
      if (d) this.labels(d.model_name, d.model_version).set(d.window.predictions);
    },
  });

  return {
    writer: {
      written(records, seconds) {
        written.inc(records);
        writeSeconds.observe(seconds);
      },
      dropped(reason, records) {
        dropped.labels(reason).inc(records);
      },
      writeFailed() {
        failures.inc();
      },
    },
    feedback(status, delaySeconds) {
      feedbackLabels.labels(status).inc();
      if (delaySeconds !== undefined) labelDelay.observe(Math.max(0, delaySeconds));
    },
    retentionDeleted(kind, rows) {
      retention.labels(kind).inc(rows);
    },
  };
}
