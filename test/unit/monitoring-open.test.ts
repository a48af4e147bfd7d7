// The store opens in the background (src/quality/monitoring.ts): startModelMonitoring returns at once and
// `opened` says when the store is there — or why the start must fail. src/server.ts awaits it before it
// listens (test/http/startup.test.ts: a wrong STORE_URL fails the start without listening).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { createLogs } from '../../src/monitoring/logging.ts';
import { createMetrics } from '../../src/monitoring/metrics.ts';
import { startModelMonitoring } from '../../src/quality/monitoring.ts';
import { StoreConfigError } from '../../src/store/types.ts';
import { LogCapture } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'msgcls-monitoring-open-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const start = (storeUrl: string) => {
  const lines = new LogCapture();
  const logs = createLogs({
    level: 'info',
    hashKey: 'k',
    payloadSampleRate: 0,
    payloadMaxChars: 100,
    destination: lines,
  });
  const metrics = createMetrics();
  return { monitoring: startModelMonitoring(loadConfig({ STORE_URL: storeUrl }), { logs, metrics }), metrics };
};

test('returns before the store is open; once opened, the store, its writer and its metrics are there', async () => {
  const { monitoring, metrics } = start(`sqlite:${join(dir, 'a.db')}`);
  const storeNow = () => monitoring.store; // read anew: TypeScript would keep the first read's narrowing
  assert.equal(storeNow(), undefined);
  await monitoring.opened;
  assert.equal(storeNow()?.backend, 'sqlite');
  assert.ok(monitoring.writer);
  assert.equal(monitoring.summary().status, 'ok');
  assert.match(await metrics.render(), /^msgcls_store_up\{backend="sqlite"\} 1$/m);
  await monitoring.close(1000);
});

test('a store that cannot be opened or migrated rejects `opened` with a configuration error; close() still works', async () => {
  const notADatabase = join(dir, 'garbage.db');
  writeFileSync(notADatabase, 'this is not a SQLite file, not even its header '.repeat(100));
  for (const url of ['sqlite:/proc/nope/x.db', `sqlite:${notADatabase}`]) {
    const { monitoring } = start(url);
    await assert.rejects(monitoring.opened, StoreConfigError);
    await monitoring.close(0);
    assert.equal(monitoring.store, undefined);
  }
});

test('closing while the store still opens waits for it and closes it', async () => {
  const { monitoring } = start(`sqlite:${join(dir, 'b.db')}`);
  const closing = monitoring.close(1000);
  await monitoring.opened;
  await closing;
  await assert.rejects(() => (monitoring.store as NonNullable<typeof monitoring.store>).ping(), /closed/);
});

test('STORE_URL=off: opened resolves at once, with no store', async () => {
  const { monitoring } = start('off');
  await monitoring.opened;
  assert.equal(monitoring.store, undefined);
  assert.equal(monitoring.summary().status, 'off');
  await monitoring.close(0);
});
