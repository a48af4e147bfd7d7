// Logs: one JSON object per line, each typed with its retention, and no raw user text anywhere —
// on the happy path and on every error path.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { createState } from '../../src/http/state.ts';
import { RETENTION_DAYS } from '../../src/monitoring/logging.ts';
import { createObservability } from '../../src/server.ts';
import { LogCapture, postJson, startTestServer, type TestServer } from '../helpers/server.ts';

const PII = {
  email: 'jane.roe@example.org',
  phone: '+1 (415) 555-0199',
  card: '4111 1111 1111 1111',
  iban: 'DE89 3704 0044 0532 0130 00',
  ip: '203.0.113.7',
  url: 'https://bank.example.com/login?user=jane&token=s3cr3t',
};
// Not personal data, but user text all the same: it may only appear in anonymised ml_payload lines.
const MARKER = 'Quixotically';
const TEXT = `${MARKER} mail ${PII.email} or call ${PII.phone}, card ${PII.card}, IBAN ${PII.iban}, from ${PII.ip}, see ${PII.url}`;

function assertClean(lines: string[]) {
  assert.ok(lines.length > 0);
  for (const line of lines) {
    for (const [kind, value] of Object.entries(PII)) assert.ok(!line.includes(value), `${kind} leaked into: ${line}`);
    assert.ok(!line.includes(TEXT), `raw text leaked into: ${line}`);
    const rec = JSON.parse(line);
    if (rec.log_type !== 'ml_payload')
      assert.ok(!line.includes(MARKER), `user text in a ${rec.log_type} line: ${line}`);
  }
}

let server: TestServer;
before(async () => {
  server = await startTestServer({ ML_PAYLOAD_SAMPLE_RATE: '1', MAX_TEXT_CHARS: '500', MAX_BODY_BYTES: '4096' });
});
after(() => server.close());

