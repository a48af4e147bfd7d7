import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { json, postJson, startTestServer, type TestServer } from '../helpers/server.ts';

describe('GET /dashboard (open: no ADMIN_TOKEN)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('serves the page under a strict CSP, with its assets from this origin only', async () => {
    const res = await fetch(`${server.url}/dashboard`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    const html = await res.text();
    assert.doesNotMatch(html, /https?:\/\//, 'no absolute URL: nothing from a CDN');
    assert.doesNotMatch(html, /<script>|\son[a-z]+=/i, 'no inline script or handlers');
    const assets = [...html.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"?]+)/g)].map((m) => m[1]);
    assert.deepEqual(assets.sort(), [
      '/dashboard/assets/dashboard.css',
      '/dashboard/assets/dashboard.js',
      '/dashboard/assets/uPlot.iife.min.js',
      '/dashboard/assets/uPlot.min.css',
    ]);
    for (const path of assets) {
      const a = await fetch(`${server.url}${path}`);
      assert.equal(a.status, 200, path);
      assert.ok((await a.arrayBuffer()).byteLength > 100, path);
    }
    const missing = await fetch(`${server.url}/dashboard/assets/..%2Fpackage.json`);
    assert.equal(missing.status, 404);
    assert.equal((await json(missing)).error, 'not_found');
  });

  it('serves aggregates after traffic, never a predicted text', async () => {
    const secret = 'my very private message zebra-7731';
    for (let i = 0; i < 5; i++) assert.equal((await postJson(`${server.url}/predict`, { text: secret })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const res = await fetch(`${server.url}/dashboard/data`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes('zebra'), 'the data endpoint must not carry texts');
    const data = JSON.parse(text);
    assert.ok(data.fine.t.length >= 1);
    const predicted = Object.values(data.fine.predictions as Record<string, number[]>)
      .flat()
      .reduce((a, b) => a + b, 0);
    assert.equal(predicted, 5);
    assert.equal(data.state.model.name, 'msg_cls');
    assert.equal(data.state.phase, 'ready');
    assert.equal(data.state.store.status, 'off');
    assert.ok(data.drift && typeof data.drift.features === 'object');
    // Incremental polls only carry newer seconds.
    const last = data.fine.t[data.fine.t.length - 1];
    const next = await json(await fetch(`${server.url}/dashboard/data?since=${last}`));
    assert.ok(next.fine.t.every((t: number) => t > last));
    assert.equal(next.coarse, undefined);
  });

  it('is linked from / (HTML for a browser, JSON otherwise) and from the API docs', async () => {
    const page = await fetch(`${server.url}/`, { headers: { accept: 'text/html' } });
    assert.match(await page.text(), /href="\/dashboard"/);
    const links = await json(await fetch(`${server.url}/`));
    assert.equal(links.links.dashboard, '/dashboard');
    const openapi = await json(await fetch(`${server.url}/openapi.json`));
    assert.match(openapi.info.description, /\(\/dashboard\)/);
  });
});

describe('GET /dashboard behind ADMIN_TOKEN', () => {
  const token = 'a-long-admin-token-for-tests-0123456789';
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ADMIN_TOKEN: token });
  });
  after(() => server.close());

  it('shows a sign-in page and refuses the data without a session or the token', async () => {
    const page = await fetch(`${server.url}/dashboard`);
    assert.equal(page.status, 401);
    const html = await page.text();
    assert.match(html, /id="signin"/);
    assert.doesNotMatch(html, /dashboard\.js/);
    const data = await fetch(`${server.url}/dashboard/data`);
    assert.equal(data.status, 401);
    assert.equal((await json(data)).error, 'unauthorized');
    const wrong = await postJson(`${server.url}/dashboard/session`, { token: 'nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('set-cookie'), null);
  });

  it('accepts the Bearer token, or a session cookie that is not the token', async () => {
    const bearer = await fetch(`${server.url}/dashboard/data`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(bearer.status, 200);
    const signin = await postJson(`${server.url}/dashboard/session`, { token });
    assert.equal(signin.status, 204);
    const cookie = signin.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.ok(!cookie.includes(token), 'the cookie must not carry the token itself');
    const session = cookie.split(';', 1)[0];
    const page = await fetch(`${server.url}/dashboard`, { headers: { cookie: session } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /dashboard\.js/);
    const data = await fetch(`${server.url}/dashboard/data`, { headers: { cookie: session } });
    assert.equal(data.status, 200);
    const forged = await fetch(`${server.url}/dashboard/data`, { headers: { cookie: 'msgcls_dashboard=00' } });
    assert.equal(forged.status, 401);
  });
});
