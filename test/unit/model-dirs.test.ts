// How loadClassifier recognises a model directory, and the errors for ones it cannot serve. No Python
// here (the ONNX models themselves are tested in test/models, which builds them): these paths fail
// before onnxruntime is needed. Also: the default model never loads onnxruntime-node.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { loadClassifier } from '../../src/model/load.ts';
import { DEFAULT_REGISTRY, ROOT } from '../helpers/server.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'msgcls-model-dirs-'));
});
after(() => rm(root, { recursive: true, force: true }));

async function dirWith(name: string, files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) await writeFile(join(dir, f), content);
  return dir;
}

describe('loadClassifier: which format a directory holds', () => {
  test('an empty directory names the formats it could have held', async () => {
    const dir = await dirWith('empty', {});
    await assert.rejects(loadClassifier(dir), (err: Error) => {
      assert.equal(err.name, 'ArtifactError');
      assert.match(err.message, /no model in .*empty: expected model\.json .*MLmodel .*\.onnx file/);
      return true;
    });
  });

  test('a missing directory', async () => {
    await assert.rejects(loadClassifier(join(root, 'nope')), /cannot read model directory .*nope: ENOENT/);
  });

  test('an MLflow model without an onnx flavor says to convert and log it with mlflow.onnx', async () => {
    const dir = await dirWith('mlflow-sklearn', {
      MLmodel:
        'flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n  sklearn:\n    pickled_model: model.pkl\n',
    });
    await assert.rejects(loadClassifier(dir), (err: Error) => {
      assert.equal(err.name, 'ArtifactError');
      assert.match(err.message, /no onnx flavor .*\(flavors: python_function, sklearn\).*mlflow\.onnx\.log_model/);
      return true;
    });
  });

  test('an MLmodel that is not YAML, and one whose data escapes the directory', async () => {
    const bad = await dirWith('mlflow-bad', { MLmodel: 'flavors: [unclosed' });
    await assert.rejects(loadClassifier(bad), /MLmodel is not valid YAML/);
    const outside = await dirWith('mlflow-escape', { MLmodel: 'flavors:\n  onnx:\n    data: ../../etc/passwd\n' });
    await assert.rejects(loadClassifier(outside), /must be a file inside the model directory/);
  });

  test('a .onnx file that is not an ONNX model names the file', async () => {
    const dir = await dirWith('garbage', { 'model.onnx': new Uint8Array([0xff, 0xff, 0xff, 0x07, 1, 2, 3]) });
    await assert.rejects(loadClassifier(dir), (err: Error) => {
      assert.equal(err.name, 'ArtifactError');
      assert.match(err.message, /garbage\/model\.onnx: not a readable ONNX model/);
      return true;
    });
  });

  test('several .onnx files and no model.onnx: says which to keep', async () => {
    const dir = await dirWith('two', { 'a.onnx': '', 'b.onnx': '' });
    await assert.rejects(loadClassifier(dir), /several \.onnx files \(a\.onnx, b\.onnx\)/);
  });
});

test('the default model (our format) never loads onnxruntime-node or the tokenizer', async () => {
  const script = `
    import { loadClassifier } from './src/model/load.ts';
    import { createRequire } from 'node:module';
    const { classifier } = await loadClassifier(${JSON.stringify(join(DEFAULT_REGISTRY, 'msg_cls', 'versions', '1'))});
    classifier.predict('hello');
    const shared = process.report.getReport().sharedObjects.filter((s) => /onnxruntime/.test(s));
    const cjs = Object.keys(createRequire(import.meta.url).cache).filter((k) => /onnxruntime|tokenizers/.test(k));
    console.log(JSON.stringify({ shared, cjs }));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
  assert.deepEqual(JSON.parse(stdout), { shared: [], cjs: [] });
});
