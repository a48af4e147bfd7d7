// All configuration comes from the environment, is read here once at start, and is validated as a
// whole: the process either gets a complete, valid Config or stops with every problem listed.

import { defaultRegistry } from './registry/default.ts';

export type Config = {
  port: number;
  host: string;
  registry: string;
  modelName: string;
  /** Alias to serve; ignored when `modelVersion` pins a version. */
  modelAlias: string;
  /** Exact version to serve, overriding the alias (e.g. to pin a rollback). */
  modelVersion: string | undefined;
  /** Seconds between checks of the alias for a new version (hot swap); 0 = only POST /admin/reload. */
  modelPollSeconds: number;
  maxBatch: number;
  maxTextChars: number;
  maxBodyBytes: number;
  shutdownTimeoutMs: number;
  shutdownDelayMs: number;
  keepAliveTimeoutMs: number;
  logLevel: string;
  logHashKey: string | undefined;
  payloadSampleRate: number;
  payloadMaxChars: number;
  metricsEnabled: boolean;
  dashboardEnabled: boolean;
  trustProxy: boolean;
  watchdogEventLoopLimitMs: number;
  watchdogModelLoadTimeoutMs: number;
  /** Not ready this long after start → exit 70 (a start-up step that hangs); 0 = off. */
  watchdogStartupTimeoutMs: number;
  store: StoreConfig;
  feedbackToken: string | undefined;
  /** Bearer token for /admin/* (and the other non-public endpoints); unset = open. */
  adminToken: string | undefined;
  feedbackMaxBatch: number;
  /** Set when MLFLOW_TRACKING_URI is: the model comes from that MLflow Model Registry. */
  mlflow: MlflowConfig | undefined;
  /** Where versions downloaded from MLflow are kept (with checksums), and the last version per alias. */
  modelCacheDir: string;
  quality: QualityConfig;
  drift: DriftConfig;
  rollout: RolloutConfig;
  /** Server timeouts, the connection cap and load shedding (src/http/limits.ts). */
  limits: LimitsConfig;
  /** API keys, rate limits, CORS and the metrics port (src/http/access.ts). */
  access: AccessConfig;
  /** Share of successful, fast requests whose access line is written (errors and slow ones always are). */
  accessLogSampleRate: number;
  /** A request slower than this always gets its access line. */
  accessLogSlowMs: number;
  /** Share of predictions whose business line is written. */
  businessLogSampleRate: number;
};

export type LimitsConfig = {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  /** Shed load (503) above these; 0 turns a limit off. */
  maxEventLoopDelayMs: number;
  maxHeapMb: number;
  maxInFlight: number;
  retryAfterS: number;
};

export type AccessConfig = {
  /** name → key; empty = /predict is open. */
  apiKeys: Map<string, string>;
  /** Requests per window per API key (or client IP); 0 = no rate limit. */
  rateLimitMax: number;
  rateLimitWindowS: number;
  /** Allowed browser origins; empty = CORS off. `*` allows any. */
  corsOrigins: string[];
  /** Serve /metrics on this port instead of the main one; 0 = on the main port. */
  metricsPort: number;
};

/** Two versions at once (src/rollout): which one answers whom, and when the challenger is judged. */
export type RolloutConfig = {
  mode: 'off' | 'shadow' | 'canary' | 'ab';
  /** Alias of the second version; undefined: no challenger. */
  challengerAlias: string | undefined;
  canaryPercent: number;
  abSplit: number;
  /** `ip` or `header:<name>`: the key of a request without X-User-Id. */
  key: string;
  salt: string;
  shadowQueueSize: number;
  guard: { maxErrorRatio: number; maxP95Ms: number; minRequests: number };
  verdict: { minLabels: number; maxLatencyRatio: number; alpha: number };
};

/** An MLflow tracking server (src/registry/mlflow.ts). The credentials are never logged. */
export type MlflowConfig = {
  trackingUri: string;
  token: string | undefined;
  username: string | undefined;
  password: string | undefined;
  timeoutMs: number;
};

/** Where predictions and feedback are kept (src/store), and how they are written and expired. */
export type StoreConfig = {
  /** `off`, `sqlite:<file>` or `postgres://…`. */
  url: string;
  kind: 'off' | 'sqlite' | 'postgres';
  /** SQLite file path (kind sqlite only). */
  sqlitePath: string;
  /** Keep the anonymised text of each prediction (ML payload). */
  storeText: boolean;
  queueSize: number;
  /** How long /predict waits for room in a full queue while the store works (0: drop at once). */
  queueWaitMs: number;
  batchSize: number;
  flushMs: number;
  poolSize: number;
  /** Size budget in bytes (0: none). */
  maxBytes: number;
  retention: {
    payloadDays: number;
    predictionsDays: number;
    feedbackDays: number;
    intervalS: number;
    batch: number;
  };
};

export type QualityConfig = {
  /** Time window: labelled predictions made in the last N minutes. */
  windowMinutes: number;
  /** Count window: the last N labelled predictions of each model version. */
  windowCount: number;
  /** How often the gauges are recomputed from the store. */
  refreshS: number;
};

