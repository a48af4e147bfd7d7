// JSON logs on stdout through pino. The destination is asynchronous so that writing a log line
// never blocks the request path; `flushLogs` drains it before the process exits.

import pino, { type Logger } from 'pino';
import { SERVICE_NAME, SERVICE_VERSION } from '../version.ts';

let destination: pino.DestinationStream & { flushSync?: () => void } = process.stdout;

export function createLogger(level: string): Logger {
  const dest = pino.destination({ dest: 1, sync: false});
  destination = dest;
  return pino(
    {
      level,
      base: { service: SERVICE_NAME, service_version: SERVICE_VERSION, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/** Writes out buffered log lines; call before exiting. */
export function flushLogs(): void {
  try {
    destination.flushSync?.();
  } catch {
    // stdout already gone (e.g. EPIPE): nothing left to do.
  }
}
