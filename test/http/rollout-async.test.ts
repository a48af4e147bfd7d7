// A rollout whose challenger answers asynchronously, as ONNX models do (onnxruntime): the default
// model behind the asynchronous classifier interface (predictBatch → Promise), so that the data
// plane's async paths — canary answers and shadow batches — run on a real server.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { createState, type LoadedModel } from '../../src/http/state.ts';
import { loadModel } from '../../src/model/slot.ts';
import type { AsyncClassifier, SyncClassifier } from '../../src/model/types.ts';
import { createObservability } from '../../src/server.ts';
import { DEFAULT_REGISTRY, LogCapture } from '../helpers/server.ts';

const V1 = join(DEFAULT_REGISTRY, 'msg_cls', 'versions', '1');

async function asyncVersion(role: 'challenger' | 'shadow'): Promise<LoadedModel> {
  const m = await loadModel({ name: 'msg_cls', version: '1', alias: 'challenger', dir: V1 }, role);
  const sync = m.classifier as SyncClassifier;
  const classifier: AsyncClassifier = {
    async: true,
    labels: sync.labels,
    positiveLabel: sync.positiveLabel,
    predictBatch: async (texts) => {
      await new Promise((r) => setImmediate(r));
      return texts.map((t) => sync.predict(t));
    },
  };
  return { ...m, classifier, info: { name: 'msg_cls', version: '2', role } };
}

/** A challenger whose every call fails (a broken model): what the guard is for. */
async function brokenVersion(): Promise<LoadedModel> {
  const m = await loadModel({ name: 'msg_cls', version: '1', alias: 'challenger', dir: V1 }, 'challenger');
  const sync = m.classifier as SyncClassifier;
  const classifier: SyncClassifier = {
    labels: sync.labels,
    positiveLabel: sync.positiveLabel,
    score: () => Number.NaN,
    predict: () => {
      throw new Error('broken model');
    },
  };
  return { ...m, classifier, info: { name: 'msg_cls', version: '3', role: 'challenger' } };
}

async function serve(mode: 'canary' | 'shadow', challenger?: LoadedModel, extra: Record<string, string> = {}) {
  const env = { ROLLOUT_MODE: mode, CHALLENGER_ALIAS: 'challenger', CANARY_PERCENT: '50', STORE_URL: 'off', ...extra };
  const config = loadConfig(env);
  const state = createState();
  state.model = await loadModel({ name: 'msg_cls', version: '1', alias: 'champion', dir: V1 });
  state.challenger = challenger ?? (await asyncVersion(mode === 'shadow' ? 'shadow' : 'challenger'));
  state.phase = 'ready';
  const obs = await createObservability(config, { env: {}, destination: new LogCapture() });
  const app = await buildApp({ config, state, ...obs });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}` };
}

async function predict(url: string, body: unknown, user: string) {
  const res = await fetch(`${url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  // biome-ignore lint/suspicious/noExplicitAny: checked field by field
  return (await res.json()) as any;
}

describe('an asynchronous challenger', () => {
  let canary: Awaited<ReturnType<typeof serve>>;
  let shadow: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    canary = await serve('canary');
    shadow = await serve('shadow');
  });
  after(async () => {
    await canary?.app.close();
    await shadow?.app.close();
  });

  test('canary: its users get its answers through the async path, single texts and batches', async () => {
    const roles = new Set<string>();
    for (let u = 0; u < 40; u++) {
      const one = await predict(canary.url, { text: 'see you at lunch' }, `u${u}`);
      const many = await predict(canary.url, { texts: ['see you at lunch', 'WINNER claim now'] }, `u${u}`);
      assert.equal(many.model.role, one.model.role, 'sticky');
      assert.equal(many.predictions.length, 2);
      assert.ok(Math.abs(one.probabilities.spam + one.probabilities.ham - 1) < 1e-9);
      roles.add(one.model.role);
    }
    assert.deepEqual([...roles].sort(), ['challenger', 'champion']);
    const metrics = await (await fetch(`${canary.url}/metrics`)).text();
    assert.match(
      metrics,
      /msgcls_predictions_total\{model_name="msg_cls",model_version="2",role="challenger",label="\w+"\} \d+/,
    );
  });

  test('shadow: the async challenger scores every text in batches, and agrees with its own copy', async () => {
    for (let u = 0; u < 30; u++)
      await predict(shadow.url, { texts: ['see you at lunch', 'WINNER claim now'] }, `u${u}`);
    await new Promise((r) => setTimeout(r, 50));
    const report = (await (await fetch(`${shadow.url}/monitoring/rollout`)).json()) as {
      rollout: { agreement: { compared: number; agreed: number } };
    };
    assert.deepEqual(report.rollout.agreement.compared, 60);
    assert.equal(report.rollout.agreement.agreed, 60, 'the same model behind both interfaces agrees with itself');
  });
});

describe('a failing challenger', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    server = await serve('canary', await brokenVersion(), { GUARD_MIN_REQUESTS: '10', GUARD_MAX_ERROR_RATIO: '0.05' });
  });
  after(async () => {
    await server?.app.close();
  });

  test('its failures are 500s for its users until the guard takes it out: then everyone gets the champion', async () => {
    let failures = 0;
    for (let u = 0; u < 60; u++) {
      const res = await fetch(`${server.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': `u${u}` },
        body: JSON.stringify({ text: 'hello' }),
      });
      if (res.status === 500) failures++;
      else assert.equal(((await res.json()) as { model: { role: string } }).model.role, 'champion');
    }
    // The guard judges after GUARD_MIN_REQUESTS challenger calls: the 10th failure trips it.
    assert.equal(failures, 10);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /msgcls_rollout_errors_total\{role="challenger"\} 10/);
    assert.match(metrics, /msgcls_rollout_guard_tripped 1/);
  });
});
