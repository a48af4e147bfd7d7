// STORE_URL → a Store. SQLite opens (and migrates) synchronously: a failure there is a configuration
// problem and stops the start. PostgreSQL may merely be unreachable for a moment (a restart, a deploy
// of the database): then the service starts anyway with the store degraded, and the writer migrates
// and writes as soon as the database answers. Wrong credentials or a missing database stop the start.

import { redactStoreUrl, type StoreConfig } from '../config.ts';
import { openSqliteStore } from './sqlite.ts';
import { type Store, StoreConfigError } from './types.ts';

export async function openStore(
  config: Pick<StoreConfig, 'url' | 'kind' | 'sqlitePath' | 'poolSize'>,
  onIdleError?: (err: Error) => void,
): Promise<Store | undefined> {
  switch (config.kind) {
    case 'off':
      return undefined;
    case 'sqlite':
      return openSqliteStore(config.sqlitePath);
    case 'postgres': {
      // Loaded only when used: importing pg costs ~20 ms of every start-up otherwise.
      const { openPostgresStore } = await import('./postgres.ts');
      return openPostgresStore(config.url, redactStoreUrl(config.url), { poolSize: config.poolSize, onIdleError });
    }
  }
}

/** Migrates at start: true when done; false when the store is unreachable for now (retried later). */
export async function migrateAtStart(
  store: Store,
): Promise<{ ok: true; applied: number[]; version: number } | { ok: false; err: unknown }> {
  try {
    return { ok: true, ...(await store.migrate()) };
  } catch (err) {
    if (err instanceof StoreConfigError || store.backend === 'sqlite') {
      throw err instanceof StoreConfigError
        ? err
        : new StoreConfigError(
            `cannot migrate the SQLite store ${store.location}: ${(err as Error).message}; fix or remove the file, or set STORE_URL to another file`,
            err,
          );
    }
    return { ok: false, err };
  }
}