describe('logs', () => {
  test('every line is JSON with a log type and its retention', async () => {
    await postJson(`${server.url}/predict`, { text: 'hello there' }, { 'x-user-id': 'user-42' });
    await fetch(`${server.url}/nope`);
    const records = server.logs.records();
    const types = new Set(records.map((r) => r.log_type));
    for (const t of ['service', 'access', 'business', 'ml_payload']) assert.ok(types.has(t), `${t} lines are written`);
    for (const r of records) {
      assert.ok(Object.hasOwn(RETENTION_DAYS, r.log_type as string), `known log_type ${r.log_type}`);
      assert.equal(r.retention_days, RETENTION_DAYS[r.log_type as keyof typeof RETENTION_DAYS]);
    }
    assert.deepEqual(RETENTION_DAYS, { access: 30, business: 90, ml_payload: 14, exception: 90, service: 30 });
  });

  test('access lines have method, route, status, latency, request id and a hashed client IP', async () => {
    const res = await postJson(`${server.url}/predict`, { text: 'hi' }, { 'x-request-id': 'trace-me-1' });
    assert.equal(res.status, 200);
    const line = server.logs.records().find((r) => r.log_type === 'access' && r.request_id === 'trace-me-1');
    assert.ok(line);
    assert.equal(line.method, 'POST');
    assert.equal(line.route, '/predict');
    assert.equal(line.status, 200);
    assert.equal(typeof line.latency_ms, 'number');
    assert.match(line.client_ip_hash as string, /^[0-9a-f]{16}$/);
    assert.ok(!JSON.stringify(line).includes('127.0.0.1'));
  });

  test('business lines carry the outcome and only a hash of X-User-Id', async () => {
    await postJson(`${server.url}/predict`, { text: 'hello' }, { 'x-user-id': PII.email, 'x-request-id': 'biz-1' });
    const line = server.logs.records().find((r) => r.log_type === 'business' && r.request_id === 'biz-1');
    assert.ok(line);
    assert.equal(line.model_name, 'msg_cls');
    assert.ok(line.label === 'spam' || line.label === 'ham');
    assert.equal(typeof line.proba, 'number');
    assert.match(line.user_id_hash as string, /^[0-9a-f]{16}$/);
  });

  test('PII sent to /predict appears in no log line, on success and on every 4xx path', async () => {
    const url = `${server.url}/predict`;
    const h = { 'x-user-id': PII.email };
    assert.equal((await postJson(url, { text: TEXT }, h)).status, 200);
    assert.equal((await postJson(url, { texts: [TEXT, `${TEXT} again`] }, h)).status, 200);
    assert.equal((await postJson(url, `{"text": "${TEXT}"`, h)).status, 400); // malformed JSON
    assert.equal((await postJson(url, { text: 42, note: TEXT }, h)).status, 400);
    assert.equal((await postJson(url, { text: `${TEXT} `.repeat(4) }, h)).status, 413); // > MAX_TEXT_CHARS
    assert.equal((await postJson(url, { text: TEXT.repeat(30) }, h)).status, 413); // > MAX_BODY_BYTES
    assert.equal((await postJson(url, { texts: [TEXT, ''] }, h)).status, 400);
    const plain = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: TEXT });
    assert.equal(plain.status, 415);
    assert.equal((await fetch(`${server.url}/predict?email=${encodeURIComponent(PII.email)}`)).status, 405);
    assert.equal(
      (await fetch(`${server.url}/x/${encodeURIComponent(PII.email)}?q=${encodeURIComponent(TEXT)}`)).status,
      404,
    );

    const lines = server.logs.lines;
    assertClean(lines);
    const payload = server.logs.records().filter((r) => r.log_type === 'ml_payload' && String(r.text).includes(MARKER));
    assert.equal(payload.length, 3, 'the three accepted texts were sampled (rate 1)');
    assert.match(String(payload[0].text), /<EMAIL>.*<PHONE>.*<CARD>.*<IBAN>.*<IP>.*<URL>/);
  });

  test('a failing model: 500 without internals, an exception line with a stack and no payload', async () => {
    const config = loadConfig({ LOG_LEVEL: 'info' });
    const logs = new LogCapture();
    const state = createState();
    const failing = {
      labels: ['ham', 'spam'],
      positiveLabel: 'spam',
      score: () => 0,
      predict(text: string): never {
        // A careless error message that quotes its input.
        throw new Error(`cannot score ${JSON.stringify(text)}`);
      },
    };
    state.model = {
      classifier: failing,
      manifest: {} as never,
      ref: { name: 'broken', version: '1', alias: undefined, dir: '/nowhere' },
      loadedAt: new Date(),
      info: { name: 'broken', version: '1' },
      inFlight: 0,
      onIdle: undefined,
    };
    state.phase = 'ready';
    const app = await buildApp({
      config,
      state,
      ...(await createObservability(config, { env: {}, destination: logs })),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/predict`;
      const res = await postJson(url, { text: TEXT });
      assert.equal(res.status, 500);
      assert.equal(res.json.error, 'internal_error');
      assert.ok(!res.text.includes('cannot score'), 'no internals in the response');
      const exception = logs.records().find((r) => r.log_type === 'exception');
      assert.ok(exception, 'an exception line is written');
      const err = exception.err as { type: string; message: string; stack: string };
      assert.equal(err.type, 'Error');
      assert.match(err.stack, /^ {4}at /);
      assert.match(err.message, /^cannot score "<TEXT>/);
      assert.equal(exception.request_id, res.json.request_id);
      assertClean(logs.lines);
      const access = logs.records().find((r) => r.log_type === 'access');
      assert.equal(access?.status, 500);
    } finally {
      await app.close();
    }
  });
});

describe('the per-request line writer', () => {
  test('writes exactly what pino writes for the same fields', async () => {
    const { createLogs } = await import('../../src/monitoring/logging.ts');
    const capture = new LogCapture();
    const logs = createLogs({
      level: 'info',
      hashKey: 'k',
      payloadSampleRate: 0,
      payloadMaxChars: 10,
      destination: capture,
    });
    const fields = {
      request_id: 'r-1',
      model_name: 'msg_cls',
      label: 'sp"am\n\u2028',
      proba: 0.25,
      n: Number.NaN,
      labels: { spam: 2, ham: 1 },
      missing: undefined,
      ok: true,
    };
    logs.businessLine?.(fields);
    logs.business.info(fields);
    await new Promise<void>((r) => logs.flush().then(() => r()));
    const [fast, slow] = capture.records();
    assert.ok(fast && slow, capture.lines.join('\n'));
    delete fast.time;
    delete slow.time;
    assert.deepEqual(fast, slow);
    assert.equal(fast.n, null);
    assert.ok(!('missing' in fast));
  });

  test('is off with the info level', async () => {
    const { createLogs } = await import('../../src/monitoring/logging.ts');
    const logs = createLogs({
      level: 'warn',
      hashKey: 'k',
      payloadSampleRate: 0,
      payloadMaxChars: 10,
      destination: new LogCapture(),
    });
    assert.equal(logs.accessLine, undefined);
    assert.equal(logs.businessLine, undefined);
  });
});

describe('expected refusals are warnings, not exceptions', () => {
  test('a failing store and the 503s it causes: service warnings without a stack, no exception line', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { DatabaseSync } = await import('node:sqlite');
    const dir = mkdtempSync(join(tmpdir(), 'msgcls-warn-'));
    const file = join(dir, 'store.db');
    const srv = await startTestServer({ STORE_URL: `sqlite:${file}`, STORE_FLUSH_MS: '20' });
    try {
      const p = await postJson(`${srv.url}/predict`, { text: 'hello there' });
      assert.equal(p.status, 200);
      // Break the store under the running service: every later operation fails.
      const db = new DatabaseSync(file);
      db.exec('DROP TABLE msgcls_feedback; DROP TABLE msgcls_predictions;');
      db.close();
      const f = await postJson(`${srv.url}/feedback`, { request_id: p.json.request_id, label: 'ham' });
      assert.equal(f.status, 503, f.text);
      assert.equal(f.json.error, 'store_unavailable');
      await new Promise((r) => setTimeout(r, 100));
      await srv.obs.logs.flush();
      const records = srv.logs.records();
      assert.deepEqual(
        records.filter((r) => r.log_type === 'exception'),
        [],
        'no exception line for an expected failure',
      );
      const warnings = records.filter((r) => r.log_type === 'service' && r.level === 'warn');
      assert.ok(warnings.some((r) => r.request_id === f.json.request_id && r.error === 'store_unavailable'));
      assert.ok(warnings.some((r) => String(r.msg).startsWith('store: an operation failed')));
      for (const w of warnings) assert.equal(JSON.stringify(w).includes('    at '), false, 'no stack frames');
    } finally {
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