export type DriftConfig = {
  /** Sliding window: the last N predictions of this instance... */
  window: number;
  /** ...made in the last N minutes (0: no age limit). */
  maxAgeMinutes: number;
  /** Fewer predictions than this in the window: no PSI is reported. */
  minCount: number;
  /** PSI at or above this is "moderate". */
  moderate: number;
  /** PSI at or above this is "drifted". */
  drifted: number;
  /** For a model that ships no drift reference: how many first predictions make one. */
  referenceCount: number;
};

/** One documented variable: the single source for validation, defaults and the README table. */
export type ConfigVar = {
  name: string;
  default: string;
  description: string;
};

export const CONFIG_VARS: readonly ConfigVar[] = [
  { name: 'PORT', default: '8000', description: 'TCP port the HTTP server listens on.' },
  { name: 'HOST', default: '0.0.0.0', description: 'Interface to bind; 0.0.0.0 is needed in containers.' },
  {
    name: 'MODEL_REGISTRY',
    default: './models',
    description:
      'Directory of the local model registry. Unset and without ./models: the default model bundled with msg-cls.',
  },
  { name: 'MODEL_NAME', default: 'msg_cls', description: 'Registered model to serve.' },
  { name: 'MODEL_ALIAS', default: 'champion', description: 'Alias of the version to serve.' },
  {
    name: 'MODEL_VERSION',
    default: '',
    description: 'Serve this exact version instead of the alias (pin or roll back).',
  },
  {
    name: 'MLFLOW_TRACKING_URI',
    default: '',
    description:
      'Serve MODEL_NAME at MODEL_ALIAS (or MODEL_VERSION) from this MLflow tracking server (`http(s)://host:port`) instead of MODEL_REGISTRY.',
  },
  {
    name: 'MLFLOW_TRACKING_TOKEN',
    default: '',
    description: 'Sent to MLflow as `Authorization: Bearer <token>` (as MLflow’s own client does). Keep it a secret.',
  },
  {
    name: 'MLFLOW_TRACKING_USERNAME',
    default: '',
    description:
      'With MLFLOW_TRACKING_PASSWORD: HTTP basic auth to MLflow (`mlflow server --app-name basic-auth`); takes precedence over the token.',
  },
  {
    name: 'MLFLOW_TRACKING_PASSWORD',
    default: '',
    description: 'Password for MLFLOW_TRACKING_USERNAME. Keep it a secret.',
  },
  {
    name: 'MLFLOW_REQUEST_TIMEOUT_MS',
    default: '30000',
    description:
      'Longest wait for one MLflow request (a file download included); network errors, 429 and 5xx are retried with backoff.',
  },
  {
    name: 'MODEL_CACHE_DIR',
    default: './data/model-cache',
    description:
      'Versions downloaded from MLflow, with SHA-256 checksums, and the last version resolved per alias: when MLflow is down at start, that version is served from here. Must be writable; keep it on a volume.',
  },
  {
    name: 'MODEL_POLL_SECONDS',
    default: '30',
    description:
      'Seconds between checks of MODEL_ALIAS in the registry; a new version is loaded, warmed up and swapped in without dropping a request. 0 = never (POST /admin/reload still checks). A pinned MODEL_VERSION is never left.',
  },
  { name: 'MAX_BATCH', default: '256', description: 'Most texts accepted in one `{"texts": [...]}` request.' },
  { name: 'MAX_TEXT_CHARS', default: '20000', description: 'Longest text accepted, in characters (code points).' },
  { name: 'MAX_BODY_BYTES', default: '1048576', description: 'Largest request body accepted, in bytes.' },
  {
    name: 'SHUTDOWN_TIMEOUT_MS',
    default: '10000',
    description: 'On SIGTERM/SIGINT, how long in-flight requests get before the process exits anyway.',
  },
  {
    name: 'SHUTDOWN_DELAY_MS',
    default: '0',
    description:
      'On SIGTERM/SIGINT, how long to keep serving with /ready at 503 before closing the listener, so a load balancer stops routing first (use it where there is no preStop hook).',
  },
  {
    name: 'KEEP_ALIVE_TIMEOUT_MS',
    default: '65000',
    description: 'Idle keep-alive timeout; keep it above your load balancer’s idle timeout.',
  },
  {
    name: 'LOG_LEVEL',
    default: 'info',
    description:
      'pino log level: fatal, error, warn, info, debug, trace or silent. Access, business and payload lines are info.',
  },
  {
    name: 'LOG_HASH_KEY',
    default: '',
    description:
      'Secret key for the keyed hashes of client IPs and user ids in logs. Set it (as a secret) to correlate across restarts and instances; random per process when unset.',
  },
  {
    name: 'ML_PAYLOAD_SAMPLE_RATE',
    default: '0.01',
    description: 'Share of predicted texts logged, anonymised, as ml_payload lines (0 turns them off, 1 logs all).',
  },
  {
    name: 'ML_PAYLOAD_MAX_CHARS',
    default: '2000',
    description: 'Longest anonymised text kept in an ml_payload line.',
  },
  { name: 'METRICS_ENABLED', default: 'true', description: 'Serve Prometheus metrics at GET /metrics (true/false).' },
  {
    name: 'DASHBOARD_ENABLED',
    default: 'true',
    description:
      'Serve the live dashboard at GET /dashboard (true/false); behind ADMIN_TOKEN when that is set. Its charts need METRICS_ENABLED=true.',
  },
  {
    name: 'TRUST_PROXY',
    default: 'false',
    description:
      'Take the client IP from X-Forwarded-For (true behind a load balancer such as Fly.io, Cloud Run, an ingress).',
  },
  {
    name: 'HEADERS_TIMEOUT_MS',
    default: '10000',
    description:
      'A connection that has not sent a complete request head within this time is answered 408 and closed (slow or idle clients cannot hold it). At most REQUEST_TIMEOUT_MS.',
  },
  {
    name: 'REQUEST_TIMEOUT_MS',
    default: '30000',
    description: 'A request whose body has not fully arrived within this time is answered 408 and closed.',
  },
  {
    name: 'MAX_CONNECTIONS',
    default: '4096',
    description:
      'Open TCP connections accepted at most; beyond it new connections are closed at once and counted (msgcls_connections_dropped_total). 0 = no cap.',
  },
  {
    name: 'OVERLOAD_MAX_EVENT_LOOP_DELAY_MS',
    default: '200',
    description:
      'Shed load: answer 503 `overloaded` with Retry-After while the mean event-loop delay of the last 0.5 s is above this and other requests are in flight. Probes and /metrics are never shed. 0 = off.',
  },
  {
    name: 'OVERLOAD_MAX_HEAP_MB',
    default: '160',
    description: 'Shed load (503 `overloaded`) while the V8 heap in use is above this many MB. 0 = off.',
  },
  {
    name: 'OVERLOAD_MAX_IN_FLIGHT',
    default: '512',
    description: 'Shed load (503 `overloaded`) while this many requests are already being served. 0 = off.',
  },
  {
    name: 'OVERLOAD_RETRY_AFTER_S',
    default: '1',
    description: 'Retry-After (seconds) sent with a 503 `overloaded`.',
  },
  {
    name: 'API_KEYS',
    default: '',
    description:
      'When set, POST /predict (and the Open Inference Protocol’s POST /v2/models/…/infer) needs a key: `name:key` pairs separated by commas (keys ≥ 16 characters, at most 64 pairs), sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Metrics and logs carry the name, never the key. Set it as a secret.',
  },
  {
    name: 'RATE_LIMIT_MAX',
    default: '0',
    description:
      'Requests allowed per RATE_LIMIT_WINDOW_S per API key (or per client IP without one); beyond it 429 `rate_limited` with Retry-After. Probes and /metrics are exempt. 0 = off.',
  },
  { name: 'RATE_LIMIT_WINDOW_S', default: '60', description: 'The window of RATE_LIMIT_MAX, in seconds.' },
  {
    name: 'CORS_ORIGINS',
    default: '',
    description:
      'Browser origins allowed to call the API (comma-separated, e.g. `https://app.example.com`; `*` for any). Unset = no CORS headers, cross-origin browser calls are refused.',
  },
  {
    name: 'METRICS_PORT',
    default: '0',
    description:
      'Serve GET /metrics on this separate port (no token; keep it internal) instead of the main port. 0 = on the main port, where ADMIN_TOKEN, when set, protects it.',
  },
  {
    name: 'ACCESS_LOG_SAMPLE_RATE',
    default: '1',
    description:
      'Share of access lines written for successful requests (0 to 1). Errors (status ≥ 400) and requests slower than ACCESS_LOG_SLOW_MS are always written.',
  },
  {
    name: 'ACCESS_LOG_SLOW_MS',
    default: '1000',
    description: 'A request slower than this always gets its access line, whatever the sample rate.',
  },
  {
    name: 'BUSINESS_LOG_SAMPLE_RATE',
    default: '1',
    description: 'Share of predictions whose business line (label, probability, model) is written (0 to 1).',
  },
  {
    name: 'WATCHDOG_EVENT_LOOP_LIMIT_MS',
    default: '10000',
    description:
      'Exit with code 70 when the event loop has been blocked this long (timed from a separate thread), so the supervisor restarts the service. 0 turns the watchdog off; otherwise at least 100.',
  },
  {
    name: 'WATCHDOG_MODEL_LOAD_TIMEOUT_MS',
    default: '30000',
    description:
      'How long to keep retrying a model that fails to load (with /ready at 503 and the reason) before exiting with code 70. 0 = one attempt.',
  },
  {
    name: 'WATCHDOG_STARTUP_TIMEOUT_MS',
    default: '60000',
    description:
      'Exit with code 70 when the service is not ready this long after it started (store open and migration, listen, model load — a step that hangs rather than fails), so the supervisor restarts it. Must exceed WATCHDOG_MODEL_LOAD_TIMEOUT_MS (unset: that + 30000 when more than 60000); 0 turns it off.',
  },
  {
    name: 'STORE_URL',
    default: 'sqlite:./data/msg-cls.db',
    description:
      'Where predictions and feedback labels are kept: `sqlite:<file>` (one instance; the folder is created), `postgres://user:pass@host:5432/db` (several instances share it), or `off`.',
  },
  {
    name: 'STORE_TEXT',
    default: 'false',
    description:
      'Also keep the anonymised text of each prediction in the store (ML payload, deleted after RETENTION_PAYLOAD_DAYS). Raw text is never stored.',
  },
  {
    name: 'STORE_QUEUE_SIZE',
    default: '10000',
    description:
      'Prediction records waiting to be written, at most; when the store is down (or STORE_QUEUE_WAIT_MS runs out), records beyond this are dropped and counted (msgcls_store_dropped_records_total).',
  },
  {
    name: 'STORE_QUEUE_WAIT_MS',
    default: '1000',
    description:
      'When the queue is full but the store works, /predict waits up to this long for room: the writer sets the pace and nothing is dropped. Past it, or while the store fails, records are dropped and counted. 0 = never wait.',
  },
  {
    name: 'STORE_BATCH_SIZE',
    default: '1000',
    description:
      'Prediction records written per transaction, at most (a full batch is written at once; a partial one after STORE_FLUSH_MS).',
  },
  {
    name: 'STORE_FLUSH_MS',
    default: '200',
    description: 'Longest a prediction record waits in the queue before a write is started.',
  },
  {
    name: 'STORE_POOL_SIZE',
    default: '4',
    description: 'PostgreSQL connections per instance (all but one write prediction batches in parallel).',
  },
  {
    name: 'STORE_MAX_MB',
    default: '800',
    description:
      'Size budget of the store (its tables, in MB): past 90 % of it the oldest prediction records are deleted down to 75 % (feedback labels are kept). The default fits a 1 GB volume with headroom. 0 = no bound.',
  },
  {
    name: 'RETENTION_PAYLOAD_DAYS',
    default: '14',
    description: 'Days the anonymised text (STORE_TEXT) is kept; the log policy allows at most 14.',
  },
  {
    name: 'RETENTION_PREDICTIONS_DAYS',
    default: '90',
    description: 'Days prediction records (ids, model version, label, probability, drift features) are kept.',
  },
  { name: 'RETENTION_FEEDBACK_DAYS', default: '90', description: 'Days feedback labels are kept, from their arrival.' },
  {
    name: 'RETENTION_INTERVAL_S',
    default: '3600',
    description: 'Seconds between retention runs (the first runs at start).',
  },
  {
    name: 'RETENTION_BATCH',
    default: '1000',
    description: 'Rows deleted per statement by a retention run (small batches keep locks and pauses short).',
  },
  {
    name: 'FEEDBACK_TOKEN',
    default: '',
    description:
      'When set, POST /feedback needs `Authorization: Bearer <token>`. Set it (as a secret) whenever the service is reachable by untrusted clients.',
  },
  {
    name: 'ADMIN_TOKEN',
    default: '',
    description:
      'When set, the admin endpoints need `Authorization: Bearer <token>`: /admin/*, /monitoring/*, /dashboard and /metrics on the main port. Set it (as a secret) whenever the service is reachable by untrusted clients.',
  },
  {
    name: 'FEEDBACK_MAX_BATCH',
    default: '1000',
    description: 'Most labels accepted in one `{"items": [...]}` feedback request.',
  },
  {
    name: 'QUALITY_WINDOW_MINUTES',
    default: '1440',
    description: 'Time window of the online quality figures: labelled predictions made in the last N minutes.',
  },
  {
    name: 'QUALITY_WINDOW_COUNT',
    default: '1000',
    description: 'Count window of the online quality figures: the last N labelled predictions of each model version.',
  },
  {
    name: 'QUALITY_REFRESH_S',
    default: '30',
    description: 'Seconds between recomputations of the online quality gauges from the store.',
  },
  {
    name: 'DRIFT_WINDOW',
    default: '1000',
    description: 'Drift is measured on the last N predictions of this instance (a sliding window).',
  },
  {
    name: 'DRIFT_MAX_AGE_MINUTES',
    default: '1440',
    description: 'Predictions older than this leave the drift window even when it is not full (0: no age limit).',
  },
  {
    name: 'DRIFT_MIN_COUNT',
    default: '100',
    description: 'No PSI is reported while the drift window holds fewer predictions than this.',
  },
  {
    name: 'DRIFT_MODERATE_PSI',
    default: '0.1',
    description: 'PSI from which a feature is reported as moderately drifted.',
  },
  { name: 'DRIFT_PSI', default: '0.2', description: 'PSI from which a feature is reported as drifted.' },
  {
    name: 'DRIFT_REFERENCE_COUNT',
    default: '1000',
    description:
      'For a model version that ships no drift reference (ONNX, MLflow models): the reference is built from its first N predictions on this instance, and drift is reported from then on.',
  },
  {
    name: 'ROLLOUT_MODE',
    default: 'off',
    description:
      'Two versions at once: `off` (champion only), `shadow` (the challenger also scores every text, off the response path), `canary` (CANARY_PERCENT of users get the challenger) or `ab` (AB_SPLIT percent do).',
  },
  {
    name: 'CHALLENGER_ALIAS',
    default: '',
    description:
      'Alias of the second version (e.g. `challenger`); needed when ROLLOUT_MODE is not off. The service follows it as it follows MODEL_ALIAS.',
  },
  {
    name: 'CANARY_PERCENT',
    default: '10',
    description: 'Canary: percent of users (0–100, two decimals) answered by the challenger.',
  },
  { name: 'AB_SPLIT', default: '50', description: 'A/B: percent of users (0–100) answered by the challenger.' },
  {
    name: 'ROLLOUT_KEY',
    default: 'ip',
    description:
      'What keeps a request without `X-User-Id` on one version: `ip` (the client IP) or `header:<name>` (e.g. `header:X-Session-Id`).',
  },
  {
    name: 'ROLLOUT_SALT',
    default: 'msg-cls',
    description: 'Salt of the assignment hash; the same on every instance. Change it to reshuffle users.',
  },
  {
    name: 'SHADOW_QUEUE_SIZE',
    default: '1000',
    description:
      'Shadow: texts waiting for the challenger, at most; beyond it they are dropped and counted (msgcls_rollout_shadow_dropped_total).',
  },
  {
    name: 'GUARD_MAX_ERROR_RATIO',
    default: '0.05',
    description:
      'Canary/A-B guard: the challenger is taken out of traffic (weight 0) when its error ratio goes above this.',
  },
  {
    name: 'GUARD_MAX_P95_MS',
    default: '250',
    description: 'Canary/A-B guard: …or when its p95 inference time goes above this many milliseconds.',
  },
  {
    name: 'GUARD_MIN_REQUESTS',
    default: '100',
    description: 'The guard and the verdict judge errors and latency only after this many challenger calls.',
  },
  {
    name: 'VERDICT_MIN_LABELS',
    default: '200',
    description:
      'The verdict judges quality only with this many feedback labels per version; fewer is "not enough data".',
  },
  {
    name: 'VERDICT_MAX_LATENCY_RATIO',
    default: '2',
    description:
      "The verdict says rollback when the challenger's p95 inference time is above this multiple of the champion's (and at least 1 ms slower: smaller differences are noise).",
  },
  {
    name: 'VERDICT_ALPHA',
    default: '0.05',
    description: 'Significance level of the verdict’s two-proportion z-tests (quality and errors).',
  },
];

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const VERSION_RE = /^[1-9][0-9]{0,8}$/;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const raw = (name: string): string => {
    const v = env[name];
    if (v !== undefined && v.trim() !== '') return v.trim();
    return CONFIG_VARS.find((c) => c.name === name)?.default ?? '';
  };
  const int = (name: string, min: number, max: number): number => {
    const s = raw(name);
    const n = Number(s);
    if (!/^-?\d+$/.test(s) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(s)} is not valid: set it to a whole number from ${min} to ${max}`);
      return min;
    }
    return n;
  };
  const name = (varName: string): string => {
    const s = raw(varName);
    if (!NAME_RE.test(s)) {
      problems.push(
        `${varName}=${JSON.stringify(s)} is not valid: use letters, digits, '_', '.' or '-' (starting with a letter or digit)`,
      );
    }
    return s;
  };

  const bool = (name: string): boolean => {
    const s = raw(name).toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off'].includes(s)) return false;
    problems.push(`${name}=${JSON.stringify(s)} is not valid: set it to true or false`);
    return false;
  };
  const positive = (name: string): number => {
    const s = raw(name);
    const n = Number(s);
    if (s === '' || !Number.isFinite(n) || n <= 0 || n > 100) {
      problems.push(`${name}=${JSON.stringify(s)} is not valid: set it to a number above 0, such as 0.2`);
      return 1;
    }
    return n;
  };
  const ratio = (name: string): number => {
    const s = raw(name);
    const n = Number(s);
    if (s === '' || !Number.isFinite(n) || n < 0 || n > 1) {
      problems.push(`${name}=${JSON.stringify(s)} is not valid: set it to a number from 0 to 1`);
      return 0;
    }
    return n;
  };

  const modelVersion = raw('MODEL_VERSION') || undefined;
  if (modelVersion !== undefined && !VERSION_RE.test(modelVersion)) {
    problems.push(
      `MODEL_VERSION=${JSON.stringify(modelVersion)} is not valid: set a version number such as 1, or unset it`,
    );
  }
  const logLevel = raw('LOG_LEVEL').toLowerCase();
  if (!LOG_LEVELS.has(logLevel)) {
    problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)} is not valid: use one of ${[...LOG_LEVELS].join(', ')}`);
  }

  const percent = (varName: string): number => {
    const s = raw(varName);
    const n = Number(s);
    if (s === '' || !Number.isFinite(n) || n < 0 || n > 100) {
      problems.push(`${varName}=${JSON.stringify(s)} is not valid: set it to a percent from 0 to 100, such as 10`);
      return 0;
    }
    return n;
  };
  const rolloutMode = raw('ROLLOUT_MODE').toLowerCase();
  if (!['off', 'shadow', 'canary', 'ab'].includes(rolloutMode)) {
    problems.push(`ROLLOUT_MODE=${JSON.stringify(rolloutMode)} is not valid: use off, shadow, canary or ab`);
  }
  const challengerAlias = raw('CHALLENGER_ALIAS') ? name('CHALLENGER_ALIAS') : undefined;
  const rolloutKey = raw('ROLLOUT_KEY');
  if (rolloutKey !== 'ip' && !/^header:[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(rolloutKey)) {
    problems.push(
      `ROLLOUT_KEY=${JSON.stringify(rolloutKey)} is not valid: use ip or header:<name>, such as header:X-Session-Id`,
    );
  }
  const maxP95 = Number(raw('GUARD_MAX_P95_MS'));
  if (!Number.isFinite(maxP95) || maxP95 <= 0) {
    problems.push(
      `GUARD_MAX_P95_MS=${JSON.stringify(raw('GUARD_MAX_P95_MS'))} is not valid: set it to milliseconds above 0, such as 250`,
    );
  }

  const config: Config = {
    port: int('PORT', 0, 65535),
    host: raw('HOST'),
    registry: env.MODEL_REGISTRY?.trim() ? raw('MODEL_REGISTRY') : defaultRegistry(),
    modelName: name('MODEL_NAME'),
    modelAlias: name('MODEL_ALIAS'),
    modelVersion,
    modelPollSeconds: int('MODEL_POLL_SECONDS', 0, 86_400),
    maxBatch: int('MAX_BATCH', 1, 100_000),
    maxTextChars: int('MAX_TEXT_CHARS', 1, 10_000_000),
    maxBodyBytes: int('MAX_BODY_BYTES', 1024, 1024 * 1024 * 1024),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 0, 3_600_000),
    shutdownDelayMs: int('SHUTDOWN_DELAY_MS', 0, 3_600_000),
    keepAliveTimeoutMs: int('KEEP_ALIVE_TIMEOUT_MS', 0, 3_600_000),
    logLevel,
    logHashKey: raw('LOG_HASH_KEY') || undefined,
    payloadSampleRate: ratio('ML_PAYLOAD_SAMPLE_RATE'),
    payloadMaxChars: int('ML_PAYLOAD_MAX_CHARS', 0, 1_000_000),
    metricsEnabled: bool('METRICS_ENABLED'),
    dashboardEnabled: bool('DASHBOARD_ENABLED'),
    trustProxy: bool('TRUST_PROXY'),
    watchdogEventLoopLimitMs: int('WATCHDOG_EVENT_LOOP_LIMIT_MS', 0, 3_600_000),
    watchdogModelLoadTimeoutMs: int('WATCHDOG_MODEL_LOAD_TIMEOUT_MS', 0, 3_600_000),
    // Unset: room for the model load and 30 s more for the other steps, at least the default.
    watchdogStartupTimeoutMs: env.WATCHDOG_STARTUP_TIMEOUT_MS?.trim()
      ? int('WATCHDOG_STARTUP_TIMEOUT_MS', 0, 3_600_000)
      : Math.max(60_000, int('WATCHDOG_MODEL_LOAD_TIMEOUT_MS', 0, 3_600_000) + 30_000),
    store: {
      ...parseStoreUrl(raw('STORE_URL'), problems),
      storeText: bool('STORE_TEXT'),
      queueSize: int('STORE_QUEUE_SIZE', 1, 10_000_000),
      queueWaitMs: int('STORE_QUEUE_WAIT_MS', 0, 60_000),
      batchSize: int('STORE_BATCH_SIZE', 1, 5000),
      flushMs: int('STORE_FLUSH_MS', 1, 60_000),
      poolSize: int('STORE_POOL_SIZE', 1, 100),
      maxBytes: int('STORE_MAX_MB', 0, 100_000_000) * 1024 * 1024,
      retention: {
        payloadDays: int('RETENTION_PAYLOAD_DAYS', 1, 14),
        predictionsDays: int('RETENTION_PREDICTIONS_DAYS', 1, 36_500),
        feedbackDays: int('RETENTION_FEEDBACK_DAYS', 1, 36_500),
        intervalS: int('RETENTION_INTERVAL_S', 1, 604_800),
        batch: int('RETENTION_BATCH', 1, 100_000),
      },
    },
    feedbackToken: raw('FEEDBACK_TOKEN') || undefined,
    adminToken: raw('ADMIN_TOKEN') || undefined,
    feedbackMaxBatch: int('FEEDBACK_MAX_BATCH', 1, 100_000),
    mlflow: mlflowConfig(raw, int, problems),
    modelCacheDir: raw('MODEL_CACHE_DIR'),
    quality: {
      windowMinutes: int('QUALITY_WINDOW_MINUTES', 1, 5_256_000),
      windowCount: int('QUALITY_WINDOW_COUNT', 1, 1_000_000),
      refreshS: int('QUALITY_REFRESH_S', 1, 86_400),
    },
    drift: {
      window: int('DRIFT_WINDOW', 10, 1_000_000),
      maxAgeMinutes: int('DRIFT_MAX_AGE_MINUTES', 0, 5_256_000),
      minCount: int('DRIFT_MIN_COUNT', 1, 1_000_000),
      moderate: positive('DRIFT_MODERATE_PSI'),
      drifted: positive('DRIFT_PSI'),
      referenceCount: int('DRIFT_REFERENCE_COUNT', 10, 1_000_000),
    },
    rollout: {
      mode: rolloutMode as RolloutConfig['mode'],
      challengerAlias,
      canaryPercent: percent('CANARY_PERCENT'),
      abSplit: percent('AB_SPLIT'),
      key: rolloutKey,
      salt: raw('ROLLOUT_SALT'),
      shadowQueueSize: int('SHADOW_QUEUE_SIZE', 1, 1_000_000),
      guard: {
        maxErrorRatio: ratio('GUARD_MAX_ERROR_RATIO'),
        maxP95Ms: maxP95,
        minRequests: int('GUARD_MIN_REQUESTS', 1, 100_000_000),
      },
      verdict: {
        minLabels: int('VERDICT_MIN_LABELS', 1, 100_000_000),
        maxLatencyRatio: positive('VERDICT_MAX_LATENCY_RATIO'),
        alpha: ratio('VERDICT_ALPHA'),
      },
    },
    limits: {
      headersTimeoutMs: int('HEADERS_TIMEOUT_MS', 1000, 3_600_000),
      requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 1000, 3_600_000),
      maxConnections: int('MAX_CONNECTIONS', 0, 1_000_000),
      maxEventLoopDelayMs: int('OVERLOAD_MAX_EVENT_LOOP_DELAY_MS', 0, 60_000),
      maxHeapMb: int('OVERLOAD_MAX_HEAP_MB', 0, 1_000_000),
      maxInFlight: int('OVERLOAD_MAX_IN_FLIGHT', 0, 1_000_000),
      retryAfterS: int('OVERLOAD_RETRY_AFTER_S', 1, 3600),
    },
    access: {
      apiKeys: parseApiKeys(raw('API_KEYS'), problems),
      rateLimitMax: int('RATE_LIMIT_MAX', 0, 100_000_000),
      rateLimitWindowS: int('RATE_LIMIT_WINDOW_S', 1, 86_400),
      corsOrigins: parseOrigins(raw('CORS_ORIGINS'), problems),
      metricsPort: int('METRICS_PORT', 0, 65535),
    },
    accessLogSampleRate: ratio('ACCESS_LOG_SAMPLE_RATE'),
    accessLogSlowMs: int('ACCESS_LOG_SLOW_MS', 0, 3_600_000),
    businessLogSampleRate: ratio('BUSINESS_LOG_SAMPLE_RATE'),
  };
  if (config.rollout.mode !== 'off' && challengerAlias === undefined) {
    problems.push(
      `ROLLOUT_MODE=${config.rollout.mode} needs a challenger: set CHALLENGER_ALIAS (e.g. challenger) to the alias of the second version, or ROLLOUT_MODE=off`,
    );
  }
  if (challengerAlias !== undefined && challengerAlias === config.modelAlias) {
    problems.push(
      `CHALLENGER_ALIAS=${challengerAlias} is MODEL_ALIAS too: the challenger must be another alias (e.g. challenger)`,
    );
  }
  if (config.limits.headersTimeoutMs > config.limits.requestTimeoutMs) {
    problems.push(
      `HEADERS_TIMEOUT_MS=${config.limits.headersTimeoutMs} must not exceed REQUEST_TIMEOUT_MS=${config.limits.requestTimeoutMs}: the request head is part of the request`,
    );
  }
  if (config.access.metricsPort !== 0 && config.access.metricsPort === config.port) {
    problems.push(
      `METRICS_PORT=${config.access.metricsPort} is the main PORT: pick another port, or 0 to serve /metrics on the main port`,
    );
  }
  if (config.watchdogEventLoopLimitMs > 0 && config.watchdogEventLoopLimitMs < 100) {
    problems.push(
      `WATCHDOG_EVENT_LOOP_LIMIT_MS=${config.watchdogEventLoopLimitMs} is too small: a garbage-collection pause could trip it; use at least 100, or 0 to turn the watchdog off`,
    );
  }
  if (
    problems.length === 0 &&
    config.watchdogStartupTimeoutMs > 0 &&
    config.watchdogStartupTimeoutMs <= config.watchdogModelLoadTimeoutMs
  ) {
    problems.push(
      `WATCHDOG_STARTUP_TIMEOUT_MS=${config.watchdogStartupTimeoutMs} must be more than WATCHDOG_MODEL_LOAD_TIMEOUT_MS=${config.watchdogModelLoadTimeoutMs}: loading the model is one of the start-up steps`,
    );
  }
  if (problems.length === 0 && config.shutdownDelayMs > 0 && config.shutdownDelayMs >= config.shutdownTimeoutMs) {
    problems.push(
      `SHUTDOWN_DELAY_MS=${config.shutdownDelayMs} must be less than SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs}: the delay is part of the shutdown deadline`,
    );
  }
  if (problems.length === 0 && config.drift.moderate >= config.drift.drifted) {
    problems.push(
      `DRIFT_MODERATE_PSI=${config.drift.moderate} must be less than DRIFT_PSI=${config.drift.drifted}: stable < moderate < drifted`,
    );
  }
  if (problems.length === 0 && config.drift.minCount > config.drift.window) {
    problems.push(
      `DRIFT_MIN_COUNT=${config.drift.minCount} must not exceed DRIFT_WINDOW=${config.drift.window}, or no PSI would ever be reported`,
    );
  }
  if (config.feedbackToken !== undefined && config.feedbackToken.length < 16) {
    problems.push(
      'FEEDBACK_TOKEN is shorter than 16 characters: use a long random secret (e.g. `openssl rand -hex 32`)',
    );
  }
  for (const [name, token] of [['ADMIN_TOKEN', config.adminToken]] as const) {
    if (token !== undefined && token.length < 16) {
      problems.push(`${name} is shorter than 16 characters: use a long random secret (e.g. \`openssl rand -hex 32\`)`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

const MAX_API_KEYS = 64;

/**
 * Parses API_KEYS (`name:key,name:key`). The name is what metrics and logs show, so it must be a short
 * identifier, and there are at most MAX_API_KEYS of them (bounded label cardinality). Problems never
 * quote a key.
 */
export function parseApiKeys(value: string, problems: string[]): Map<string, string> {
  const keys = new Map<string, string>();
  if (value === '') return keys;
  const seen = new Set<string>();
  const pairs = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (pairs.length > MAX_API_KEYS) {
    problems.push(
      `API_KEYS has ${pairs.length} keys: at most ${MAX_API_KEYS} are allowed (each becomes a metrics label)`,
    );
  }
  pairs.forEach((pair, i) => {
    const colon = pair.indexOf(':');
    const name = colon > 0 ? pair.slice(0, colon) : '';
    const key = colon > 0 ? pair.slice(colon + 1) : '';
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(name)) {
      problems.push(
        `API_KEYS entry ${i + 1} has no valid name: write name:key, the name 1-32 of letters, digits, '_', '.', '-'`,
      );
      return;
    }
    if (key.length < 16 || /\s/.test(key)) {
      problems.push(
        `API_KEYS entry "${name}" has a key shorter than 16 characters or with spaces: use a long random secret (e.g. \`openssl rand -hex 32\`)`,
      );
      return;
    }
    if (keys.has(name)) problems.push(`API_KEYS names "${name}" twice: give every key its own name`);
    if (seen.has(key))
      problems.push(`API_KEYS entry "${name}" repeats another entry's key: give every client its own key`);
    seen.add(key);
    keys.set(name, key);
  });
  return keys;
}

/** Parses CORS_ORIGINS: `*`, or comma-separated origins such as https://app.example.com. */
export function parseOrigins(value: string, problems: string[]): string[] {
  if (value === '') return [];
  const origins = value
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  for (const origin of origins) {
    if (origin === '*') continue;
    let ok = false;
    try {
      const u = new URL(origin);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === origin.replace(/\/$/, '');
    } catch {}
    if (!ok) {
      problems.push(
        `CORS_ORIGINS has ${JSON.stringify(origin)}, which is not an origin: write scheme://host[:port] such as https://app.example.com, or *`,
      );
    }
  }
  return origins.map((o) => (o === '*' ? o : o.replace(/\/$/, '')));
}

/** Parses STORE_URL: `off`, `sqlite:<path>` or `postgres(ql)://…`. */
export function parseStoreUrl(url: string, problems: string[]): Pick<StoreConfig, 'url' | 'kind' | 'sqlitePath'> {
  const fix = 'set it to sqlite:./data/msg-cls.db, postgres://user:password@host:5432/database, or off';
  if (url.toLowerCase() === 'off') return { url: 'off', kind: 'off', sqlitePath: '' };
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path and sqlite://./rel
    if (path === '' || path === ':memory:') {
      problems.push(`STORE_URL=${JSON.stringify(url)} names no file: ${fix}`);
    }
    return { url, kind: 'sqlite', sqlitePath: path };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    try {
      const u = new URL(url);
      // A Unix socket is named by ?host=/dir (or a percent-encoded path as the host), as libpq does.
      const host = u.hostname || u.searchParams.get('host') || '';
      if (host === '' || u.pathname.length <= 1) throw new Error('no host or database');
    } catch {
      problems.push(`STORE_URL is not a valid PostgreSQL URL (it needs a host and a database): ${fix}`);
    }
    return { url, kind: 'postgres', sqlitePath: '' };
  }
  // The URL may hold a password: quote only its scheme.
  problems.push(`STORE_URL has an unknown scheme "${url.split(':', 1)[0]}": ${fix}`);
  return { url: 'off', kind: 'off', sqlitePath: '' };
}

// Query parameters shown as they are in /health and logs; every other value (password, sslpassword,
// sslkey, sslcert, any option added later) is masked: an unknown parameter may be a secret.
const SHOWN_PARAMS = new Set([
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'application_name',
  'sslmode',
  'connect_timeout',
  'target_session_attrs',
  'options',
]);

/** The store URL with every password and other secret-bearing value replaced, for logs and /health. */
export function redactStoreUrl(url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url)) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    let masked = false;
    for (const key of [...u.searchParams.keys()]) {
      if (!SHOWN_PARAMS.has(key.toLowerCase())) {
        u.searchParams.set(key, '***');
        masked = true;
      }
    }
    // URLSearchParams re-encodes the query (host=/x becomes host=%2Fx): keep the original when nothing changed.
    return masked ? u.toString().replaceAll('%2A', '*') : url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  } catch {
    return 'postgres://(unparseable)';
  }
}

