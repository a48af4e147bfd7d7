// All configuration comes from the environment, is read here once at start, and is validated as a
// whole: the process either gets a complete, valid Config or stops with every problem listed.

export type Config = {
  port: number;
  host: string;
  registry: string;
  modelName: string;
  /** Alias to serve; ignored when `modelVersion` pins a version. */
  modelAlias: string;
  /** Exact version to serve, overriding the alias (e.g. to pin a rollback). */
  modelVersion: string | undefined;
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
  trustProxy: boolean;
  watchdogEventLoopLimitMs: number;
  watchdogModelLoadTimeoutMs: number;
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
  { name: 'MODEL_REGISTRY', default: './models', description: 'Directory of the local model registry.' },
  { name: 'MODEL_NAME', default: 'msg_cls', description: 'Registered model to serve.' },
  { name: 'MODEL_ALIAS', default: 'champion', description: 'Alias of the version to serve.' },
  {
    name: 'MODEL_VERSION',
    default: '',
    description: 'Serve this exact version instead of the alias (pin or roll back).',
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
    name: 'TRUST_PROXY',
    default: 'false',
    description:
      'Take the client IP from X-Forwarded-For (true behind a load balancer such as Fly.io, Cloud Run, an ingress).',
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

  const config: Config = {
    port: int('PORT', 0, 65535),
    host: raw('HOST'),
    registry: raw('MODEL_REGISTRY'),
    modelName: name('MODEL_NAME'),
    modelAlias: name('MODEL_ALIAS'),
    modelVersion,
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
    trustProxy: bool('TRUST_PROXY'),
    watchdogEventLoopLimitMs: int('WATCHDOG_EVENT_LOOP_LIMIT_MS', 0, 3_600_000),
    watchdogModelLoadTimeoutMs: int('WATCHDOG_MODEL_LOAD_TIMEOUT_MS', 0, 3_600_000),
  };
  if (config.watchdogEventLoopLimitMs > 0 && config.watchdogEventLoopLimitMs < 100) {
    problems.push(
      `WATCHDOG_EVENT_LOOP_LIMIT_MS=${config.watchdogEventLoopLimitMs} is too small: a garbage-collection pause could trip it; use at least 100, or 0 to turn the watchdog off`,
    );
  }
  if (problems.length === 0 && config.shutdownDelayMs > 0 && config.shutdownDelayMs >= config.shutdownTimeoutMs) {
    problems.push(
      `SHUTDOWN_DELAY_MS=${config.shutdownDelayMs} must be less than SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs}: the delay is part of the shutdown deadline`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
