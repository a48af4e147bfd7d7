// Access: API keys on /predict, the admin token on /monitoring, /admin and /metrics, /metrics on its
// own port, rate limits, CORS, security headers, and access-log sampling — each against a real server.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { freePort, json, postJson, startTestServer, type TestServer } from '../helpers/server.ts';

const ALICE = 'alice-key-0123456789abcdef';
const BOB = 'bob-key-fedcba9876543210';
const ADMIN = 'admin-token-0123456789abcdef';
const PREDICT = { text: 'Buy cheap iPhone now' };

describe('API keys (API_KEYS) and the admin token (ADMIN_TOKEN)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ API_KEYS: `alice:${ALICE}, bob:${BOB}`, ADMIN_TOKEN: ADMIN });
  });
  after(() => server.close());
  const admin = { authorization: `Bearer ${ADMIN}` };

  test('/predict without a key: 401 unauthorized saying how to send one', async () => {
    const r = await postJson(`${server.url}/predict`, PREDICT);
    assert.equal(r.status, 401);
    assert.equal(r.json.error, 'unauthorized');
    assert.match(r.json.detail, /X-API-Key/);
    assert.ok(r.json.request_id);
  });

  test('/predict with a wrong key, or the admin token: 401', async () => {
    for (const headers of [{ 'x-api-key': `${ALICE}x` }, { authorization: `Bearer ${BOB.slice(0, -1)}` }, admin]) {
      const r = await postJson(`${server.url}/predict`, PREDICT, headers);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.match(r.json.detail, /not one of those configured/);
    }
  });

  test('/predict with X-API-Key or Authorization: Bearer: 200', async () => {
    assert.equal((await postJson(`${server.url}/predict`, PREDICT, { 'x-api-key': ALICE })).status, 200);
    assert.equal((await postJson(`${server.url}/predict`, PREDICT, { authorization: `Bearer ${BOB}` })).status, 200);
  });

  test('metrics and access lines name the key, never show it', async () => {
    await postJson(`${server.url}/predict`, PREDICT, { 'x-api-key': ALICE });
    const text = await (await fetch(`${server.url}/metrics`, { headers: admin })).text();
    assert.match(text, /msgcls_api_key_requests_total\{api_key="alice",result="accepted"\} [1-9]/);
    assert.match(text, /msgcls_api_key_requests_total\{api_key="",result="missing"\} [1-9]/);
    assert.match(text, /msgcls_api_key_requests_total\{api_key="",result="invalid"\} [1-9]/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lines = server.logs.lines.join('\n');
    for (const secret of [ALICE, BOB, ADMIN]) {
      assert.ok(!text.includes(secret), 'a key in /metrics');
      assert.ok(!lines.includes(secret), 'a key in the logs');
    }
    const access = server.logs.records().filter((l) => l.log_type === 'access' && l.route === '/predict');
    assert.ok(access.some((l) => l.status === 200 && l.api_key === 'alice'));
    assert.ok(access.some((l) => l.status === 401 && l.api_key === undefined));
  });

  test('/metrics and /monitoring/* need the admin token; probes, /version and /docs do not', async () => {
    for (const path of ['/metrics', '/monitoring/drift', '/monitoring/quality']) {
      const r = await fetch(`${server.url}${path}`);
      assert.equal(r.status, 401, path);
      assert.match(r.headers.get('www-authenticate') ?? '', /Bearer/);
      assert.match((await json(r)).detail, /ADMIN_TOKEN/);
      const wrong = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${ALICE}` } });
      assert.equal(wrong.status, 401, `${path} with an API key`);
      const ok = await fetch(`${server.url}${path}`, { headers: admin });
      assert.notEqual(ok.status, 401, path);
      assert.equal((await fetch(`${server.url}${path}`, { method: 'HEAD' })).status, 401, `HEAD ${path}`);
    }
    for (const path of ['/alive', '/ready', '/health', '/version', '/docs', '/openapi.json']) {
      assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
    }
  });

  test('an /admin/* route added later gets the guard too', async () => {
    // Routes registered after guardAccess (as POST /admin/reload will be) are guarded by the onRoute hook.
    const { buildApp } = await import('../../src/http/app.ts');
    const { createState } = await import('../../src/http/state.ts');
    const { createObservability } = await import('../../src/server.ts');
    const { loadConfig } = await import('../../src/config.ts');
    const config = loadConfig({ ADMIN_TOKEN: ADMIN, STORE_URL: 'off' });
    const obs = await createObservability(config, { destination: { write: () => true } });
    const app = await buildApp({ config, state: createState(), logs: obs.logs, metrics: obs.metrics });
    app.post('/admin/ping', () => ({ ok: true }));
    try {
      assert.equal((await app.inject({ method: 'POST', url: '/admin/ping' })).statusCode, 401);
      assert.equal((await app.inject({ method: 'POST', url: '/admin/ping', headers: admin })).statusCode, 200);
    } finally {
      await app.close();
    }
  });
});

describe('METRICS_PORT', () => {
  test('/metrics moves to its own port, without a token; the main port has none', async () => {
    const metricsPort = await freePort();
    const server = await startTestServer({ METRICS_PORT: String(metricsPort), ADMIN_TOKEN: ADMIN });
    try {
      const main = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(main.status, 404);
      const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
      assert.match(await r.text(), /http_server_request_duration_seconds/);
      assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/predict`)).status, 404);
    } finally {
      await server.close();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`), 'the metrics port closes with the server');
  });

  test('a busy METRICS_PORT fails the start, naming the variable', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      await assert.rejects(startTestServer({ METRICS_PORT: String(port) }), /METRICS_PORT=\d+: .*EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });
});

describe('rate limits (RATE_LIMIT_MAX)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      RATE_LIMIT_MAX: '3',
      RATE_LIMIT_WINDOW_S: '60',
      API_KEYS: `alice:${ALICE},bob:${BOB}`,
    });
  });
  after(() => server.close());

  test('the 4th request of a key in the window: 429 rate_limited with Retry-After; another key is not affected', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await postJson(`${server.url}/predict`, PREDICT, { 'x-api-key': ALICE })).status, 200);
    }
    const r = await postJson(`${server.url}/predict`, PREDICT, { 'x-api-key': ALICE });
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error, 'rate_limited');
    assert.match(r.json.detail, /RATE_LIMIT_MAX/);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.ok(Number(r.headers.get('retry-after')) <= 60);
    assert.equal((await postJson(`${server.url}/predict`, PREDICT, { 'x-api-key': BOB })).status, 200);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /msgcls_rate_limited_total\{api_key="alice"\} 1/);
  });

  test('without a key the limit is per client IP; probes and /metrics are never limited', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${server.url}/version`)).status, 200);
    assert.equal((await fetch(`${server.url}/version`)).status, 429);
    for (let i = 0; i < 10; i++) {
      for (const path of ['/alive', '/ready', '/health', '/metrics']) {
        assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
      }
    }
  });
});

