import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONFIG_VARS, ConfigError, loadConfig } from '../../src/config.ts';

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
});
