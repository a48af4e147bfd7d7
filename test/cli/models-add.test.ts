// `msg-cls models add NAME DIR`: a directory becomes a new local version only if it loads; versions in
// formats without their own checksums get checksums.json, which the registry checks on every hand-out.

import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeChecksums } from '../../src/registry/checksums.ts';
import { createLocalRegistry, registerVersion } from '../../src/registry/local.ts';
import { DEFAULT_REGISTRY, runCli } from '../helpers/server.ts';

let dir: string;

const run = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { MODEL_REGISTRY: join(dir, 'reg'), MLFLOW_TRACKING_URI: '', ...env });

describe('msg-cls models add', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msgcls-add-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('our own format: registered as version 1 with the alias, and served from there', async () => {
    const added = await run([
      'models',
      'add',
      'spam',
      join(DEFAULT_REGISTRY, 'msg_cls', 'versions', '1'),
      '--alias',
      'champion',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual([added.json.version, added.json.alias, added.json.format], ['1', 'champion', 'msgcls-linear/1']);
    assert.deepEqual(added.json.labels, ['ham', 'spam']);
    const listed = await run(['models', 'spam']);
    assert.deepEqual(listed.json.aliases, { champion: '1' });
    const predicted = await run(['predict', 'WINNER!! Claim your FREE prize now'], { MODEL_NAME: 'spam' });
    assert.equal(predicted.code, 0, predicted.stderr);
    assert.equal(predicted.json.label, 'spam');
  });

  test('a directory that does not load is refused and nothing is registered', async () => {
    const bad = join(dir, 'bad');
    await mkdir(bad);
    await writeFile(join(bad, 'model.onnx'), 'not onnx');
    const res = await run(['models', 'add', 'spam', bad]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /does not load as a model, so nothing was registered/);
    assert.ok(!res.stderr.includes('.incoming-'), 'the message names the temporary copy');
    assert.deepEqual((await run(['models', 'spam'])).json.versions.length, 1);
    const missing = await run(['models', 'add', 'spam', join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /is not a directory/);
    assert.equal((await run(['models', 'add', 'spam'])).code, 2);
  });

  test('checksums.json is checked whenever the local registry hands a version out', async () => {
    const root = join(dir, 'sums');
    const ref = await registerVersion(root, 'm', async (d) => {
      await cp(join(DEFAULT_REGISTRY, 'msg_cls', 'versions', '1'), d, { recursive: true });
      await writeFile(join(d, 'tokenizer.json'), '{"a":1}');
      await writeChecksums(d, 'files');
    });
    const registry = createLocalRegistry(root);
    assert.equal((await registry.resolve('m', { version: '1' })).dir, ref.dir);
    const sums = JSON.parse(await readFile(join(ref.dir, 'checksums.json'), 'utf8'));
    assert.ok(sums.files['tokenizer.json'] && sums.files['weights.f16']);
    await writeFile(join(ref.dir, 'tokenizer.json'), '{"a":2}');
    await assert.rejects(registry.resolve('m', { version: '1' }), /tokenizer\.json is corrupt/);
    await assert.rejects(registry.fetch('m', '1'), /tokenizer\.json is corrupt/);
  });
});
