// Requests that go wrong below the routes — at the HTTP parser, with CONNECT or an undeclared method,
// with a compressed or poisoned body, while the instance drains — still get the documented JSON error
// shape ({"error", "detail", "request_id"}), never Fastify's own body, an empty answer or a reset.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { createState } from '../../src/http/state.ts';
import { createLogs } from '../../src/monitoring/logging.ts';
import { createMetrics } from '../../src/monitoring/metrics.ts';
import { LogCapture, postJson, json as readJson, startTestServer, type TestServer } from '../helpers/server.ts';

type RawAnswer = { status: number; headers: Record<string, string>; body: string; json?: Record<string, unknown> };

/**
 * Writes `request` on a fresh TCP connection (then `later()`'s requests, once it resolves) and returns
 * every response read until the server closes the connection.
 */
async function raw(
  url: string,
  request: string | Buffer,
  opts: { waitMs?: number; later?: () => Promise<string> } = {},
): Promise<RawAnswer[]> {
  const { port } = new URL(url);
  const sock = connect(Number(port), '127.0.0.1');
  const chunks: Buffer[] = [];
  sock.on('data', (c) => chunks.push(c));
  await new Promise((r) => sock.once('connect', r));
  sock.write(request);
  if (opts.later) sock.write(await opts.later());
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      sock.destroy();
      resolve();
    }, opts.waitMs ?? 3000);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    sock.on('error', () => {});
  });
  return parseResponses(Buffer.concat(chunks).toString('utf8'));
}

function parseResponses(text: string): RawAnswer[] {
  const out: RawAnswer[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const bodyBytes = Buffer.from(rest.slice(end + 4), 'utf8').subarray(0, length);
    const body = bodyBytes.toString('utf8');
    rest = Buffer.from(rest.slice(end + 4), 'utf8')
      .subarray(length)
      .toString('utf8');
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(body);
    } catch {}
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body, json });
  }
  return out;
}

function assertErrorShape(answer: RawAnswer | undefined, status: number, error: string): void {
  assert.ok(answer, 'an answer was written');
  assert.equal(answer.status, status, answer.body);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
  assert.ok(answer.json, `a JSON body: ${answer.body}`);
  assert.deepEqual(Object.keys(answer.json).sort(), ['detail', 'error', 'request_id']);
  assert.equal(answer.json.error, error, answer.body);
  assert.equal(answer.json.request_id, answer.headers['x-request-id']);
}

let server: TestServer;
before(async () => {
  server = await startTestServer({ MAX_BODY_BYTES: '4096', MAX_TEXT_CHARS: '1000' });
});
after(() => server.close());

