// Prometheus metrics: the four golden signals for HTTP, the model's own signals, and the process.
//
// Hot-path note: the per-request metrics are FastHistogram/FastCounter cells (./hot-metrics.ts), looked
// up once per label combination and cached here; recording a request or a prediction is then one Map
// lookup and a few array increments.

import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { type CounterCell, FastCounter, FastHistogram, type HistogramCell } from './hot-metrics.ts';

// From 0.5 ms, so that a sub-millisecond service is resolved, to 10 s.
export const HTTP_DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];
export const INFERENCE_DURATION_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];
export const BODY_SIZE_BUCKETS = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];
export const INPUT_CHARS_BUCKETS = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];
export const PROBABILITY_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1];

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', '_OTHER'];
const METHOD_INDEX = new Map(METHODS.map((m, i) => [m, i]));

export type ModelLabels = { name: string; version: string };

type HttpCells = { duration: HistogramCell; requestSize: HistogramCell; responseSize: HistogramCell };
type PredictionCells = { count: CounterCell; probability: HistogramCell };

export type Metrics = {
  readonly registry: Registry;
  requestStarted(): void;
  /** HTTP requests being processed right now (what http_server_active_requests shows). */
  activeRequests(): number;
  /** One finished (or aborted) HTTP request; `route` is the route template or "unmatched". */
  requestFinished(
    method: string,
    route: string,
    status: number,
    seconds: number,
    reqBytes: number,
    resBytes: number,
  ): void;
  /** One prediction: counts it and records its probability and input length. */
  predicted(model: ModelLabels, label: string, proba: number, chars: number): void;
  /** One call into the model (a single text or a whole batch). */
  inferred(model: ModelLabels, seconds: number, batchSize: number): void;
  /**
   * A model was loaded. `model` must be the object later passed to predicted()/inferred(); its series
   * are created at zero for every label, so that rate() sees the very first prediction.
   */
  /**
   * A model version now serves in `role` (default `champion`): msgcls_model_info shows it in place of
   * the role's previous version.
   */
  modelLoaded(
    model: ModelLabels,
    details: { alias: string | undefined; loadedAt: Date; labels: readonly string[]; role?: string },
  ): void;
  modelLoadFailed(): void;
  /** A hot swap installed a new version (msgcls_model_reloads_total). */
  modelReloaded(role: string): void;
  /** A check for a new version failed; the old version kept serving (msgcls_model_reload_failures_total). */
  modelReloadFailed(role: string): void;
  connectionOpened(): void;
  connectionClosed(): void;
  render(): Promise<string>;
  readonly contentType: string;
};

/** Values other modules keep, read at scrape time. */
export type MetricSources = {
  droppedLogLines(): number;
  /** Window of the event-loop utilisation gauge, in ms (10 s by default; tests shorten it). */
  eluWindowMs?: number;
};

