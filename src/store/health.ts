// Whether the store works, as every part that uses it last saw it: the writer, feedback, the quality
// queries and retention report each success and failure here; /health and msgcls_store_up read it.

export type StoreStatus = 'ok' | 'degraded';

export type StoreHealth = {
  readonly status: StoreStatus;
  /** What failed last and why (no user data: request ids and SQL parameters are not in it). */
  readonly lastError: { what: string; message: string; at: string } | undefined;
  readonly lastOkAt: string | undefined;
  ok(): void;
  failed(what: string, err: unknown): void;
  /** Called on each change between ok and degraded (for one log line per change, not one per failure). */
  onChange(fn: (status: StoreStatus, err?: unknown) => void): void;
};

export function createStoreHealth(): StoreHealth {
  let status: StoreStatus = 'ok';
  let lastError: StoreHealth['lastError'];
  let lastOkAt: string | undefined;
  const listeners: ((status: StoreStatus, err?: unknown) => void)[] = [];
  return {
    get status() {
      return status;
    },
    get lastError() {
      return lastError;
    },
    get lastOkAt() {
      return lastOkAt;
    },
    ok() {
      lastOkAt = new Date().toISOString();
      if (status !== 'ok') {
        status = 'ok';
        for (const fn of listeners) fn(status);
      }
    },
    failed(what, err) {
      const message = String((err as Error)?.message ?? err).slice(0, 300);
      lastError = { what, message, at: new Date().toISOString() };
      if (status !== 'degraded') {
        status = 'degraded';
        for (const fn of listeners) fn(status, err);
      }
    },
    onChange(fn) {
      listeners.push(fn);
    },
  };
}