describe('errors from the HTTP parser and odd methods, in the documented shape', () => {
  test('headers too large → 431 headers_too_large', async () => {
    const [answer] = await raw(server.url, `GET /alive HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assertErrorShape(answer, 431, 'headers_too_large');
  });

  const malformed: [string, string][] = [
    [
      'bad chunk size',
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    ],
    ['CR inside a header value', 'GET /alive HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n'],
    ['LF inside a header name', 'GET /alive HTTP/1.1\r\nHost: x\r\nX\nA: b\r\n\r\n'],
    [
      'duplicate Content-Length',
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\nContent-Length: 13\r\n\r\n{"text":"a"}',
    ],
    ['garbage request line', 'HELLO\r\n\r\n'],
  ];
  for (const [name, request] of malformed) {
    test(`${name} → 400 malformed_request`, async () => {
      const [answer] = await raw(server.url, request);
      assertErrorShape(answer, 400, 'malformed_request');
      assert.match(String(answer.json?.detail), /HTTP\/1\.1/);
    });
  }

  test('HTTP/1.1 without Host → 400 missing_host (with a request id, counted and logged)', async () => {
    const [answer] = await raw(server.url, 'GET /alive HTTP/1.1\r\nConnection: close\r\n\r\n');
    assertErrorShape(answer, 400, 'missing_host');
    const access = server.logs
      .records()
      .find((r) => r.log_type === 'access' && r.request_id === answer.json?.request_id);
    assert.ok(access, 'an access line');
  });

  test('CONNECT → 405 method_not_allowed instead of a closed connection', async () => {
    const [answer] = await raw(server.url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assertErrorShape(answer, 405, 'method_not_allowed');
    assert.ok(answer.headers.allow);
  });

  test('an undeclared method (QUERY) → 405 with Allow on a known path, 404 elsewhere', async () => {
    const [onPredict] = await raw(server.url, 'QUERY /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assertErrorShape(onPredict, 405, 'method_not_allowed');
    assert.equal(onPredict.headers.allow, 'POST');
    const [onAlive] = await raw(server.url, 'QUERY /alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assertErrorShape(onAlive, 405, 'method_not_allowed');
    const [elsewhere] = await raw(server.url, 'QUERY /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assertErrorShape(elsewhere, 404, 'not_found');
  });

  test('POST to an unknown path with a non-JSON body → 404, not 415', async () => {
    const res = await fetch(`${server.url}/nope`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    assert.equal(res.status, 404);
  });

  test('an unknown path is quoted back only in part', async () => {
    const res = await fetch(`${server.url}/${'a'.repeat(10_000)}`);
    assert.equal(res.status, 404);
    const body = await readJson(res);
    assert.ok(body.detail.length < 400, `detail is ${body.detail.length} characters`);
    assert.match(body.detail, /…/);
  });

  test('after all of that the server still answers and logged no exception', async () => {
    assert.equal((await postJson(`${server.url}/predict`, { text: 'still here' })).status, 200);
    assert.equal(
      server.logs.records().filter((r) => r.log_type === 'exception').length,
      0,
      server.logs.lines.join('\n'),
    );
  });
});

describe('request bodies', () => {
  const post = (body: Buffer | string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : new Uint8Array(body),
    });

  test('__proto__ in valid JSON → 400 unknown_field (refused like any undefined field), not malformed_json', async () => {
    for (const body of [
      '{"text": "hi", "__proto__": {"x": 1}}',
      '{"text": "hi", "constructor": {"prototype": {"x": 1}}}',
    ]) {
      const res = await post(body);
      const json = await readJson(res);
      assert.equal(res.status, 400);
      assert.equal(json.error, 'unknown_field', JSON.stringify(json));
    }
  });

  test('gzip and deflate bodies are decoded', async () => {
    const body = JSON.stringify({ text: 'WINNER!! Claim your FREE prize now' });
    for (const [encoding, data] of [
      ['gzip', gzipSync(body)],
      ['deflate', deflateSync(body)],
    ] as const) {
      const res = await post(data, { 'content-encoding': encoding });
      const json = await readJson(res);
      assert.equal(res.status, 200, `${encoding}: ${JSON.stringify(json)}`);
      assert.equal(json.label, 'spam');
    }
  });

  test('another Content-Encoding → 415 unsupported_content_encoding (never ignored)', async () => {
    const res = await post('{"text":"hi"}', { 'content-encoding': 'br' });
    assert.equal(res.status, 415);
    assert.equal((await readJson(res)).error, 'unsupported_content_encoding');
  });

  test('a corrupt gzip body → 400 malformed_encoding', async () => {
    const res = await post(Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    const json = await readJson(res);
    assert.equal(res.status, 400, JSON.stringify(json));
    assert.equal(json.error, 'malformed_encoding');
  });

  test('a gzip body that inflates past MAX_BODY_BYTES → 413 body_too_large', async () => {
    const bomb = gzipSync(JSON.stringify({ text: 'a'.repeat(1_000_000) }));
    assert.ok(bomb.length < 4096, 'the compressed body itself is under the limit');
    const res = await post(bomb, { 'content-encoding': 'gzip' });
    assert.equal(res.status, 413);
    assert.equal((await readJson(res)).error, 'body_too_large');
  });

  test('one definition of a blank text: white space, zero-width and other invisible characters alone', async () => {
    for (const text of ['\u200b\u200b', '\u3000', '\u00a0\ufeff', '\u2028', '\u3164', ' \u200d\n']) {
      const res = await postJson(`${server.url}/predict`, { text });
      assert.equal(res.status, 400, JSON.stringify(text));
      assert.equal(res.json.error, 'empty_text');
      const batch = await postJson(`${server.url}/predict`, { texts: ['ok', text] });
      assert.equal(batch.json.error, 'empty_text', JSON.stringify(text));
    }
    for (const text of ['a\u200b', '\u3000x', '😀', '½']) {
      assert.equal((await postJson(`${server.url}/predict`, { text })).status, 200, JSON.stringify(text));
    }
  });
});

describe('while draining', () => {
  test('a request refused during shutdown has a request id, metrics and an access line', async () => {
    const lines = new LogCapture();
    const config = loadConfig({ STORE_URL: 'off' });
    const logs = createLogs({
      level: 'info',
      hashKey: 'k',
      payloadSampleRate: 0,
      payloadMaxChars: 100,
      destination: lines,
    });
    const metrics = createMetrics();
    const app = await buildApp({ config, state: createState(), logs, metrics });
    let entered!: () => void;
    const slowEntered = new Promise<void>((r) => {
      entered = r;
    });
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    app.get('/slow', async () => {
      entered();
      await released;
      return { ok: true };
    });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    // A keep-alive connection busy with a slow request when the drain starts; a second request arrives
    // on it during the drain.
    let closed: Promise<undefined> | undefined;
    const answers = await raw(address, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n', {
      later: async () => {
        await slowEntered;
        closed = app.close();
        await new Promise((r) => setTimeout(r, 50));
        setTimeout(release, 100);
        return 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"text":"a"}';
      },
    });
    await closed;
    const [first, second] = answers;
    assert.equal(first?.status, 200);
    assertErrorShape(second, 503, 'shutting_down');
    assert.equal(second.headers['retry-after'], '1');
    assert.equal(second.headers.connection, 'close');
    const access = lines.records().find((r) => r.log_type === 'access' && r.request_id === second.json?.request_id);
    assert.ok(access, `an access line for the refused request:\n${lines.lines.join('\n')}`);
    assert.equal(access.status, 503);
    assert.match(
      await metrics.render(),
      /http_server_request_duration_seconds_count\{[^}]*http_response_status_code="503"[^}]*\} 1/,
    );
  });
});
