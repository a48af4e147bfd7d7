// Train the committed default model from the SpamAssassin corpus with seed 42 and write it to
// models/msg_cls/versions/1/ (registry layout), with models/msg_cls/aliases.json = {"champion": "1"}.
//
//   node scripts/train-default.ts [--seed 42] [--root models] [--name msg_cls] [--version 1]
//
// Prints a JSON summary (metrics, timings, artifact size) on stdout.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/load.ts';
import { saveModel } from '../src/model/load.ts';
import { trainClassifier } from '../src/train/train.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '42' },
    root: { type: 'string', default: 'models' },
    name: { type: 'string', default: 'msg_cls' },
    version: { type: 'string', default: '1' },
  },
});
const t0 = performance.now();
const dataset = await loadDataset('spamassassin');
const loadMs = performance.now() - t0;
const trained = trainClassifier(dataset.examples, { seed: Number(values.seed), source: dataset.source });
const trainMs = performance.now() - t0;
const dir = join(values.root as string, values.name as string, 'versions', values.version as string);
const manifest = await saveModel(dir, trained, { overwrite: true });
await writeFile(
  join(values.root as string, values.name as string, 'aliases.json'),
  `${JSON.stringify({ champion: values.version }, null, 2)}\n`,
);
const bytes = Object.values(manifest.files).reduce((s, f) => s + f.bytes, 0);
console.log(
  JSON.stringify(
    {
      dir,
      metrics: manifest.metrics,
      timings_ms: { load_and_extract: Math.round(loadMs), ...trained.timings, total: Math.round(trainMs) },
      artifact_bytes: bytes,
    },
    null,
    2,
  ),
);
