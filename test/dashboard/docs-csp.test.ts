// Swagger UI at /docs under the service's Content-Security-Policy, in a real browser (Debian's
// chromium driven by playwright-core): the page must draw the API's operations from /openapi.json
// with no console error — a policy that blocked a script or a style would show as one.
//
// npm run test:dashboard (needs `apt-get install chromium`; .ci/run installs it).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { type Child, spawnServer } from '../helpers/server.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('Swagger UI under its Content-Security-Policy', () => {
  let server: Child & { url: string };
  let browser: Browser;
  before(async () => {
    server = await spawnServer({ API_KEYS: `web:${'k'.repeat(24)}` });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    server?.proc.kill('SIGTERM');
    await server?.exited;
  });

  it('draws every operation, with no console error', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      // The browser's own request for /favicon.ico (there is none) is not the page's doing.
      if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) {
        errors.push(`${m.text()} (${m.location().url})`);
      }
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const res = await page.goto(`${server.url}/docs`);
    assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self' 'sha256-/);
    await page.waitForSelector('.opblock-summary-path[data-path="/predict"]', { timeout: 15_000 });
    const paths = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path')));
    for (const p of ['/predict', '/feedback', '/alive', '/ready', '/health']) assert.ok(paths.includes(p), p);
    assert.deepEqual(errors, []);
  });
});