export function createMetrics(sources: MetricSources = { droppedLogLines: () => 0 }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  new Counter({
    name: 'msgcls_log_lines_dropped_total',
    help: 'Log lines dropped because stdout did not keep up (more than 16 MiB waiting).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.droppedLogLines());
    },
  });

  // Event-loop utilisation, independent of who scrapes and how often: a counter of busy time (since
  // start; rate() of it is the utilisation over any range), and a gauge over the last complete window,
  // sampled by a timer — a value "since the previous scrape" would change with every extra scraper.
  const eluStart = performance.eventLoopUtilization();
  new Counter({
    name: 'nodejs_eventloop_busy_seconds_total',
    help: 'Time the event loop was busy (not waiting for I/O), in seconds since the process started; rate() is the utilisation.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(performance.eventLoopUtilization(eluStart).active / 1000);
    },
  });
  const eluWindowMs = sources.eluWindowMs ?? 10_000;
  let eluSample = performance.eventLoopUtilization();
  let eluRatio = 0;
  setInterval(() => {
    const now = performance.eventLoopUtilization();
    eluRatio = performance.eventLoopUtilization(now, eluSample).utilization;
    eluSample = now;
  }, eluWindowMs).unref();
  new Gauge({
    name: 'nodejs_eventloop_utilization_ratio',
    help: `Share of time the event loop was busy over the last complete ${eluWindowMs / 1000} s window (0..1), the same for every scraper.`,
    registers: [registry],
    collect() {
      this.set(eluRatio);
    },
  });

  let openConnections = 0;
  new Gauge({
    name: 'http_server_open_connections',
    help: 'Open TCP connections to the HTTP server (keep-alive connections included).',
    registers: [registry],
    collect() {
      this.set(openConnections);
    },
  });

  let activeRequests = 0;
  new Gauge({
    name: 'http_server_active_requests',
    help: 'HTTP requests being processed right now.',
    registers: [registry],
    collect() {
      this.set(activeRequests);
    },
  });

  const httpLabels = ['http_request_method', 'http_route', 'http_response_status_code'] as const;
  const duration = new FastHistogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP requests, from the request arriving to the response being sent.',
    labelNames: httpLabels,
    buckets: HTTP_DURATION_BUCKETS,
    registry,
  });
  const requestSize = new FastHistogram({
    name: 'http_server_request_body_size_bytes',
    help: 'Size of HTTP request bodies (from Content-Length).',
    labelNames: httpLabels,
    buckets: BODY_SIZE_BUCKETS,
    registry,
  });
  const responseSize = new FastHistogram({
    name: 'http_server_response_body_size_bytes',
    help: 'Size of HTTP response bodies.',
    labelNames: httpLabels,
    buckets: BODY_SIZE_BUCKETS,
    registry,
  });

  const modelLabels = ['model_name', 'model_version'] as const;
  const predictions = new FastCounter({
    name: 'msgcls_predictions_total',
    help: 'Predictions made, by model version and predicted label.',
    labelNames: [...modelLabels, 'label'],
    registry,
  });
  const probability = new FastHistogram({
    name: 'msgcls_prediction_probability',
    help: 'Probability of the predicted label.',
    labelNames: [...modelLabels, 'label'],
    buckets: PROBABILITY_BUCKETS,
    registry,
  });
  const inference = new FastHistogram({
    name: 'msgcls_inference_duration_seconds',
    help: 'Time spent in the model per call (one text or one batch).',
    labelNames: modelLabels,
    buckets: INFERENCE_DURATION_BUCKETS,
    registry,
  });
  const batchSize = new FastHistogram({
    name: 'msgcls_batch_size',
    help: 'Texts per call into the model.',
    labelNames: modelLabels,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registry,
  });
  const inputChars = new FastHistogram({
    name: 'msgcls_input_chars',
    help: 'Length of the texts classified, in characters (UTF-16 code units).',
    buckets: INPUT_CHARS_BUCKETS,
    registry,
  }).cell();
  const modelInfo = new Gauge({
    name: 'msgcls_model_info',
    help: 'The model being served (value 1), with its name, version, alias and load time.',
    labelNames: ['model_name', 'model_version', 'model_alias', 'loaded_at'],
    registers: [registry],
  });
  const modelLoads = new Counter({
    name: 'msgcls_model_load_total',
    help: 'Model loads, by result (success or failure).',
    labelNames: ['result'],
    registers: [registry],
  });
  // Both series exist from the start, so `increase(...[5m]) > 0` alerts see the first failure.
  modelLoads.labels('success').inc(0);
  modelLoads.labels('failure').inc(0);
  const modelReloads = new Counter({
    name: 'msgcls_model_reloads_total',
    help: 'Hot swaps: a new model version was loaded, warmed up and swapped in while serving, by role.',
    labelNames: ['role'],
    registers: [registry],
  });
  const modelReloadFailures = new Counter({
    name: 'msgcls_model_reload_failures_total',
    help: 'Checks for a new model version that failed (registry unreachable, load or validation failed); the old version kept serving.',
    labelNames: ['role'],
    registers: [registry],
  });
  modelReloads.labels('champion').inc(0);
  modelReloadFailures.labels('champion').inc(0);
  // The msgcls_model_info labels each role shows now, so that a swap replaces only its own series.
  const infoByRole = new Map<string, string[]>();

  // Cells are found without building key strings: route → (status, method) for HTTP, and the model's
  // info object (one per loaded model) → label for predictions.
  const httpCells = new Map<string, Map<number, HttpCells>>();
  type ModelCells = { labels: Map<string, PredictionCells>; duration: HistogramCell; batch: HistogramCell };
  const modelCells = new WeakMap<ModelLabels, ModelCells>();
  const cellsFor = (model: ModelLabels): ModelCells => {
    let c = modelCells.get(model);
    if (c === undefined) {
      c = {
        labels: new Map(),
        duration: inference.cell(model.name, model.version),
        batch: batchSize.cell(model.name, model.version),
      };
      modelCells.set(model, c);
    }
    return c;
  };

  return {
    registry,
    contentType: registry.contentType,
    requestStarted() {
      activeRequests++;
    },
    activeRequests: () => activeRequests,
    requestFinished(method, route, status, seconds, reqBytes, resBytes) {
      activeRequests--;
      const mi = METHOD_INDEX.get(method) ?? METHODS.length - 1;
      let byStatus = httpCells.get(route);
      if (byStatus === undefined) {
        byStatus = new Map();
        httpCells.set(route, byStatus);
      }
      const key = status * 8 + mi;
      let c = byStatus.get(key);
      if (c === undefined) {
        const labels = [METHODS[mi], route, String(status)];
        c = {
          duration: duration.cell(...labels),
          requestSize: requestSize.cell(...labels),
          responseSize: responseSize.cell(...labels),
        };
        byStatus.set(key, c);
      }
      c.duration.observe(seconds);
      if (reqBytes >= 0) c.requestSize.observe(reqBytes);
      if (resBytes >= 0) c.responseSize.observe(resBytes);
    },
    predicted(model, label, proba, chars) {
      const byLabel = cellsFor(model).labels;
      let c = byLabel.get(label);
      if (c === undefined) {
        c = {
          count: predictions.cell(model.name, model.version, label),
          probability: probability.cell(model.name, model.version, label),
        };
        byLabel.set(label, c);
      }
      c.count.inc();
      c.probability.observe(proba);
      inputChars.observe(chars);
    },
    inferred(model, seconds, n) {
      const c = cellsFor(model);
      c.duration.observe(seconds);
      c.batch.observe(n);
    },
    modelLoaded(model, details) {
      modelLoads.labels('success').inc();
      const role = details.role ?? 'champion';
      const previous = infoByRole.get(role);
      if (previous) modelInfo.remove(...previous);
      const labels = [model.name, model.version, details.alias ?? '', details.loadedAt.toISOString()];
      infoByRole.set(role, labels);
      modelInfo.labels(...labels).set(1);
      const byLabel = cellsFor(model).labels;
      for (const label of details.labels) {
        if (!byLabel.has(label)) {
          byLabel.set(label, {
            count: predictions.cell(model.name, model.version, label),
            probability: probability.cell(model.name, model.version, label),
          });
        }
      }
    },
    modelLoadFailed() {
      modelLoads.labels('failure').inc();
    },
    modelReloaded(role) {
      modelReloads.labels(role).inc();
    },
    modelReloadFailed(role) {
      modelReloadFailures.labels(role).inc();
    },
    connectionOpened() {
      openConnections++;
    },
    connectionClosed() {
      openConnections--;
    },
    render() {
      return registry.metrics();
    },
  };
}
