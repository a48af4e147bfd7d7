// The Open Inference Protocol routes on a real server: answers, and every protocol error as
// {"error": "..."} with a 4xx status (tritonclient itself is exercised by npm run test:oip).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('Open Inference Protocol v2', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ MAX_BATCH: '4', MAX_TEXT_CHARS: '50' });
  });
  after(() => server.close());

  const infer = (body: unknown, path = '/v2/models/msg_cls/infer', headers: Record<string, string> = {}) =>
    fetch(server.url + path, {
      method: 'POST',
      headers,
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
  const text = (data: unknown[], shape: number[] = [data.length], datatype = 'BYTES') => ({
    inputs: [{ name: 'text', datatype, shape, data }],
  });

  test('an answer: label and probabilities per text, with version, role and request id', async () => {
    const res = await infer({ id: 'x1', parameters: { any: 1 }, ...text(['Buy cheap iPhone now', 'hello']) });
    assert.equal(res.status, 200);
    // biome-ignore lint/suspicious/noExplicitAny: a protocol response checked field by field below
    const body = (await res.json()) as any;
    assert.equal(body.model_name, 'msg_cls');
    assert.equal(body.id, 'x1');
    assert.equal(body.parameters.model_role, 'champion');
    assert.equal(res.headers.get('x-request-id'), body.parameters.request_id);
    const [label, probs] = body.outputs;
    assert.deepEqual([label.name, label.datatype, label.shape], ['label', 'BYTES', [2]]);
    assert.deepEqual([probs.name, probs.datatype, probs.shape], ['probabilities', 'FP32', [2, 2]]);
    assert.ok(Math.abs(probs.data[0] + probs.data[1] - 1) < 1e-6);
  });

  test('binary tensor extension in and out', async () => {
    const json = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 9 } }],
        outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
      }),
    );
    const el = Buffer.alloc(4);
    el.writeUInt32LE(5);
    const res = await infer(Buffer.concat([json, el, Buffer.from('hello')]), undefined, {
      'inference-header-content-length': String(json.length),
    });
    assert.equal(res.status, 200);
    const raw = Buffer.from(await res.arrayBuffer());
    const n = Number(res.headers.get('inference-header-content-length'));
    const head = JSON.parse(raw.subarray(0, n).toString());
    assert.equal(head.outputs.length, 1);
    assert.equal(head.outputs[0].parameters.binary_data_size, 8);
    const p = new Float32Array(raw.buffer.slice(raw.byteOffset + n, raw.byteOffset + n + 8));
    assert.ok(Math.abs(p[0] + p[1] - 1) < 1e-6);
  });

  const cases: [string, unknown, number, RegExp, string?][] = [
    ['empty body', '', 400, /request body is empty/],
    ['not JSON', '{nope', 400, /not valid JSON/],
    ['no inputs', { inputs: [] }, 400, /"inputs" is missing or empty/],
    ['two inputs', { inputs: [text(['a']).inputs[0], text(['b']).inputs[0]] }, 400, /exactly one BYTES input/],
    ['wrong datatype', text([1], [1], 'FP32'), 400, /send the texts as BYTES/],
    ['bad shape', text(['a', 'b'], [1, 2]), 400, /use \[N\] or \[N, 1\]/],
    ['shape and data disagree', text(['a', 'b'], [3]), 400, /says 3 texts but it holds 2/],
    ['a non-string', text(['a', 5]), 400, /text 1 is not a string/],
    ['a blank text', text(['a', '   ']), 400, /text 1 has no visible characters/],
    ['too many texts', text(['a', 'b', 'c', 'd', 'e']), 413, /more than 4 \(MAX_BATCH\)/],
    ['a text too long', text(['x'.repeat(51)]), 413, /longer than 50 characters \(MAX_TEXT_CHARS\)/],
    ['an unknown output', { ...text(['a']), outputs: [{ name: 'logits' }] }, 400, /no output "logits"/],
    ['an unknown model', text(['a']), 404, /no model "other"/, '/v2/models/other/infer'],
    [
      'an unknown version',
      text(['a']),
      404,
      /version "42" of "msg_cls" is not loaded/,
      '/v2/models/msg_cls/versions/42/infer',
    ],
  ];
  for (const [what, body, status, message, path] of cases) {
    test(`${what}: ${status} {"error": ...}`, async () => {
      const res = await infer(body, path);
      assert.equal(res.status, status);
      const got = (await res.json()) as { error: string };
      assert.deepEqual(Object.keys(got), ['error']);
      assert.match(got.error, message);
    });
  }

  test('a body over MAX_BODY_BYTES is a 413 in the protocol’s shape', async () => {
    const res = await infer(text(['a'.repeat(2_000_000)]));
    assert.equal(res.status, 413);
    assert.match(((await res.json()) as { error: string }).error, /MAX_BODY_BYTES/);
  });

  test('health and metadata', async () => {
    assert.equal((await fetch(`${server.url}/v2/health/live`)).status, 200);
    assert.equal((await fetch(`${server.url}/v2/health/ready`)).status, 200);
    assert.equal((await fetch(`${server.url}/v2/models/msg_cls/ready`)).status, 200);
    assert.equal((await fetch(`${server.url}/v2/models/other/ready`)).status, 404);
    const meta = (await (await fetch(`${server.url}/v2/models/msg_cls`)).json()) as {
      inputs: unknown;
      outputs: { parameters: { labels: string } }[];
    };
    assert.deepEqual(meta.inputs, [{ name: 'text', datatype: 'BYTES', shape: [-1] }]);
    assert.equal(meta.outputs[1].parameters.labels, 'ham,spam');
  });
});

describe('Open Inference Protocol v2 behind API_KEYS', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ API_KEYS: 'app:0123456789abcdef0123' });
  });
  after(() => server.close());

  test('infer needs a key, as /predict does; health and metadata do not', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['hi'] }] });
    for (const path of ['/v2/models/msg_cls/infer', '/v2/models/msg_cls/versions/1/infer']) {
      const refused = await fetch(server.url + path, { method: 'POST', body });
      assert.equal(refused.status, 401, path);
      assert.equal(typeof ((await refused.json()) as { error: unknown }).error, 'string');
      const ok = await fetch(server.url + path, {
        method: 'POST',
        body,
        headers: { authorization: 'Bearer 0123456789abcdef0123' },
      });
      assert.equal(ok.status, 200, path);
    }
    assert.equal((await fetch(`${server.url}/v2/health/ready`)).status, 200);
    assert.equal((await fetch(`${server.url}/v2/models/msg_cls`)).status, 200);
  });
});
