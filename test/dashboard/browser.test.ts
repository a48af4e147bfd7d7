// The dashboard in a real browser: Debian's chromium driven by playwright-core. The page must load
// with no console error and no failed request, draw its charts with data once traffic was sent,
// update its panels, answer the try-it box, export JSON and PNG, pass axe-core's accessibility rules,
// and render at desktop and phone widths (screenshots in test-output/, checked to be non-blank).
//
// npm run test:dashboard (needs `apt-get install chromium`; .ci/run installs it).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { rolloutRegistry, type TempRegistry } from '../helpers/rollout.ts';
import { type Child, postJson, ROOT, spawnServer } from '../helpers/server.ts';

// Browser globals, used only inside page.evaluate callbacks (which run in the page, not in Node).
// biome-ignore lint/suspicious/noExplicitAny: typed loosely on purpose: the DOM lib is not in this project's types
declare const document: any, window: any, Image: any;

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = join(ROOT, 'test-output');

type Watch = { errors: string[] };

function watch(page: Page): Watch {
  const w: Watch = { errors: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') w.errors.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => w.errors.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => w.errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) w.errors.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith('http://127.0.0.1:') && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) {
      w.errors.push(`request to another host: ${r.url()}`);
    }
  });
  return w;
}

/** Distinct colours in a PNG, counted by the browser itself (no image library needed). */
async function distinctColours(browser: Browser, png: Buffer): Promise<number> {
  const page = await browser.newPage();
  try {
    await page.setContent('<canvas id="c"></canvas>');
    return await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.getElementById('c');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d');
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return seen.size;
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}

describe('dashboard in a real browser', { skip: !existsSync(CHROMIUM) && `no chromium at ${CHROMIUM}` }, () => {
  let server: Child & { url: string };
  let browser: Browser;
  let dir: string;
  let reg: TempRegistry;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msgcls-dashboard-'));
    await mkdir(OUT, { recursive: true });
    // A 20 % canary, so that the rollout panel is on the page too.
    reg = await rolloutRegistry();
    server = await spawnServer({
      STORE_URL: `sqlite:${join(dir, 'store.db')}`,
      DRIFT_MIN_COUNT: '20',
      MODEL_REGISTRY: reg.root,
      ROLLOUT_MODE: 'canary',
      CHALLENGER_ALIAS: 'challenger',
      CANARY_PERCENT: '20',
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const texts = ['WIN a FREE iPhone now, click here', 'see you at lunch tomorrow?', 'Cheap meds, no prescription!!!'];
    for (let i = 0; i < 60; i++) {
      const res = await postJson(`${server.url}/predict`, { text: `${texts[i % 3]} ${i}` }, { 'x-user-id': `u${i}` });
      assert.equal(res.status, 200);
    }
    await postJson(`${server.url}/predict`, {});
    await new Promise((r) => setTimeout(r, 1500));
  });

  after(async () => {
    await browser?.close();
    server?.proc.kill('SIGTERM');
    await server?.exited;
    await rm(dir, { recursive: true, force: true });
    await reg?.cleanup();
  });

  it('loads cleanly, draws charts with data, updates, answers the try-it box, exports', async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    const w = watch(page);
    await page.goto(`${server.url}/dashboard`);
    await page.waitForFunction(() => document.body.dataset.updated !== undefined);
    const firstUpdate = await page.evaluate(() => document.body.dataset.updated);
    // Charts are canvases drawn by uPlot; their series must have data points.
    await page.waitForFunction(() => document.querySelectorAll('.plot canvas').length >= 9);
    const drawn = await page.evaluate(() =>
      [...document.querySelectorAll('.plot')].map((p: typeof document) => {
        const c = p.querySelector('canvas');
        if (!c) return { id: p.id, colours: 0 };
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < d.length; i += 4 * 5)
          seen.add((d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3]);
        return { id: p.id, colours: seen.size };
      }),
    );
    for (const c of drawn) assert.ok(c.colours > 3, `chart ${c.id} looks blank (${c.colours} colours)`);
    const predictions = await page.evaluate(() => document.querySelector('#c-pred .u-legend')?.textContent ?? '');
    assert.match(predictions, /v1 (spam|ham)/, 'the predictions chart has a series per version and label');
    assert.match(predictions, /v2 \(challenger\) (spam|ham)/, 'and the challenger’s series, with its role');
    assert.match((await page.textContent('#rollout')) ?? '', /Verdict: (promote|hold|rollback)/);
    assert.match((await page.textContent('#rollout')) ?? '', /configured 20\.0 %/);
    assert.match((await page.textContent('#health-words')) ?? '', /Healthy/);
    assert.match((await page.textContent('#state-list')) ?? '', /msg_cls version 1/);
    assert.match((await page.textContent('#drift')) ?? '', /text_length/);

    // The panels update (every 2 s).
    await page.waitForFunction((v) => document.body.dataset.updated !== v, firstUpdate, { timeout: 10_000 });

    // Try it.
    await page.fill('#try-text', 'URGENT: you won $1000, claim your prize now');
    await page.click('#try-form button[type=submit]');
    await page.waitForFunction(() => /spam|ham/.test(document.getElementById('try-result')?.textContent ?? ''));
    assert.match((await page.textContent('#try-result')) ?? '', /(spam|ham) \(.*%.*model v1\)/);

    // Exports: the panel data as JSON, a chart as PNG.
    const [json] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    assert.match(json.suggestedFilename(), /\.json$/);
    const exported = JSON.parse(await readFile((await json.path()) as string, 'utf8'));
    assert.ok(exported.fine.t.length > 0 && exported.latest.state.model.name === 'msg_cls');
    const [png] = await Promise.all([page.waitForEvent('download'), page.click('button.png[data-chart="c-lat"]')]);
    const pngBytes = await readFile((await png.path()) as string);
    assert.deepEqual([...pngBytes.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG file');

    // Screenshots, desktop and phone, non-blank.
    const desktop = await page.screenshot({ fullPage: true });
    await writeFile(join(OUT, 'dashboard-desktop.png'), desktop);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(500);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page scrolls sideways on a phone by ${overflow} px`);
    const phone = await page.screenshot({ fullPage: true });
    await writeFile(join(OUT, 'dashboard-phone.png'), phone);
    for (const [name, shot] of [
      ['desktop', desktop],
      ['phone', phone],
    ] as const) {
      const colours = await distinctColours(browser, shot);
      assert.ok(colours > 20, `${name} screenshot looks blank (${colours} colours)`);
    }

    assert.deepEqual(w.errors, [], 'no console errors and no failed requests');
    await context.close();
  });

  it('has no accessibility violations (axe-core)', async () => {
    // bypassCSP only to inject axe itself; the CSP is checked by the test above.
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${server.url}/dashboard`);
    await page.waitForFunction(() => document.querySelectorAll('.plot canvas').length >= 9);
    const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
    await page.addScriptTag({ content: await readFile(axePath, 'utf8') });
    const result = await page.evaluate(async () => {
      // biome-ignore lint/suspicious/noExplicitAny: axe is injected into the page at run time
      const r = await (window as any).axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v: { id: string; impact: string; nodes: { target: string[] }[] }) => ({
        id: v.id,
        impact: v.impact,
        targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 3),
      }));
    });
    assert.deepEqual(result, []);
    await context.close();
  });
});
