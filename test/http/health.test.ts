import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pkg from '../../package.json' with { type: 'json' };
import { json, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

describe('health, version and docs endpoints', () => {
  test('GET /alive', async () => {
    const res = await fetch(`${server.url}/alive`);
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), { status: 'ok' });
  });

  test('GET /ready when the model is loaded', async () => {
    const res = await fetch(`${server.url}/ready`);
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), { status: 'ok' });
  });

  test('GET /health reports model, uptime and version', async () => {
    const res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.status, 'ok');
    assert.equal(body.model.name, 'msg_cls');
    assert.equal(body.model.alias, 'champion');
    assert.match(body.model.version, /^\d+$/);
    assert.ok(Date.parse(body.model.loaded_at) <= Date.now());
    assert.equal(typeof body.uptime_s, 'number');
    assert.equal(body.version, pkg.version);
  });

  test('GET /version', async () => {
    const body = await json(await fetch(`${server.url}/version`));
    assert.equal(body.name, 'msg-cls');
    assert.equal(body.version, pkg.version);
    assert.equal(body.node, process.version);
    assert.equal(body.model.name, 'msg_cls');
  });

  test('GET /openapi.json documents the API', async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    assert.equal(res.status, 200);
    const spec = await json(res);
    assert.match(spec.openapi, /^3\./);
    for (const path of ['/predict', '/alive', '/ready', '/health', '/version'])
      assert.ok(spec.paths[path], `${path} documented`);
    const body = spec.paths['/predict'].post.requestBody.content['application/json'].schema;
    assert.equal(body.properties.text.maxLength, 20000);
    assert.equal(body.properties.texts.maxItems, 256);
    assert.ok(!Object.keys(spec.paths).some((p) => p.startsWith('/docs')), 'docs routes are hidden');
  });

  test('GET /openapi.json says what the service does (issue 12, defect 11)', async () => {
    const spec = await json(await fetch(`${server.url}/openapi.json`));
    // /metrics answers the Prometheus text format, not JSON.
    assert.deepEqual(Object.keys(spec.paths['/metrics'].get.responses['200'].content), ['text/plain']);
    // /predict: exactly one of text and texts, nothing else.
    const predict = spec.paths['/predict'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(
      predict.oneOf.map((b: { required: string[] }) => b.required),
      [['text'], ['texts']],
    );
    assert.equal(predict.additionalProperties, false);
    assert.ok(predict.properties.text.pattern, 'blank texts are refused by the schema');
    // /feedback: one label or items, never both; labels are the served model's.
    const feedback = spec.paths['/feedback'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(feedback.oneOf[0].required, ['request_id', 'label']);
    assert.deepEqual(feedback.oneOf[1].required, ['items']);
    assert.equal(feedback.additionalProperties, false);
    assert.deepEqual(feedback.properties.label.enum, ['ham', 'spam']);
    assert.deepEqual(feedback.properties.items.items.properties.label.enum, ['ham', 'spam']);
    // Every operation declares the client errors and the 503 of a draining instance it can return.
    for (const [path, ops] of Object.entries(spec.paths) as [string, Record<string, { responses: object }>][]) {
      for (const [method, op] of Object.entries(ops)) {
        const statuses = Object.keys(op.responses);
        assert.ok(statuses.includes('4XX'), `${method} ${path} declares 4XX`);
        assert.ok(statuses.includes('503'), `${method} ${path} declares 503`);
      }
    }
    assert.ok(spec.paths['/predict'].post.responses['200'].links.ConfirmLabel, 'a link from /predict to /feedback');
  });

  test('GET /docs serves the interactive docs', async () => {
    const res = await fetch(`${server.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /swagger/i);
  });

  test('HEAD /alive works for simple probes', async () => {
    const res = await fetch(`${server.url}/alive`, { method: 'HEAD' });
    assert.equal(res.status, 200);
  });
});
