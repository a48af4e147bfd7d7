// The schema cache (src/http/schema-cache.ts): validators and serializers loaded from disk answer exactly
// as Fastify's own compilers do — on the first start (the cache is written) and on the next ones (read
// back, Ajv not even loaded) — and a damaged cache file is only a miss.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { createState } from '../../src/http/state.ts';
import { loadModel } from '../../src/model/slot.ts';
import { createLogs } from '../../src/monitoring/logging.ts';
import { createMetrics } from '../../src/monitoring/metrics.ts';
import { DEFAULT_REGISTRY, LogCapture, ROOT } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'msgcls-schema-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const V1 = join(DEFAULT_REGISTRY, 'msg_cls', 'versions', '1');

async function app(schemaCacheDir: string | undefined): Promise<FastifyInstance> {
  const config = loadConfig({ STORE_URL: 'off', MAX_BATCH: '4', MAX_TEXT_CHARS: '50' });
  const logs = createLogs({
    level: 'silent',
    hashKey: 'k',
    payloadSampleRate: 0,
    payloadMaxChars: 100,
    destination: new LogCapture(),
  });
  const state = createState();
  state.model = await loadModel({ name: 'msg_cls', version: '1', alias: 'champion', dir: V1 });
  state.phase = 'ready';
  const a = await buildApp({ config, state, logs, metrics: createMetrics(), schemaCacheDir });
  await a.ready();
  return a;
}

const long = 'x'.repeat(51);
const REQUESTS: { method: 'GET' | 'HEAD' | 'POST'; url: string; body?: string }[] = [
  ...[
    '{"text": "win a free prize now"}',
    '{"texts": ["hello", "cheap pills", "meeting at 10"]}',
    '{}',
    '{"txt": "hi"}',
    '{"text": 123}',
    '{"text": null}',
    '{"text": ""}',
    '{"text": " \\u200b "}',
    `{"text": "${long}"}`,
    '{"text": "a", "texts": ["b"]}',
    '{"texts": []}',
    '{"texts": [1]}',
    '{"texts": ["a", "b", "c", "d", "e"]}',
    `{"texts": ["ok", "${long}"]}`,
    '{"text": "a", "extra": 1}',
    '[1, 2]',
    'null',
    '"just a string"',
  ].map((body) => ({ method: 'POST' as const, url: '/predict', body })),
  ...[
    '{}',
    '{"prediction_id": "x"}',
    '{"prediction_id": "x", "label": "spam"}',
    '{"prediction_id": "x", "request_id": "y", "label": "spam"}',
    '{"items": []}',
    '{"items": [{}]}',
    '{"items": [{"prediction_id": "a", "request_id": "b", "label": "spam"}]}',
    '{"items": [{"prediction_id": 1, "label": "spam"}]}',
  ].map((body) => ({ method: 'POST' as const, url: '/feedback', body })),
  { method: 'POST', url: '/v2/models/msg_cls/infer', body: '{"inputs": []}' },
  {
    method: 'POST',
    url: '/v2/models/msg_cls/infer',
    body: '{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["free money"]}]}',
  },
  ...['/alive', '/ready', '/health', '/version', '/monitoring/drift', '/monitoring/drift?scope=fleet'].flatMap(
    (url) => [
      { method: 'GET' as const, url },
      { method: 'HEAD' as const, url },
    ],
  ),
  { method: 'GET', url: '/monitoring/drift?scope=nope' },
  { method: 'GET', url: '/monitoring/quality' },
  { method: 'GET', url: '/monitoring/rollout' },
  { method: 'GET', url: '/v2' },
  { method: 'GET', url: '/v2/models/msg_cls' },
  { method: 'GET', url: '/v2/health/ready' },
];

/** The answers, without what differs from one request to the next (ids, times, durations). */
async function answers(a: FastifyInstance): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const r of REQUESTS) {
    const res = await a.inject({
      method: r.method,
      url: r.url,
      payload: r.body,
      headers: r.body === undefined ? {} : { 'content-type': 'application/json' },
    });
    const body = res.body === '' ? '' : JSON.parse(res.body, (k, v) => (/(_id|_at|_s|_ms|^id)$/.test(k) ? '…' : v));
    out.push({ request: `${r.method} ${r.url} ${r.body ?? ''}`, status: res.statusCode, body });
  }
  return out;
}

test('validators and serializers from the cache answer as Fastify’s own: on the first start and the next', async () => {
  const cache = join(dir, 'cache');
  const plain = await app(undefined);
  const expected = await answers(plain);
  await plain.close();

  const first = await app(cache);
  assert.deepEqual(await answers(first), expected);
  await first.close();
  const files = readdirSync(cache);
  assert.ok(
    files.some((f) => f.startsWith('validator-')) && files.some((f) => f.startsWith('serializer-')),
    `${files}`,
  );

  const next = await app(cache);
  assert.deepEqual(await answers(next), expected);
  await next.close();
  assert.deepEqual(readdirSync(cache).sort(), files.sort(), 'the next start writes nothing new');
});

test('a damaged cache file is a miss: compiled and written again', async () => {
  const cache = join(dir, 'damaged');
  await (await app(cache)).close();
  const files = readdirSync(cache);
  files.forEach((f, i) => {
    writeFileSync(join(cache, f), i % 2 ? 'module.exports = (((' : 'module.exports = 42');
  });
  const plain = await app(undefined);
  const expected = await answers(plain);
  await plain.close();
  const again = await app(cache);
  assert.deepEqual(await answers(again), expected);
  await again.close();
  for (const f of files) assert.doesNotMatch(readFileSync(join(cache, f), 'utf8'), /^module\.exports = (\(\(\(|42)$/);
});

test('with a warm cache, building the app loads neither Ajv nor the serializer compiler', async () => {
  const cache = join(dir, 'warm');
  const script = `
    import { createRequire } from 'node:module';
    import { buildApp } from './src/http/app.ts';
    import { createState } from './src/http/state.ts';
    import { loadConfig } from './src/config.ts';
    import { createLogs } from './src/monitoring/logging.ts';
    const logs = createLogs({ level: 'silent', hashKey: 'k', payloadSampleRate: 0, payloadMaxChars: 100 });
    const app = await buildApp({ config: loadConfig({ STORE_URL: 'off' }), state: createState(), logs, schemaCacheDir: ${JSON.stringify(cache)} });
    await app.ready();
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => /node_modules\\/(ajv|ajv-formats|@fastify\\/ajv-compiler|@fastify\\/fast-json-stringify-compiler)\\/(?!package\\.json)/.test(k) && !k.includes('/runtime/'));
    console.log(JSON.stringify(loaded));
    await app.close();
  `;
  const run = async () =>
    JSON.parse(
      (await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT })).stdout,
    );
  assert.ok((await run()).length > 0, 'the first build compiles, with Ajv');
  assert.deepEqual(await run(), []);
});