function mlflowConfig(
  raw: (name: string) => string,
  int: (name: string, min: number, max: number) => number,
  problems: string[],
): MlflowConfig | undefined {
  const timeoutMs = int('MLFLOW_REQUEST_TIMEOUT_MS', 100, 3_600_000);
  const trackingUri = raw('MLFLOW_TRACKING_URI');
  if (trackingUri === '') return undefined;
  let url: URL | undefined;
  try {
    url = new URL(trackingUri);
  } catch {}
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    // Never echo the value: it may carry user:pass@.
    problems.push(
      "MLFLOW_TRACKING_URI is not an http:// or https:// URL: set it to the tracking server's address, such as http://mlflow:5000 (msg-cls talks to the server; file: and databricks URIs are not supported)",
    );
  }
  const username = raw('MLFLOW_TRACKING_USERNAME') || undefined;
  const password = raw('MLFLOW_TRACKING_PASSWORD') || undefined;
  if (password !== undefined && username === undefined) {
    problems.push(
      'MLFLOW_TRACKING_PASSWORD is set without MLFLOW_TRACKING_USERNAME: set both (basic auth), or use MLFLOW_TRACKING_TOKEN',
    );
  }
  return { trackingUri, token: raw('MLFLOW_TRACKING_TOKEN') || undefined, username, password, timeoutMs };
}
