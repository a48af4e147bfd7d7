// Structured JSON logs on stdout (pino), one object per line, each tagged with its type and how long
// it may be kept — the log policy of the service:
//
//   log_type     retention_days  content
//   access       30              method, route, status, latency, request id, trace id; client IP only as a keyed hash
//   business     90              prediction outcome; user id only as a keyed hash
//   ml_payload   14              anonymised text, label, probability, model version (sampled)
//   exception    90              error type and stack; no payload
//   service      30              start-up, model loads, shutdown
//
// Raw user text never reaches a log: only `ml_payload` carries text, and only after `anonymize`.
// The destination is asynchronous, so writing a line never blocks the request path.

import { createHmac, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pino, { type DestinationStream, type Logger } from 'pino';
import { SERVICE_NAME, SERVICE_VERSION } from '../version.ts';
import { anonymize } from './anonymize.ts';

export const RETENTION_DAYS = { access: 30, business: 90, ml_payload: 14, exception: 90, service: 30 } as const;
export type LogType = keyof typeof RETENTION_DAYS;

export type LoggingOptions = {
  level: string;
  /** Secret for the keyed hashes of client IPs and user ids; random per process when not set. */
  hashKey: string | undefined;
  /** Share of predicted texts logged (anonymised) as ml_payload, 0..1. */
  payloadSampleRate: number;
  /** Longest anonymised text kept in an ml_payload line. */
  payloadMaxChars: number;
  /** Share of business lines written, 0..1 (BUSINESS_LOG_SAMPLE_RATE); all when not given. */
  businessSampleRate?: number;
  /** Where lines go; stdout (asynchronously) when not given. */
  destination?: DestinationStream;
};

/** Flat fields of a per-request line; undefined ones are left out. */
export type LineFields = Record<string, string | number | boolean | undefined | Record<string, number>>;

export type Logs = {
  root: Logger;
  /**
   * The two lines written for every request (access, business), written without pino's generic
   * serializer — the same format as pino's lines, at a tenth of the cost. Undefined when info is off.
   */
  accessLine: ((fields: LineFields) => void) | undefined;
  businessLine: ((fields: LineFields) => void) | undefined;
  service: Logger;
  business: Logger;
  payload: Logger;
  exception: Logger;
  /** Keyed hash (HMAC-SHA256, 16 hex chars) for identifiers that must stay joinable but not readable. */
  hash(value: string): string;
  /** Cached `hash` for client IPs, which repeat from request to request. */
  hashIp(ip: string): string;
  /** Whether this prediction's text should be logged as ml_payload (sampling). */
  samplePayload(): boolean;
  /** The text as it may appear in a log: anonymised and truncated. */
  safeText(text: string): string;
  /** Resolves once buffered lines are written; call before exiting. */
  flush(): Promise<void>;
  /** Lines dropped because stdout did not keep up (see stdoutDestination). */
  droppedLines(): number;
};

const MAX_ERROR_MESSAGE = 300;
const ECHO_WINDOW = 12;
const MAX_ECHO_TEXTS = 16;

/**
 * Replaces every stretch of `message` that quotes one of `texts` (any run of 12+ characters found in a
 * text) with <TEXT>. Error messages written by careless code can echo their input; this keeps a
 * request's text out of the exception log even then. Runs only when logging an error.
 */
export function scrubEchoes(message: string, texts: readonly string[]): string {
  const covered = new Uint8Array(message.length);
  let any = false;
  for (const text of texts.slice(0, MAX_ECHO_TEXTS)) {
    if (text.length < ECHO_WINDOW) {
      if (text.length >= 4) {
        for (let i = message.indexOf(text); i >= 0; i = message.indexOf(text, i + 1)) {
          covered.fill(1, i, i + text.length);
          any = true;
        }
      }
      continue;
    }
    for (let i = 0; i + ECHO_WINDOW <= message.length; i++) {
      if (text.includes(message.slice(i, i + ECHO_WINDOW))) {
        covered.fill(1, i, i + ECHO_WINDOW);
        any = true;
      }
    }
  }
  if (!any) return message;
  let out = '';
  for (let i = 0; i < message.length; i++) {
    if (!covered[i]) out += message[i];
    else if (i === 0 || !covered[i - 1]) out += '<TEXT>';
  }
  return out;
}

/**
 * An error as it may appear in a log: type, code, anonymised message and the stack frames — never the
 * raw message inside the stack's first line, which could quote user input.
 */
export function safeError(err: unknown, texts: readonly string[] = []): Record<string, unknown> {
  if (isSafe(err)) return err;
  const clean = (m: string) => anonymize(scrubEchoes(m.slice(0, MAX_ERROR_MESSAGE), texts));
  if (!(err instanceof Error)) return markSafe({ type: typeof err, message: clean(String(err)) });
  const frames = (err.stack ?? '')
    .split('\n')
    .filter((line) => line.startsWith('    at '))
    .join('\n');
  const out: Record<string, unknown> = {
    type: err.name,
    message: clean(err.message),
    stack: frames,
  };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (err.cause !== undefined) out.cause = safeError(err.cause, texts);
  return markSafe(out);
}

/**
 * An expected failure (a database that is down, a refused connection) as it may appear in a warning:
 * `safeError` without the stack. The stack of an operational failure tells nothing, and a line with
 * one reads as a bug.
 */
export function errorSummary(err: unknown): Record<string, unknown> {
  const { stack: _stack, ...rest } = safeError(err);
  return markSafe(rest);
}

// Marks an already-cleaned error so that the `err` serializer (the safety net for every `{ err }`
// logged) passes it through instead of cleaning it twice.
const SAFE = Symbol('msgcls.safeError');

function markSafe(obj: Record<string, unknown>): Record<string, unknown> {
  Object.defineProperty(obj, SAFE, { value: true, enumerable: false });
  return obj;
}

function isSafe(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SAFE] === true;
}

