// Drift end to end through the real service: traffic drawn from the training distribution (the
// held-out SpamAssassin e-mails, never trained on) stays stable on every feature; short SMS-like
// messages against the e-mail-trained default model drift on length. The verdicts come from
// GET /monitoring/drift and the same numbers from msgcls_drift_psi.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { loadDataset } from '../../src/data/load.ts';
import { DRIFT_FEATURES } from '../../src/quality/drift.ts';
import { prepareSplit } from '../../src/train/prepare.ts';
import { json, postJson, startTestServer, type TestServer } from '../helpers/server.ts';

const WINDOW = 1000;
let heldOut: string[];
let shortMessages: string[];

before(async () => {
  // The same split the default model was trained with (seed 42, 20 % held out, de-duplicated).
  const data = await loadDataset('spamassassin');
  heldOut = prepareSplit(data.examples, { seed: 42, testFraction: 0.2, dedupe: true }).test.map((e) => e.text);
  shortMessages = readFileSync(new URL('../fixtures/short-messages.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l).text as string);
});

async function send(server: TestServer, texts: string[]): Promise<void> {
  for (let i = 0; i < texts.length; i += 64) {
    const r = await postJson(`${server.url}/predict`, { texts: texts.slice(i, i + 64) });
    assert.equal(r.status, 200, r.text.slice(0, 300));
  }
}

const env = {
  DRIFT_WINDOW: String(WINDOW),
  MAX_BATCH: '64',
  MAX_TEXT_CHARS: '1000000',
  MAX_BODY_BYTES: String(64 * 1024 * 1024),
};

describe('drift against the training reference', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(env);
  });
  after(() => server.close());

  test('reports insufficient data before DRIFT_MIN_COUNT predictions', async () => {
    await send(server, heldOut.slice(0, 10));
    const d = await json(await fetch(`${server.url}/monitoring/drift`));
    assert.equal(d.status, 'insufficient_data');
    assert.equal(d.features.text_length.psi, null);
    assert.equal(d.window.predictions, 10);
  });

  test('held-out e-mails from the training distribution stay below 0.1 on every feature', async () => {
    assert.ok(heldOut.length >= WINDOW, `only ${heldOut.length} held-out e-mails`);
    await send(server, heldOut);
    const d = await json(await fetch(`${server.url}/monitoring/drift`));
    assert.equal(d.status, 'ok');
    assert.equal(d.window.predictions, WINDOW);
    assert.deepEqual(Object.keys(d.features).sort(), [...DRIFT_FEATURES].sort());
    for (const f of DRIFT_FEATURES) {
      const psi = d.features[f].psi;
      assert.ok(psi < 0.1, `${f}: PSI ${psi} on the model's own distribution`);
      assert.equal(d.features[f].verdict, 'stable', f);
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const m = /msgcls_drift_psi\{model_name="msg_cls",model_version="1",feature="text_length"\} (\S+)/.exec(metrics);
    assert.ok(m, 'msgcls_drift_psi{feature="text_length"} is exported');
    assert.equal(Number(m[1]), d.features.text_length.psi);
  });

  test('short SMS-like messages drift: text length and token count above 0.2', async () => {
    const sms = Array.from({ length: WINDOW }, (_, i) => shortMessages[i % shortMessages.length]);
    await send(server, sms);
    const d = await json(await fetch(`${server.url}/monitoring/drift`));
    for (const f of ['text_length', 'token_count']) {
      assert.ok(d.features[f].psi > 0.2, `${f}: PSI ${d.features[f].psi}`);
      assert.equal(d.features[f].verdict, 'drifted', f);
    }
    assert.equal(d.status, 'drifted', 'the overall status follows the features');
    assert.ok(d.drifted_features.includes('text_length'));
    // Every short message lands in the first length bin.
    assert.equal(d.features.text_length.live[0], 1);
  });
});