describe('CORS (CORS_ORIGINS)', () => {
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/predict`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-api-key',
      },
    });

  test('off by default: a preflight gets no CORS headers', async () => {
    const server = await startTestServer();
    try {
      const r = await preflight(server.url, 'https://app.example.com');
      assert.equal(r.headers.get('access-control-allow-origin'), null);
      assert.ok(r.status >= 400);
      const get = await fetch(`${server.url}/version`, { headers: { origin: 'https://app.example.com' } });
      assert.equal(get.headers.get('access-control-allow-origin'), null);
    } finally {
      await server.close();
    }
  });

  test('configured: the listed origin may call, another may not', async () => {
    const server = await startTestServer({ CORS_ORIGINS: 'https://app.example.com' });
    try {
      const ok = await preflight(server.url, 'https://app.example.com');
      assert.equal(ok.status, 204);
      assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
      assert.match(ok.headers.get('access-control-allow-methods') ?? '', /POST/);
      assert.match(ok.headers.get('access-control-allow-headers') ?? '', /x-api-key/);
      const other = await preflight(server.url, 'https://evil.example.net');
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      const r = await postJson(`${server.url}/predict`, PREDICT, { origin: 'https://app.example.com' });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example.com');
      assert.match(r.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
    } finally {
      await server.close();
    }
  });
});

describe('security headers', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ API_KEYS: `alice:${ALICE}` });
  });
  after(() => server.close());

  test('on every response: success, client error, auth error, unknown path', async () => {
    const responses = [
      await postJson(`${server.url}/predict`, PREDICT, { 'x-api-key': ALICE }),
      await postJson(`${server.url}/predict`, '{bad', { 'x-api-key': ALICE }),
      await postJson(`${server.url}/predict`, PREDICT),
      await postJson(`${server.url}/nope`, PREDICT),
    ];
    const alive = await fetch(`${server.url}/alive`);
    for (const r of [...responses, { headers: alive.headers, status: alive.status }]) {
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', String(r.status));
      assert.equal(r.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
      assert.equal(r.headers.get('cache-control'), 'no-store');
    }
  });

  test('/docs gets a policy that allows exactly its own inline script and its static files', async () => {
    const r = await fetch(`${server.url}/docs`);
    const html = await r.text();
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-eval|script-src[^;]*unsafe-inline/);
    const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    assert.ok(inline.length > 0, 'the docs page has an inline script');
    for (const script of inline) {
      const hash = createHash('sha256').update(script).digest('base64');
      assert.ok(csp.includes(`'sha256-${hash}'`), 'the inline script is allowed by its hash');
    }
    // Every file the page loads is served by this origin ('self'), and is there.
    for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      assert.ok(m[1].startsWith('/'), m[1]);
      const asset = await fetch(`${server.url}${m[1]}`);
      assert.equal(asset.status, 200, m[1]);
      await asset.arrayBuffer();
    }
  });
});

describe('access-log sampling', () => {
  test('ACCESS_LOG_SAMPLE_RATE=0 keeps errors and slow requests only; BUSINESS_LOG_SAMPLE_RATE=0 drops business lines', async () => {
    const server = await startTestServer({
      ACCESS_LOG_SAMPLE_RATE: '0',
      ACCESS_LOG_SLOW_MS: '60000',
      BUSINESS_LOG_SAMPLE_RATE: '0',
    });
    try {
      for (let i = 0; i < 20; i++) assert.equal((await postJson(`${server.url}/predict`, PREDICT)).status, 200);
      assert.equal((await postJson(`${server.url}/predict`, { text: '' })).status, 400);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const recs = server.logs.records();
      const access = recs.filter((l) => l.log_type === 'access');
      assert.deepEqual(
        access.map((l) => l.status),
        [400],
      );
      assert.equal(recs.filter((l) => l.log_type === 'business').length, 0);
    } finally {
      await server.close();
    }
    const slow = await startTestServer({ ACCESS_LOG_SAMPLE_RATE: '0', ACCESS_LOG_SLOW_MS: '0' });
    try {
      for (let i = 0; i < 5; i++) await postJson(`${slow.url}/predict`, PREDICT);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const access = slow.logs.records().filter((l) => l.log_type === 'access' && l.status === 200);
      assert.equal(access.length, 5, 'requests at or above ACCESS_LOG_SLOW_MS are always logged');
      assert.equal(slow.logs.records().filter((l) => l.log_type === 'business').length, 5);
    } finally {
      await slow.close();
    }
  });

  test('a rate of 0.5 logs about half of the successful requests', async () => {
    const server = await startTestServer({ ACCESS_LOG_SAMPLE_RATE: '0.5', ACCESS_LOG_SLOW_MS: '60000' });
    try {
      for (let i = 0; i < 200; i++) await fetch(`${server.url}/alive`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const n = server.logs.records().filter((l) => l.log_type === 'access').length;
      // Binomial(200, 0.5): 60..140 holds with probability 1 - 1e-8.
      assert.ok(n > 60 && n < 140, `${n} of 200 logged`);
    } finally {
      await server.close();
    }
  });
});
