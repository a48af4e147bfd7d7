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
