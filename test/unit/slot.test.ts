// The model slot behind hot swaps, on a real local registry with real model versions: in-flight
// requests keep their version, the old version is disposed after the last of them, checks never
// overlap, and stop() installs nothing more.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { acquireModel, releaseModel } from '../../src/http/state.ts';
import { createModelSlot, loadModel, type ModelSlotOptions, validateClassifier } from '../../src/model/slot.ts';
import { createLocalRegistry } from '../../src/registry/local.ts';
import type { Registry } from '../../src/registry/types.ts';
import { makeRegistry, NAME, type TestRegistry } from '../helpers/registry.ts';

let reg: TestRegistry;
before(async () => {
  reg = await makeRegistry([
    { kind: 'bias', bias: 1 },
    { kind: 'bias', bias: 2 },
  ]);
});
after(() => reg?.remove());

/** A slot on the test registry whose models record their disposal. */
function slotWith(registry: Registry, disposed: string[], extra: Partial<ModelSlotOptions> = {}) {
  return createModelSlot({
    registry,
    name: NAME,
    selector: { alias: 'champion' },
    role: 'champion',
    pollSeconds: 0,
    load: async (ref) => {
      const m = await loadModel(ref);
      m.classifier.dispose = () => {
        disposed.push(ref.version);
      };
      return m;
    },
    ...extra,
  });
}

async function started(registry: Registry, disposed: string[], extra: Partial<ModelSlotOptions> = {}) {
  await reg.alias('1');
  const slot = slotWith(registry, disposed, extra);
  slot.install(await slot.load(await registry.resolve(NAME, { alias: 'champion' })), 'start');
  return slot;
}

describe('model slot', () => {
  test('a request holding the old version finishes on it; the old version is disposed after it', async () => {
    const disposed: string[] = [];
    const registry = createLocalRegistry(reg.root);
    const slot = await started(registry, disposed);
    const held = acquireModel(slot.current() as NonNullable<ReturnType<typeof slot.current>>);
    await reg.alias('2');
    const outcome = await slot.reload('admin');
    assert.equal(outcome.outcome, 'swapped');
    assert.equal(slot.current()?.ref.version, '2');
    assert.deepEqual(disposed, [], 'not disposed while a request holds it');
    assert.ok(!held.classifier.async, 'our own format answers synchronously');
    assert.equal(held.classifier.predict('still works').label.length > 0, true);
    releaseModel(held);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(disposed, ['1']);
    await slot.stop({ release: true });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(disposed, ['1', '2']);
  });

  test('checks never overlap; checks asked for meanwhile coalesce into one more', async () => {
    const disposed: string[] = [];
    const local = createLocalRegistry(reg.root);
    let active = 0;
    let maxActive = 0;
    let lookups = 0;
    const slow: Registry = {
      ...local,
      async lookup(name, selector) {
        lookups++;
        active++;
        maxActive = Math.max(maxActive, active);
        try {
          await new Promise((r) => setTimeout(r, 100));
          return await local.lookup(name, selector);
        } finally {
          active--;
        }
      },
    };
    const slot = await started(slow, disposed);
    await reg.alias('2');
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => slot.reload('admin')));
    assert.equal(maxActive, 1);
    assert.equal(lookups, 2, 'the running check and one more for all the others');
    assert.equal(outcomes[0].outcome, 'swapped');
    for (const o of outcomes.slice(1)) assert.equal(o.outcome, 'unchanged');
    assert.equal(slot.status().reloads, 1);
    await slot.stop();
  });

  test('polling: one check at a time even when the registry is slower than the interval; stop ends it', async () => {
    const disposed: string[] = [];
    const local = createLocalRegistry(reg.root);
    let active = 0;
    let maxActive = 0;
    let lookups = 0;
    const slow: Registry = {
      ...local,
      async lookup(name, selector) {
        lookups++;
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 1200));
        active--;
        return local.lookup(name, selector);
      },
    };
    const slot = await started(slow, disposed, { pollSeconds: 1 });
    slot.startPolling();
    slot.startPolling(); // idempotent
    await new Promise((r) => setTimeout(r, 2600));
    assert.equal(maxActive, 1);
    assert.ok(lookups >= 1 && lookups <= 2, `lookups: ${lookups}`);
    await reg.alias('3');
    await slot.stop();
    const after = lookups;
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(lookups, after, 'no check after stop');
    assert.equal(slot.current()?.ref.version, '1', 'nothing installed after stop');
  });

  test('a version loaded while the slot stops is released, not installed', async () => {
    const disposed: string[] = [];
    const registry = createLocalRegistry(reg.root);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slot = await started(registry, disposed);
    const gated = slotWith(registry, disposed, {
      load: async (ref) => {
        await gate;
        return slot.load(ref);
      },
    });
    gated.install(slot.current() as NonNullable<ReturnType<typeof slot.current>>, 'start');
    await reg.alias('2');
    const pending = gated.reload('poll');
    await new Promise((r) => setTimeout(r, 50));
    const stopped = gated.stop();
    release();
    const outcome = await pending;
    await stopped;
    assert.equal(outcome.outcome, 'failed');
    assert.match((outcome as { error: string }).error, /stopping/);
    assert.equal(gated.current()?.ref.version, '1');
    assert.equal(gated.status().reload_failures, 0, 'stopping is not a failure');
    assert.deepEqual(disposed, ['2']);
  });

  test('validation refuses a model whose probabilities are not finite or do not sum to 1', async () => {
    const good = await loadModel(await createLocalRegistry(reg.root).resolve(NAME, { version: '1' }));
    await validateClassifier(good);
    const broken = (probabilities: Record<string, number>) => ({
      ...good,
      classifier: {
        ...good.classifier,
        labels: good.classifier.labels,
        positiveLabel: 'spam',
        predict: () => ({ label: 'spam', proba: 0.5, probabilities }),
      },
    });
    await assert.rejects(validateClassifier(broken({ ham: Number.NaN, spam: 0.5 })), /probability NaN for label "ham"/);
    await assert.rejects(validateClassifier(broken({ ham: 0.7, spam: 0.7 })), /sum to 1.4/);
    await assert.rejects(validateClassifier(broken({ spam: 1 })), /undefined for label "ham"/);
  });
});
