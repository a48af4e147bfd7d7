import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Example } from '../../src/data/types.ts';
import { ArtifactError, decodeFloat16LE, encodeFloat16LE, loadClassifier, saveModel } from '../../src/model/load.ts';
import { textStats } from '../../src/model/text-stats.ts';
import { type TrainedModel, trainClassifier } from '../../src/train/train.ts';

function dataset(): Example[] {
  const out: Example[] = [];
  for (let i = 0; i < 120; i++) {
    const spam = i % 2 === 0;
    const subject = spam ? `WIN cash prize ${i}` : `meeting notes ${i}`;
    const body = spam ? 'claim your free money now http://x.example' : 'see you at the review tomorrow';
    out.push({ text: `${subject}\n${body}`, label: spam ? 'spam' : 'ham', subject, body });
  }
  return out;
}

describe('saveModel / loadClassifier', () => {
  let root = '';
  let trained: TrainedModel;
  let dir = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'msgcls-model-'));
    trained = trainClassifier(dataset(), {
      seed: 1,
      epochs: 3,
      featurizer: { hashBits: 12 },
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    dir = join(root, 'v1');
    await saveModel(dir, trained);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('round-trips: identical scores, predictions, text stats and manifest', async () => {
    const { classifier, manifest } = await loadClassifier(dir);
    assert.ok(!classifier.async, 'our own format answers synchronously');
    const texts = ['WIN cash now', 'meeting tomorrow', '', 'Ünïcödé 𝐟𝐫𝐞𝐞 $$$', 'x'.repeat(20000)];
    for (const t of texts) {
      assert.equal(classifier.score(t), trained.classifier.score(t));
      assert.deepEqual(classifier.predict(t), trained.classifier.predict(t));
      assert.deepEqual(textStats(t, classifier), textStats(t, trained.classifier));
    }
    assert.deepEqual(manifest.metrics, JSON.parse(JSON.stringify(trained.manifest.metrics)));
    assert.equal(manifest.created_at, '2026-01-01T00:00:00.000Z');
    assert.deepEqual(Object.keys(manifest.files).sort(), ['vocab.bloom', 'weights.f16']);
    assert.equal(manifest.files['weights.f16'].bytes, 2 * 4096);
    assert.deepEqual(classifier.labels, ['ham', 'spam']);
    assert.equal(classifier.positiveLabel, 'spam');
  });

  it('refuses to overwrite unless asked', async () => {
    await assert.rejects(saveModel(dir, trained), /already exists/);
    await saveModel(dir, trained, { overwrite: true });
  });

  async function copy(name: string): Promise<string> {
    const d = join(root, name);
    await cp(dir, d, { recursive: true });
    return d;
  }

  it('names the file when model.json is missing or not JSON', async () => {
    await assert.rejects(loadClassifier(join(root, 'nope')), (err: Error) => {
      assert.ok(err instanceof ArtifactError);
      assert.match(err.message, /cannot read model directory .*nope.*ENOENT/);
      return true;
    });
    const noManifest = await copy('nomanifest');
    await rm(join(noManifest, 'model.json'));
    await assert.rejects(loadClassifier(noManifest), (err: Error) => {
      assert.ok(err instanceof ArtifactError);
      assert.match(err.message, /no model in .*nomanifest: expected model\.json/);
      return true;
    });
    const d = await copy('badjson');
    await writeFile(join(d, 'model.json'), '{ not json');
    await assert.rejects(loadClassifier(d), /badjson.*model\.json is not valid JSON/);
  });

  it('names the file when a weights or vocabulary file is missing or corrupt', async () => {
    const d1 = await copy('missing');
    await unlink(join(d1, 'weights.f16'));
    await assert.rejects(
      loadClassifier(d1),
      /model file .*missing.*weights\.f16 listed in model\.json cannot be read: ENOENT/,
    );

    const d2 = await copy('flipped');
    const w = await readFile(join(d2, 'weights.f16'));
    w[10] ^= 0xff;
    await writeFile(join(d2, 'weights.f16'), w);
    await assert.rejects(loadClassifier(d2), /model file .*flipped.*weights\.f16 is corrupt: SHA-256/);

    const d3 = await copy('truncated');
    const v = await readFile(join(d3, 'vocab.bloom'));
    await writeFile(join(d3, 'vocab.bloom'), v.subarray(0, 100));
    await assert.rejects(loadClassifier(d3), /vocab\.bloom is corrupt: 100 bytes, expected/);
  });

  it('rejects unknown formats and inconsistent manifests clearly', async () => {
    const d = await copy('format');
    const man = JSON.parse(await readFile(join(d, 'model.json'), 'utf8'));
    await writeFile(join(d, 'model.json'), JSON.stringify({ ...man, format: 'onnx/1' }));
    await assert.rejects(loadClassifier(d), /unknown model format "onnx\/1" .*loads: msgcls-linear\/1/);
    await writeFile(join(d, 'model.json'), JSON.stringify({ ...man, positive_label: 'eggs' }));
    await assert.rejects(loadClassifier(d), /positive_label "eggs" is not one of the two labels/);
    await writeFile(join(d, 'model.json'), JSON.stringify({ ...man, featurizer: { ...man.featurizer, hashBits: 13 } }));
    await assert.rejects(
      loadClassifier(d),
      /weights\.f16: 8192 bytes, expected 16384 \(8192 float16 weights for hashBits 13/,
    );
  });
});

describe('float16 encoding', () => {
  it('round-trips representable values and rounds others', () => {
    const bytes = encodeFloat16LE([0, 1, -2.5, 65504, 1e-8, 0.1]);
    assert.equal(bytes.length, 12);
    assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 0, 0x3c]); // 1.0 = 0x3c00 little-endian
    const back = decodeFloat16LE(bytes, 6);
    assert.deepEqual([...back.subarray(0, 4)], [0, 1, -2.5, 65504]);
    assert.ok(Math.abs(back[5] - 0.1) < 1e-4);
  });
});
