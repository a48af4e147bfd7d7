// Parsing of the overload and access variables: API_KEYS, CORS_ORIGINS, timeouts, METRICS_PORT.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.join('\n');
  }
  assert.fail('the configuration was accepted');
}

const KEY = 'k'.repeat(16);

describe('API_KEYS', () => {
  test('name:key pairs, spaces around them ignored', () => {
    const keys = loadConfig({ API_KEYS: ` web:${KEY}1 , batch-job:${KEY}2 ` }).access.apiKeys;
    assert.deepEqual(
      [...keys],
      [
        ['web', `${KEY}1`],
        ['batch-job', `${KEY}2`],
      ],
    );
    assert.equal(loadConfig({}).access.apiKeys.size, 0);
  });

  test('problems name the entry, never quote a key', () => {
    const secret = 'short-secret';
    const all = problemsOf({ API_KEYS: `a:${secret},${KEY}x,b c:${KEY}y,d:${KEY}z,d:${KEY}w,e:${KEY}z` });
    assert.match(all, /API_KEYS entry "a" has a key shorter than 16 characters/);
    assert.match(all, /API_KEYS entry 2 has no valid name/);
    assert.match(all, /API_KEYS entry 3 has no valid name/);
    assert.match(all, /API_KEYS names "d" twice/);
    assert.match(all, /API_KEYS entry "e" repeats another entry's key/);
    for (const k of [secret, `${KEY}x`, `${KEY}z`]) assert.ok(!all.includes(k), 'a key in a problem');
  });

  test('at most 64 keys (each is a metrics label)', () => {
    const many = Array.from({ length: 65 }, (_, i) => `k${i}:${KEY}${i}`).join(',');
    assert.match(problemsOf({ API_KEYS: many }), /API_KEYS has 65 keys: at most 64/);
  });
});

describe('CORS_ORIGINS', () => {
  test('origins and *', () => {
    assert.deepEqual(loadConfig({ CORS_ORIGINS: 'https://a.example.com/, http://localhost:3000' }).access.corsOrigins, [
      'https://a.example.com',
      'http://localhost:3000',
    ]);
    assert.deepEqual(loadConfig({ CORS_ORIGINS: '*' }).access.corsOrigins, ['*']);
    assert.deepEqual(loadConfig({}).access.corsOrigins, []);
  });

  test('a path or a bare host is not an origin', () => {
    assert.match(problemsOf({ CORS_ORIGINS: 'https://a.example.com/app' }), /is not an origin: write scheme:\/\/host/);
    assert.match(problemsOf({ CORS_ORIGINS: 'a.example.com' }), /is not an origin/);
  });
});

describe('limits', () => {
  test('defaults', () => {
    const { limits, access } = loadConfig({});
    assert.equal(limits.headersTimeoutMs, 10_000);
    assert.equal(limits.requestTimeoutMs, 30_000);
    assert.equal(limits.maxConnections, 4096);
    assert.equal(limits.maxEventLoopDelayMs, 200);
    assert.equal(access.rateLimitMax, 0);
    assert.equal(access.metricsPort, 0);
  });

  test('the head timeout is part of the request timeout; the metrics port is not the main port', () => {
    assert.match(
      problemsOf({ HEADERS_TIMEOUT_MS: '40000', REQUEST_TIMEOUT_MS: '30000' }),
      /HEADERS_TIMEOUT_MS=40000 must not exceed REQUEST_TIMEOUT_MS=30000/,
    );
    assert.match(problemsOf({ PORT: '9000', METRICS_PORT: '9000' }), /METRICS_PORT=9000 is the main PORT/);
    assert.match(problemsOf({ ACCESS_LOG_SAMPLE_RATE: '2' }), /ACCESS_LOG_SAMPLE_RATE="2" is not valid/);
  });
});
