// Micro-benchmark of the model's hot path and of artifact loading.
//
//   node bench/model.ts [MODEL_DIR]    (default: models/msg_cls/versions/1)
//
// Prints JSON: load time (cold, first load in this process; warm, best of 5), and µs per score() for
// a short message, a typical e-mail-sized text and a 20,000-character text, plus textStats() cost.

import { loadClassifier } from '../src/model/load.ts';
import { textStats } from '../src/model/text-stats.ts';

const dir = process.argv[2] ?? 'models/msg_cls/versions/1';

let t = performance.now();
const { classifier } = await loadClassifier(dir);
if (classifier.async)
  throw new Error(`bench/model.ts measures our own (synchronous) format; ${dir} holds an ONNX model`);
const coldLoadMs = performance.now() - t;
let warmLoadMs = Number.POSITIVE_INFINITY;
for (let i = 0; i < 5; i++) {
  t = performance.now();
  await loadClassifier(dir);
  warmLoadMs = Math.min(warmLoadMs, performance.now() - t);
}

const short = 'Buy cheap iPhone now';
const paragraph =
  'Hi Bob, thanks for the patch. I tried it on the build box this morning and the tests pass, ' +
  'but the docs target still fails with a missing dependency. Could you have a look before Friday? ' +
  'Details: https://example.org/ci/1234 — Alice';
let long = '';
while (long.length < 20000) long += `${paragraph} Ünïcödé ＦＲＥＥ 𝐟𝐫𝐞𝐞 $$$ 100% WIN!!! `;
long = long.slice(0, 20000);
const medium = long.slice(0, 2000);

function perCall(fn: () => void, minMs = 300): number {
  for (let i = 0; i < 1000; i++) fn(); // warm-up (JIT)
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    now = performance.now();
  }
  return ((now - start) * 1000) / n;
}

let sink = 0;
const result = {
  model_dir: dir,
  load_ms: { cold: +coldLoadMs.toFixed(2), warm_best_of_5: +warmLoadMs.toFixed(2) },
  score_us: {
    short_20_chars: +perCall(() => {
      sink += classifier.score(short);
    }).toFixed(3),
    medium_2000_chars: +perCall(() => {
      sink += classifier.score(medium);
    }).toFixed(2),
    long_20000_chars: +perCall(() => {
      sink += classifier.score(long);
    }, 1000).toFixed(1),
  },
  text_stats_us: {
    short_20_chars: +perCall(() => {
      sink += textStats(short, classifier).token_count;
    }).toFixed(3),
    long_20000_chars: +perCall(() => {
      sink += textStats(long, classifier).token_count;
    }, 1000).toFixed(1),
  },
  node: process.version,
};
if (Number.isNaN(sink)) console.error('unreachable');
console.log(JSON.stringify(result, null, 2));
