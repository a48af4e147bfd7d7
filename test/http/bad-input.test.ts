// Every kind of bad input gets a clear 4xx JSON error, and the service keeps serving afterwards.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { json, postJson, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer({ MAX_BATCH: '4', MAX_TEXT_CHARS: '50', MAX_BODY_BYTES: '2048' });
});
after(() => server.close());

type Case = { name: string; body: string; contentType?: string; status: number; error: string; detail: RegExp };

const cases: Case[] = [
  { name: 'malformed JSON', body: '{"text": "hi"', status: 400, error: 'malformed_json', detail: /not valid JSON/ },
  { name: 'empty body', body: '', status: 400, error: 'empty_body', detail: /body is empty/ },
  {
    name: 'JSON that is not an object',
    body: '"just a string"',
    status: 400,
    error: 'invalid_type',
    detail: /body must be a JSON object/,
  },
  { name: 'JSON array', body: '[1,2]', status: 400, error: 'invalid_type', detail: /body must be a JSON object/ },
  { name: 'JSON null', body: 'null', status: 400, error: 'invalid_type', detail: /body must be a JSON object/ },
  {
    name: 'text/plain content type',
    body: 'hello',
    contentType: 'text/plain',
    status: 415,
    error: 'unsupported_media_type',
    detail: /Content-Type: application\/json/,
  },
  {
    name: 'form content type',
    body: 'text=hi',
    contentType: 'application/x-www-form-urlencoded',
    status: 415,
    error: 'unsupported_media_type',
    detail: /application\/json/,
  },
  { name: 'missing text', body: '{}', status: 400, error: 'missing_text', detail: /neither "text" nor "texts"/ },
  {
    name: 'typo in field name',
    body: '{"txt": "hi"}',
    status: 400,
    error: 'missing_text',
    detail: /neither "text" nor "texts"/,
  },
  {
    name: 'numeric text',
    body: '{"text": 123}',
    status: 400,
    error: 'invalid_type',
    detail: /body.text must be of type string/,
  },
  {
    name: 'null text',
    body: '{"text": null}',
    status: 400,
    error: 'invalid_type',
    detail: /body.text must be of type string/,
  },
  {
    name: 'object text',
    body: '{"text": {"a": 1}}',
    status: 400,
    error: 'invalid_type',
    detail: /body.text must be of type string/,
  },
  {
    name: 'boolean text',
    body: '{"text": true}',
    status: 400,
    error: 'invalid_type',
    detail: /body.text must be of type string/,
  },
  { name: 'empty text', body: '{"text": ""}', status: 400, error: 'empty_text', detail: /body.text is empty/ },
  {
    name: 'whitespace-only text',
    body: '{"text": " \\n\\t "}',
    status: 400,
    error: 'empty_text',
    detail: /no visible characters/,
  },
  {
    name: 'text too long',
    body: JSON.stringify({ text: 'a'.repeat(51) }),
    status: 413,
    error: 'text_too_long',
    detail: /longer than 50 characters \(MAX_TEXT_CHARS\)/,
  },
  {
    name: 'both text and texts',
    body: '{"text": "a", "texts": ["b"]}',
    status: 400,
    error: 'ambiguous_request',
    detail: /not both/,
  },
  {
    name: 'texts not an array',
    body: '{"texts": "abc"}',
    status: 400,
    error: 'invalid_type',
    detail: /body.texts must be of type array/,
  },
  { name: 'empty batch', body: '{"texts": []}', status: 400, error: 'empty_batch', detail: /at least one text/ },
  {
    name: 'batch with a number',
    body: '{"texts": ["ok", 5]}',
    status: 400,
    error: 'invalid_type',
    detail: /body.texts.1 must be of type string/,
  },
  {
    name: 'batch with an empty text',
    body: '{"texts": ["ok", ""]}',
    status: 400,
    error: 'empty_text',
    detail: /body.texts.1 is empty/,
  },
  {
    name: 'batch with a blank text',
    body: '{"texts": ["ok", "  "]}',
    status: 400,
    error: 'empty_text',
    detail: /body.texts.1 has no visible characters/,
  },
  {
    name: 'batch with a too-long text',
    body: JSON.stringify({ texts: ['ok', 'b'.repeat(51)] }),
    status: 413,
    error: 'text_too_long',
    detail: /body.texts.1 is longer than 50/,
  },
  {
    name: 'batch over MAX_BATCH',
    body: JSON.stringify({ texts: ['a', 'b', 'c', 'd', 'e'] }),
    status: 413,
    error: 'batch_too_large',
    detail: /more than 4 texts \(MAX_BATCH\)/,
  },
  {
    name: 'body over the size limit',
    body: JSON.stringify({ text: 'x'.repeat(3000) }),
    status: 413,
    error: 'body_too_large',
    detail: /larger than 2048 bytes \(MAX_BODY_BYTES\)/,
  },
  {
    name: 'prototype pollution attempt',
    body: '{"text": "hi", "__proto__": {"polluted": true}}',
    status: 400,
    error: 'unknown_field',
    detail: /"__proto__"/,
  },
];

describe('bad input to POST /predict', () => {
  for (const c of cases) {
    test(`${c.name} → ${c.status} ${c.error}`, async () => {
      const res = await fetch(`${server.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': c.contentType ?? 'application/json' },
        body: c.body,
      });
      const text = await res.text();
      assert.equal(res.status, c.status, text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const json = JSON.parse(text);
      assert.equal(json.error, c.error, text);
      assert.match(json.detail, c.detail);
      assert.equal(json.request_id, res.headers.get('x-request-id'));
    });
  }

  test('no content type at all → 415', async () => {
    const res = await fetch(`${server.url}/predict`, {
      method: 'POST',
      body: new Uint8Array(Buffer.from('{"text":"hi"}')),
    });
    assert.equal(res.status, 415);
    assert.equal((await json(res)).error, 'unsupported_media_type');
  });

  test('unknown route → 404 JSON', async () => {
    const res = await fetch(`${server.url}/nope?x=1`);
    assert.equal(res.status, 404);
    assert.deepEqual(Object.keys(await json(res)).sort(), ['detail', 'error', 'request_id']);
  });

  test('wrong method → 405 with Allow', async () => {
    const get = await fetch(`${server.url}/predict`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.match((await json(get)).detail, /GET is not allowed on \/predict; use POST/);
    const del = await fetch(`${server.url}/health`, { method: 'DELETE' });
    assert.equal(del.status, 405);
    assert.match(del.headers.get('allow') ?? '', /GET/);
  });

  test('a body that stops mid-way does not hang the server', async () => {
    const port = new URL(server.url).port;
    const sock = connect(Number(port), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"text": "hal',
    );
    sock.destroy();
    const res = await postJson(`${server.url}/predict`, { text: 'still serving' });
    assert.equal(res.status, 200);
  });

  test('after all of that the service is still healthy and no 5xx was logged', async () => {
    const res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
    assert.equal(
      server.logs.records().filter((r) => r.level === 'error' || r.level === 'fatal' || r.log_type === 'exception')
        .length,
      0,
      server.logs.lines.join('\n'),
    );
  });
});
