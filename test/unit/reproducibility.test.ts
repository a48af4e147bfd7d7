// Retrains the committed default model (SpamAssassin, seed 42) and compares it with the artifact in
// models/msg_cls/versions/1: same metrics, byte-identical weights and vocabulary filter. ~5–10 s.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadDataset } from '../../src/data/load.ts';
import type { ModelManifest } from '../../src/model/types.ts';
import { trainClassifier } from '../../src/train/train.ts';

const dir = join(import.meta.dirname, '..', '..', 'models', 'msg_cls', 'versions', '1');

describe('default model reproducibility', () => {
  it('retraining with seed 42 reproduces the committed artifact', async () => {
    const committed = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelManifest;
    const dataset = await loadDataset('spamassassin');
    const trained = trainClassifier(dataset.examples, { seed: 42, source: dataset.source });
    assert.deepEqual(JSON.parse(JSON.stringify(trained.manifest.metrics)), committed.metrics);
    assert.deepEqual(JSON.parse(JSON.stringify(trained.manifest.reference)), committed.reference);
    for (const [name, bytes] of Object.entries(trained.files)) {
      const digest = createHash('sha256').update(bytes).digest('hex');
      assert.equal(digest, committed.files[name].sha256, `${name} differs from the committed artifact`);
    }
    // the targets this model is held to
    const m = committed.metrics as Record<string, { f1: number }>;
    assert.ok(m.holdout.f1 >= 0.975, `holdout F1 ${m.holdout.f1}`);
    assert.ok(m.holdout_subject_only.f1 >= 0.8, `subject-only F1 ${m.holdout_subject_only.f1}`);
  });
});