/**
 * Gathers log lines for up to BATCH_MS (or BATCH_BYTES) and hands them to the asynchronous stdout
 * writer as one chunk. Why: every write is a round trip through libuv's thread pool, and sonic-boom
 * re-measures its whole pending buffer on each one; a write per line, or even per event-loop turn,
 * cost 25–50 µs of CPU per request under load. A line waits at most BATCH_MS; nothing here blocks.
 */
type BatchTarget = { write(chunk: string): boolean; flush?(cb: (err?: Error) => void): void; flushSync?(): void };

export class LineBatcher {
  private lines: string[] = [];
  private bytes = 0;
  private scheduled = false;
  private readonly target: BatchTarget;
  constructor(target: BatchTarget) {
    this.target = target;
  }
  write(line: string): boolean {
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= BATCH_BYTES) this.drain();
    else if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(this.drain, BATCH_MS).unref();
    }
    return true;
  }
  readonly drain = (): void => {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const chunk = this.lines.length === 1 ? this.lines[0] : this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    this.target.write(chunk);
  };
  flush(cb: (err?: Error) => void): void {
    this.drain();
    if (this.target.flush) this.target.flush(cb);
    else cb();
  }
  /**
   * Writes everything out before returning — the only way out of a blocked main thread (the watchdog's
   * exit hook), where the batch timer and the asynchronous writer never get another turn.
   */
  flushSync(): void {
    this.drain();
    this.target.flushSync?.();
  }
}

const BATCH_BYTES = 64 * 1024;
const BATCH_MS = 20;
const STDOUT_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * The asynchronous writer behind the logs. When whatever reads stdout stops keeping up (a stalled
 * log shipper, a full pipe), at most `maxBytes` wait in memory; beyond that, chunks are dropped and
 * counted (msgcls_log_lines_dropped_total) instead of growing the heap until the process dies.
 */
