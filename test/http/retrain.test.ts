// Closing the loop: chat traffic with feedback labels goes through a real server into its store
// (STORE_TEXT=true), `msg-cls train --from-store` trains a new version on it, and the new version beats
// the champion (an e-mail model that calls casual chat spam) on held-out messages of the same kind.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { loadClassifier } from '../../src/model/load.ts';
import { evaluateAny } from '../../src/train/train.ts';
import { chatCorpus } from '../fixtures/chat-corpus.ts';
import { rolloutRegistry, type TempRegistry } from '../helpers/rollout.ts';
import { CLI, startTestServer } from '../helpers/server.ts';

const run = promisify(execFile);

describe('train --from-store', () => {
  let reg: TempRegistry;
  let dir: string;
  before(async () => {
    reg = await rolloutRegistry({ challenger: false });
    dir = await mkdtemp(join(tmpdir(), 'msgcls-retrain-'));
  });
  after(async () => {
    await reg.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test('3,000 labelled chat messages of traffic → a new version that clearly beats the champion on new chat', async (t) => {
    const storeUrl = `sqlite:${join(dir, 'store.db')}`;
    const server = await startTestServer({
      MODEL_REGISTRY: reg.root,
      STORE_URL: storeUrl,
      STORE_TEXT: 'true',
      STORE_FLUSH_MS: '10',
    });
    try {
      const traffic = chatCorpus(3000, 11);
      for (let at = 0; at < traffic.length; at += 100) {
        const batch = traffic.slice(at, at + 100);
        const res = await fetch(`${server.url}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-user-id': `user-${at}` },
          body: JSON.stringify({ texts: batch.map((m) => m.text) }),
        });
        assert.equal(res.status, 200);
        const { request_id } = (await res.json()) as { request_id: string };
        const fb = await fetch(`${server.url}/feedback`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ items: batch.map((m, index) => ({ request_id, index, label: m.label })) }),
        });
        assert.equal(fb.status, 200);
      }
    } finally {
      await server.close();
    }

    // Too little data: a clear error that says what to do.
    await assert.rejects(
      run(process.execPath, [CLI, 'train', '--from-store', storeUrl, '--since', '2099-01-01', '--registry', reg.root]),
      /0 labelled predictions .* STORE_TEXT=true/s,
    );

    const { stdout } = await run(
      process.execPath,
      [CLI, 'train', '--from-store', storeUrl, '--since', '1h', '--registry', reg.root],
      { env: { ...process.env, MODEL_REGISTRY: reg.root } },
    );
    const out = JSON.parse(stdout);
    assert.equal(out.version, '2');
    assert.equal(out.alias, 'challenger');
    assert.equal(out.data.labelled_rows, 3000);
    assert.equal(out.data.holdout_rows, 600, 'the most recent 20 % are held out');
    assert.equal(out.holdout.champion.version, '1');
    assert.ok(out.holdout.new.f1 > out.holdout.champion.f1 + 0.2, JSON.stringify(out.holdout));

    // Fresh messages of the same kind, raw (as the service will see them), never seen in training.
    const fresh = chatCorpus(1000, 12).map((m) => ({ text: m.text, label: m.label }));
    const champion = await evaluateAny(
      (await loadClassifier(join(reg.root, 'msg_cls', 'versions', '1'))).classifier,
      fresh,
    );
    const retrained = await evaluateAny(
      (await loadClassifier(join(reg.root, 'msg_cls', 'versions', '2'))).classifier,
      fresh,
    );
    t.diagnostic(
      `fresh chat: champion F1 ${champion.f1.toFixed(3)} accuracy ${champion.accuracy.toFixed(3)}; retrained F1 ${retrained.f1.toFixed(3)} accuracy ${retrained.accuracy.toFixed(3)}; held-out slice: ${JSON.stringify(out.holdout)}`,
    );
    assert.ok(retrained.f1 >= 0.9, `retrained F1 ${retrained.f1}`);
    assert.ok(retrained.f1 > champion.f1 + 0.25, `retrained F1 ${retrained.f1} vs champion ${champion.f1}`);
    assert.ok(retrained.accuracy > champion.accuracy + 0.25, `accuracy ${retrained.accuracy} vs ${champion.accuracy}`);
  });
});
