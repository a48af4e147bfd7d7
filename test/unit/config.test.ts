import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONFIG_VARS, ConfigError, loadConfig, redactStoreUrl } from '../../src/config.ts';

describe('loadConfig', () => {
  test('defaults match the documented table', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8000);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.registry, './models');
    assert.equal(c.modelName, 'msg_cls');
    assert.equal(c.modelAlias, 'champion');
    assert.equal(c.modelVersion, undefined);
    assert.equal(c.maxBatch, 256);
    assert.equal(c.maxTextChars, 20000);
    assert.equal(c.shutdownTimeoutMs, 10000);
    assert.equal(c.logLevel, 'info');
    for (const v of CONFIG_VARS) assert.ok(v.description.length > 10, `${v.name} is documented`);
  });

  test('reads values and trims blanks; empty means default', () => {
    const c = loadConfig({
      PORT: ' 9001 ',
      MODEL_NAME: 'other',
      MODEL_VERSION: '3',
      MAX_BATCH: '',
      LOG_LEVEL: 'DEBUG',
    });
    assert.equal(c.port, 9001);
    assert.equal(c.modelName, 'other');
    assert.equal(c.modelVersion, '3');
    assert.equal(c.maxBatch, 256);
    assert.equal(c.logLevel, 'debug');
  });

  test('collects every problem with what to do', () => {
    let problems: string[] = [];
    assert.throws(
      () => loadConfig({ PORT: '80a', MAX_BATCH: '0', MODEL_NAME: '../etc', MODEL_VERSION: 'v2', LOG_LEVEL: 'loud' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        problems = err.problems;
        return true;
      },
    );
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(problems.join('\n'), /PORT="80a" is not valid: set it to a whole number from 0 to 65535/);
    assert.match(problems.join('\n'), /MAX_BATCH="0"/);
    assert.match(problems.join('\n'), /MODEL_NAME="..\/etc"/);
    assert.match(problems.join('\n'), /MODEL_VERSION="v2"/);
    assert.match(problems.join('\n'), /LOG_LEVEL="loud"/);
  });

  test('rejects out-of-range port and a shutdown delay beyond the deadline', () => {
    assert.throws(() => loadConfig({ PORT: '70000' }), /PORT="70000"/);
    assert.throws(() => loadConfig({ PORT: '-1' }), /PORT="-1"/);
    assert.throws(
      () => loadConfig({ SHUTDOWN_DELAY_MS: '5000', SHUTDOWN_TIMEOUT_MS: '5000' }),
      /SHUTDOWN_DELAY_MS=5000 must be less/,
    );
  });

  test('store, feedback, quality and drift defaults', () => {
    const c = loadConfig({});
    assert.deepEqual(
      { url: c.store.url, kind: c.store.kind, path: c.store.sqlitePath, text: c.store.storeText },
      { url: 'sqlite:./data/msg-cls.db', kind: 'sqlite', path: './data/msg-cls.db', text: false },
    );
    assert.deepEqual(c.store.retention, {
      payloadDays: 14,
      predictionsDays: 90,
      feedbackDays: 90,
      intervalS: 3600,
      batch: 1000,
    });
    assert.equal(c.feedbackToken, undefined);
    assert.deepEqual(c.quality, { windowMinutes: 1440, windowCount: 1000, refreshS: 30 });
    assert.deepEqual(c.drift, {
      window: 1000,
      maxAgeMinutes: 1440,
      minCount: 100,
      moderate: 0.1,
      drifted: 0.2,
      referenceCount: 1000,
    });
    assert.equal(c.modelPollSeconds, 30);
  });

  test('STORE_URL forms', () => {
    assert.equal(loadConfig({ STORE_URL: 'OFF' }).store.kind, 'off');
    assert.equal(loadConfig({ STORE_URL: 'sqlite:///var/lib/msg-cls/x.db' }).store.sqlitePath, '/var/lib/msg-cls/x.db');
    assert.equal(loadConfig({ STORE_URL: 'sqlite:rel.db' }).store.sqlitePath, 'rel.db');
    const pg = loadConfig({ STORE_URL: 'postgres://u:secret@db:5432/msgcls' }).store;
    assert.equal(pg.kind, 'postgres');
    assert.equal(redactStoreUrl(pg.url), 'postgres://u:***@db:5432/msgcls');
  });

  test('store and drift problems say what to set, without echoing a password', () => {
    let problems: string[] = [];
    assert.throws(
      () =>
        loadConfig({
          STORE_URL: 'mysql://root:hunter2@db/x',
          RETENTION_PAYLOAD_DAYS: '30',
          DRIFT_PSI: 'high',
          FEEDBACK_TOKEN: 'short',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        problems = err.problems;
        return true;
      },
    );
    const all = problems.join('\n');
    assert.match(all, /STORE_URL has an unknown scheme "mysql": set it to sqlite:/);
    assert.doesNotMatch(all, /hunter2/);
    assert.match(all, /RETENTION_PAYLOAD_DAYS="30" is not valid: set it to a whole number from 1 to 14/);
    assert.match(all, /DRIFT_PSI="high"/);
    assert.match(all, /FEEDBACK_TOKEN is shorter than 16 characters/);
    assert.throws(() => loadConfig({ STORE_URL: 'postgres://' }), /STORE_URL is not a valid PostgreSQL URL/);
    assert.throws(() => loadConfig({ STORE_URL: 'sqlite:' }), /STORE_URL="sqlite:" names no file/);
    assert.throws(
      () => loadConfig({ DRIFT_MODERATE_PSI: '0.3' }),
      /DRIFT_MODERATE_PSI=0.3 must be less than DRIFT_PSI=0.2/,
    );
    assert.throws(
      () => loadConfig({ DRIFT_MIN_COUNT: '2000' }),
      /DRIFT_MIN_COUNT=2000 must not exceed DRIFT_WINDOW=1000/,
    );
  });
});
