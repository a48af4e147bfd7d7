// Whether the store works, as every part that uses it last saw it: the writer, feedback, the quality
// queries and retention report each success and failure here; /health and msgcls_store_up read it.
// Records dropped because the writer does not keep up also make it degraded — while that goes on and
// for DROP_DEGRADED_MS after the last drop — even though every operation succeeds.

export type StoreStatus = 'ok' | 'degraded';

export const DROP_DEGRADED_MS = 60_000;

export type StoreHealth = {
  readonly status: StoreStatus;
  /** False while operations on the store fail (status is also degraded while records are dropped). */
  readonly up: boolean;
  /** What failed last and why (no user data: request ids and SQL parameters are not in it). */
  readonly lastError: { what: string; message: string; at: string } | undefined;
  readonly lastOkAt: string | undefined;
  ok(): void;
  failed(what: string, err: unknown): void;
  /** Prediction records were dropped (the queue was full): degraded for DROP_DEGRADED_MS. */
  dropped(reason: string, records: number): void;
  /** Called on each change between ok and degraded (for one log line per change, not one per failure). */
  onChange(fn: (status: StoreStatus, err?: unknown) => void): void;
};

export function createStoreHealth(dropDegradedMs = DROP_DEGRADED_MS): StoreHealth {
  let failing = false;
  let droppingUntil = 0;
  let droppedSince = 0;
  let drop: { reason: string; at: number } | undefined;
  let failedAt = 0;
  let lastError: StoreHealth['lastError'];
  let lastOkAt: string | undefined;
  const listeners: ((status: StoreStatus, err?: unknown) => void)[] = [];
  const status = (): StoreStatus => (failing || Date.now() < droppingUntil ? 'degraded' : 'ok');
  const notify = (before: StoreStatus, err?: unknown) => {
    const now = status();
    if (now !== before) for (const fn of listeners) fn(now, err);
  };
  return {
    get status() {
      return status();
    },
    get up() {
      return !failing;
    },
    get lastError() {
      // What makes it degraded now: a failing store first; else records dropped lately; else the last failure.
      if (failing || drop === undefined || (Date.now() >= droppingUntil && drop.at < failedAt)) return lastError;
      return {
        what: `records dropped (${drop.reason})`,
        message: `${droppedSince} prediction records dropped since ${new Date(drop.at).toISOString()}: the store's writer does not keep up with the predictions (or the store is down); see msgcls_store_dropped_records_total`,
        at: new Date(drop.at).toISOString(),
      };
    },
    get lastOkAt() {
      return lastOkAt;
    },
    ok() {
      lastOkAt = new Date().toISOString();
      if (!failing) return;
      const before = status();
      failing = false;
      notify(before);
    },
    failed(what, err) {
      const before = status();
      const message = String((err as Error)?.message ?? err).slice(0, 300);
      failedAt = Date.now();
      lastError = { what, message, at: new Date(failedAt).toISOString() };
      failing = true;
      notify(before, err);
    },
    dropped(reason, records) {
      // Called for every dropped record, on the request path: cheap unless a burst starts.
      const now = Date.now();
      const during = now < droppingUntil;
      droppingUntil = now + dropDegradedMs;
      if (during) {
        droppedSince += records;
        return;
      }
      const before = status();
      droppedSince = records;
      drop = { reason, at: now };
      notify(before, new Error(`prediction records dropped (${reason})`));
    },
    onChange(fn) {
      listeners.push(fn);
    },
  };
}
