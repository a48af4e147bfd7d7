// Hot swaps across formats under load: our model → a scikit-learn ONNX model → a transformer → back
// (all three with the labels ham and spam: a swap keeps the served labels),
// with requests in flight the whole time. No request fails, each answer carries the version that
// computed it (with that version's labels), and swapped-out ONNX sessions are released.

import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pythonFixture } from '../helpers/model-fixtures.ts';
import { DEFAULT_REGISTRY, postJson, startTestServer, type TestServer } from '../helpers/server.ts';

let root: string;
let server: TestServer;
const setAlias = (version: string) =>
  writeFile(join(root, 'mix', 'aliases.json'), `${JSON.stringify({ champion: version })}\n`);

before(async () => {
  const sklearn = await pythonFixture('sklearn_onnx.py');
  const bert = await pythonFixture('tiny_bert.py');
  root = await mkdtemp(join(tmpdir(), 'msgcls-onnx-swap-'));
  await cp(join(DEFAULT_REGISTRY, 'msg_cls', 'versions', '1'), join(root, 'mix', 'versions', '1'), { recursive: true });
  await cp(join(sklearn, 'binary'), join(root, 'mix', 'versions', '2'), { recursive: true });
  await cp(join(bert, 'bert3'), join(root, 'mix', 'versions', '3'), { recursive: true });
  await setAlias('1');
  server = await startTestServer({
    MODEL_REGISTRY: root,
    MODEL_NAME: 'mix',
    MODEL_POLL_SECONDS: '0',
    LOG_LEVEL: 'debug',
  });
});
after(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

test('swaps between formats while requests run: every request answered by the version it started on', async () => {
  const formatOf: Record<string, string> = {};
  const statuses = new Map<number, number>();
  const seen = new Set<string>();
  let running = true;
  const worker = async () => {
    let i = 0;
    while (running) {
      const body = i++ % 2 ? { text: 'Buy cheap iPhone now' } : { texts: ['meeting at 3', 'free prize', 'hello'] };
      const res = await postJson(`${server.url}/predict`, body);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 200) continue;
      const version = res.json.model.version as string;
      seen.add(version);
      const p = (res.json.predictions?.[0] ?? res.json) as { probabilities: Record<string, number> };
      assert.deepEqual(Object.keys(p.probabilities).sort(), ['ham', 'spam'], `version ${version}`);
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  try {
    for (const version of ['2', '3', '1', '3', '2', '1']) {
      await setAlias(version);
      const r = await fetch(`${server.url}/admin/reload`, { method: 'POST' });
      const body = (await r.json()) as { outcome: string; format?: string };
      assert.equal(r.status, 200);
      assert.equal(body.outcome, 'swapped', JSON.stringify(body));
      formatOf[version] = server.state.model?.manifest.format ?? '';
      await new Promise((r) => setTimeout(r, 150));
    }
  } finally {
    running = false;
    await Promise.all(workers);
  }
  assert.deepEqual(formatOf, { '1': 'msgcls-linear/1', '2': 'onnx-sklearn', '3': 'onnx-transformer' });
  assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);
  assert.deepEqual([...seen].sort(), ['1', '2', '3']);
  // Every swapped-out version was released (ONNX: session.release()), none failed to.
  await new Promise((r) => setTimeout(r, 100));
  const records = server.logs.records();
  assert.equal(records.filter((r) => r.msg === 'swapped-out model released').length, 6);
  assert.equal(records.filter((r) => String(r.msg).startsWith('releasing a swapped-out model failed')).length, 0);
  const health = (await (await fetch(`${server.url}/health`)).json()) as { model: { version: string } };
  assert.equal(health.model.version, '1');
});