export function stdoutDestination(fd: number, maxBytes: number, onDrop: (lines: number) => void) {
  const dest = pino.destination({ dest: fd, sync: false, maxLength: maxBytes });
  dest.on('drop', (chunk: string) => {
    let lines = 0;
    for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) lines++;
    onDrop(lines);
  });
  return dest;
}

// pino's isoTime builds a Date and an ISO string for every line; at thousands of lines per second
// most lines share their millisecond, so the string is reused until the clock moves.
let lastMs = -1;
let lastTime = '';
function isoTimeCached(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/** `write`, called for a random share `rate` of the lines (all at 1, none at 0). */
function sampled(write: (fields: LineFields) => void, rate: number): ((fields: LineFields) => void) | undefined {
  if (rate >= 1) return write;
  if (rate <= 0) return undefined;
  return (fields) => {
    if (Math.random() < rate) write(fields);
  };
}

export function createLogs(opts: LoggingOptions): Logs {
  let dropped = 0;
  const destination =
    opts.destination ??
    new LineBatcher(
      stdoutDestination(1, STDOUT_MAX_BUFFER_BYTES, (lines) => {
        dropped += lines;
      }),
    );
  const base = { service: SERVICE_NAME, service_version: SERVICE_VERSION, pid: process.pid, hostname: hostname() };
  const root = pino(
    {
      level: opts.level,
      base,
      timestamp: isoTimeCached,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: (err: unknown) => safeError(err) },
    },
    destination,
  );
  const child = (type: LogType) => root.child({ log_type: type, retention_days: RETENTION_DAYS[type] });
  const infoOn = root.isLevelEnabled('info');
  const line = (type: LogType) => {
    const bindings = JSON.stringify({ ...base, log_type: type, retention_days: RETENTION_DAYS[type] }).slice(1, -1);
    // One native JSON.stringify of the fields (undefined skipped, non-finite numbers as null, strings
    // escaped), spliced after the fixed prefix: ~40 % less CPU and far less garbage than a string
    // built field by field (the lines were the largest allocation per request: README, Performance).
    return (fields: LineFields) => {
      const json = JSON.stringify(fields);
      destination.write(
        json.length === 2
          ? `{"level":"info"${isoTimeCached()},${bindings}}\n`
          : `{"level":"info"${isoTimeCached()},${bindings},${json.slice(1)}\n`,
      );
    };
  };
  const key = opts.hashKey ?? randomBytes(32).toString('hex');
  const hash = (value: string) => createHmac('sha256', key).update(value).digest('hex').slice(0, 16);
  const ipCache = new Map<string, string>();
  return {
    root,
    accessLine: infoOn ? line('access') : undefined,
    businessLine: infoOn ? sampled(line('business'), opts.businessSampleRate ?? 1) : undefined,
    service: child('service'),
    business: child('business'),
    payload: child('ml_payload'),
    exception: child('exception'),
    hash,
    hashIp(ip) {
      let h = ipCache.get(ip);
      if (h === undefined) {
        if (ipCache.size >= 10_000) ipCache.clear();
        h = hash(ip);
        ipCache.set(ip, h);
      }
      return h;
    },
    samplePayload() {
      return opts.payloadSampleRate > 0 && Math.random() < opts.payloadSampleRate;
    },
    safeText(text) {
      // Anonymise first: truncating first could cut a card number or e-mail in half and hide it.
      const safe = anonymize(text);
      return safe.length > opts.payloadMaxChars ? safe.slice(0, opts.payloadMaxChars) : safe;
    },
    droppedLines: () => dropped,
    flush() {
      const dest = destination as { flush?: (cb: (err?: Error) => void) => void };
      if (typeof dest.flush !== 'function') return Promise.resolve();
      // Never wait forever (stdout may be a dead pipe); the lines are best effort at exit.
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, 1000);
        dest.flush?.(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
