// msg-cls against a real MLflow tracking server (one per file, started by the test): serving a
// registered scikit-learn pipeline (ONNX) and our own format logged by `train --registry mlflow`, the
// errors a user can act on, `msg-cls models` on MLflow, and the model cache when MLflow goes down.
// Run with `npm run test:mlflow` after `bash scripts/python-venv.sh`.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type MlflowServer, startMlflowServer } from '../helpers/mlflow.ts';
import { pythonPath } from '../helpers/python.ts';
import { freePort, postJson, runCli, spawnServer } from '../helpers/server.ts';

const run$ = promisify(execFile);

let dir: string;
let mlflow: MlflowServer;
let cacheDir: string;
let sklearn: { name: string; version: string; classes: string[]; texts: string[]; proba: number[][] };

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { MLFLOW_TRACKING_URI: mlflow.url, MODEL_CACHE_DIR: cacheDir, ...env });

function serve(env: Record<string, string> = {}) {
  return spawnServer({ MLFLOW_TRACKING_URI: mlflow.url, MODEL_CACHE_DIR: cacheDir, ...env });
}

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON shapes
async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON shapes
async function mlflowGet(path: string): Promise<any> {
  return (await fetch(`${mlflow.url}/api/2.0/mlflow/${path}`)).json();
}

describe('MLflow Model Registry (real mlflow server)', { timeout: 600_000 }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msgcls-mlflow-'));
    cacheDir = join(dir, 'cache');
    mlflow = await startMlflowServer({ dir: join(dir, 'server') });
    const { stdout } = await run$(
      pythonPath(),
      [join(import.meta.dirname, 'register_sklearn.py'), mlflow.url, 'skl_cls'],
      {
        env: { ...process.env, MLFLOW_TRACKING_URI: mlflow.url },
        maxBuffer: 1 << 24,
      },
    );
    sklearn = JSON.parse(stdout.trim().split('\n').at(-1) as string);
  });

  after(async () => {
    await mlflow?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('train --registry mlflow logs a run and registers our format; serve follows MODEL_NAME at MODEL_ALIAS', async () => {
    const trained = await cli([
      'train',
      '--data',
      'test/fixtures/short-messages.jsonl',
      '--name',
      'msg_cls',
      '--alias',
      'champion',
      '--registry',
      'mlflow',
      '--seed',
      '7',
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    assert.equal(trained.json.version, '1');
    const run = await mlflowGet(`runs/get?run_id=${trained.json.run_id}`);
    assert.equal(run.run.info.status, 'FINISHED');
    assert.ok(run.run.data.params.some((p: { key: string; value: string }) => p.key === 'seed' && p.value === '7'));
    assert.ok(run.run.data.metrics.some((m: { key: string }) => m.key === 'holdout.f1'));
    const alias = await mlflowGet('registered-models/alias?name=msg_cls&alias=champion');
    assert.equal(alias.model_version.version, '1');

    // The same data and seed trained into a local registry: the served model must answer the same.
    const local = join(dir, 'local');
    const localTrain = await cli([
      'train',
      '--data',
      'test/fixtures/short-messages.jsonl',
      '--registry',
      local,
      '--seed',
      '7',
      '--alias',
      'champion',
    ]);
    assert.equal(localTrain.code, 0, localTrain.stderr);
    const expected = await cli(['predict', 'Claim your free prize now'], {
      MODEL_REGISTRY: local,
      MLFLOW_TRACKING_URI: '',
    });
    assert.equal(expected.code, 0, expected.stderr);

    // `predict` and `eval` go through the same registry as `serve`: MLflow, by MODEL_NAME at MODEL_ALIAS.
    const viaMlflow = await cli(['predict', 'Claim your free prize now'], { MODEL_REGISTRY: local });
    assert.equal(viaMlflow.code, 0, viaMlflow.stderr);
    assert.deepEqual(viaMlflow.json.model, { name: 'msg_cls', version: '1' });
    assert.equal(viaMlflow.json.label, expected.json.label);
    assert.ok(Math.abs(viaMlflow.json.proba - expected.json.proba) < 1e-12);
    const evaluated = await cli(['eval', '--data', 'test/fixtures/short-messages.jsonl', '--alias', 'champion']);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.equal(evaluated.json.model.version, '1');
    assert.equal(evaluated.json.model.alias, 'champion');
    assert.ok(evaluated.json.n > 0 && evaluated.json.accuracy > 0.5);

    const server = await serve({ MODEL_NAME: 'msg_cls', MODEL_ALIAS: 'champion' });
    try {
      const health = await getJson(`${server.url}/health`);
      assert.equal(health.status, 'ok');
      assert.deepEqual(
        { version: health.model.version, alias: health.model.alias, origin: health.model.origin },
        { version: '1', alias: 'champion', origin: 'registry' },
      );
      const res = await postJson(`${server.url}/predict`, { text: 'Claim your free prize now' });
      assert.equal(res.status, 200);
      assert.equal(res.json.label, expected.json.label);
      assert.ok(Math.abs(res.json.proba - expected.json.proba) < 1e-12);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
    // The cache holds the version with a checksum per file, and the alias it was resolved through.
    const cached = JSON.parse(
      await readFile(join(cacheDir, `127.0.0.1_${mlflow.port}`, 'msg_cls', 'versions', '1', 'cache.json'), 'utf8'),
    );
    assert.deepEqual(Object.keys(cached.files).sort(), ['model.json', 'vocab.bloom', 'weights.f16']);
    assert.match(cached.files['model.json'].sha256, /^[0-9a-f]{64}$/);
    const aliases = JSON.parse(
      await readFile(join(cacheDir, `127.0.0.1_${mlflow.port}`, 'msg_cls', 'aliases.json'), 'utf8'),
    );
    assert.equal(aliases.champion.version, '1');
  });

  function assertParity(predictions: { probabilities: Record<string, number> }[]) {
    assert.equal(predictions.length, sklearn.texts.length);
    predictions.forEach((p, i) => {
      sklearn.classes.forEach((label, k) => {
        const diff = Math.abs(p.probabilities[label] - sklearn.proba[i][k]);
        assert.ok(diff < 1e-5, `text ${i} label ${label}: ${p.probabilities[label]} vs sklearn ${sklearn.proba[i][k]}`);
      });
    });
  }

  test('a scikit-learn pipeline logged with mlflow.onnx: probabilities equal predict_proba within 1e-5', async () => {
    const server = await serve({ MODEL_NAME: 'skl_cls', MODEL_ALIAS: 'champion' });
    try {
      const health = await getJson(`${server.url}/health`);
      assert.equal(health.model.version, sklearn.version);
      const res = await postJson(`${server.url}/predict`, { texts: sklearn.texts });
      assert.equal(res.status, 200, res.text);
      assertParity(res.json.predictions);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }

    // The same MLflow model directory, added to a local registry with `models add`, serves the same.
    const mlflowDir = join(cacheDir, `127.0.0.1_${mlflow.port}`, 'skl_cls', 'versions', sklearn.version, 'model');
    const local = join(dir, 'local-skl');
    const added = await cli(['models', 'add', 'skl_local', mlflowDir, '--alias', 'champion', '--registry', local]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.json.format, 'mlflow-model');
    const localServer = await spawnServer({ MODEL_REGISTRY: local, MODEL_NAME: 'skl_local', MLFLOW_TRACKING_URI: '' });
    try {
      const res = await postJson(`${localServer.url}/predict`, { texts: sklearn.texts });
      assert.equal(res.status, 200, res.text);
      assertParity(res.json.predictions);
    } finally {
      localServer.proc.kill('SIGTERM');
      await localServer.exited;
    }
  });

  test('an unknown model or alias stops the start with a message naming both (exit 2)', async () => {
    const noModel = await cli(['serve'], {
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_NAME: 'no_such_model',
      MODEL_ALIAS: 'champion',
    });
    assert.equal(noModel.code, 2);
    assert.match(
      noModel.stderr,
      /model "no_such_model" is not registered on MLflow tracking server http:\/\/127\.0\.0\.1:\d+/,
    );
    assert.match(noModel.stderr, /set MODEL_NAME/);

    const noAlias = await cli(['serve'], {
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_NAME: 'msg_cls',
      MODEL_ALIAS: 'nosuchalias',
    });
    assert.equal(noAlias.code, 2);
    assert.match(noAlias.stderr, /model msg_cls has no alias "nosuchalias"/);
    assert.match(noAlias.stderr, /aliases: champion → 1/);
    assert.match(noAlias.stderr, /set MODEL_ALIAS/);

    const noVersion = await cli(['serve'], {
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_NAME: 'msg_cls',
      MODEL_VERSION: '99',
    });
    assert.equal(noVersion.code, 2);
    assert.match(noVersion.stderr, /model msg_cls has no version 99/);
  });

  test('msg-cls models lists MLflow models and re-points and deletes aliases there', async () => {
    const listed = await cli(['models']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.json.kind, 'mlflow');
    const names = listed.json.models.map((m: { name: string }) => m.name);
    assert.ok(names.includes('msg_cls') && names.includes('skl_cls'), names.join(','));
    const one = await cli(['models', 'msg_cls']);
    assert.deepEqual(one.json.aliases, { champion: '1' });
    assert.equal(one.json.versions[0].format, 'msgcls-linear/1');

    const set = await cli(['models', 'alias', 'msg_cls', 'challenger', '1']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await mlflowGet('registered-models/alias?name=msg_cls&alias=challenger')).model_version.version, '1');
    const bad = await cli(['models', 'alias', 'msg_cls', 'challenger', '42']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no version 42/);
    const del = await cli(['models', 'alias', 'msg_cls', 'challenger', '--delete']);
    assert.equal(del.code, 0, del.stderr);
    const gone = await mlflowGet('registered-models/alias?name=msg_cls&alias=challenger');
    assert.equal(gone.error_code, 'INVALID_PARAMETER_VALUE');
    const again = await cli(['models', 'alias', 'msg_cls', 'challenger', '--delete']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /has no alias challenger/);
  });

  test('msg-cls rollout status, rollback and promote act on the MLflow aliases', async () => {
    assert.equal((await cli(['models', 'alias', 'msg_cls', 'challenger', '1'])).code, 0);
    const status = await cli(['rollout', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(status.json.versions, { champion: '1', challenger: '1' });
    const rollback = await cli(['rollout', 'rollback']);
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.equal(
      (await mlflowGet('registered-models/alias?name=msg_cls&alias=challenger')).error_code,
      'INVALID_PARAMETER_VALUE',
    );
    assert.equal((await cli(['models', 'alias', 'msg_cls', 'challenger', '1'])).code, 0);
    const promote = await cli(['rollout', 'promote']);
    assert.equal(promote.code, 0, promote.stderr);
    assert.deepEqual(promote.json.champion, { alias: 'champion', version: '1', previous: '1' });
    assert.equal((await mlflowGet('registered-models/alias?name=msg_cls&alias=champion')).model_version.version, '1');
    assert.equal(
      (await mlflowGet('registered-models/alias?name=msg_cls&alias=challenger')).error_code,
      'INVALID_PARAMETER_VALUE',
    );
  });

  test('the service follows its alias on MLflow: a re-pointed alias is downloaded and swapped in, and back', async () => {
    const second = await cli([
      'train',
      '--data',
      'test/fixtures/short-messages.jsonl',
      '--name',
      'msg_cls',
      '--registry',
      'mlflow',
      '--seed',
      '8',
    ]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.json.version, '2');
    const server = await serve({ MODEL_NAME: 'msg_cls', MODEL_ALIAS: 'champion', MODEL_POLL_SECONDS: '1' });
    try {
      assert.equal((await cli(['models', 'alias', 'msg_cls', 'champion', '2'])).code, 0);
      await server.waitForLog((r) => r.msg === 'model swapped: version 1 → 2', 30_000);
      assert.equal((await postJson(`${server.url}/predict`, { text: 'free prize' })).json.model.version, '2');
      assert.equal((await cli(['models', 'alias', 'msg_cls', 'champion', '1'])).code, 0);
      await server.waitForLog((r) => r.msg === 'model swapped: version 2 → 1', 30_000);
      const health = await getJson(`${server.url}/health`);
      assert.deepEqual([health.model.version, health.model.origin], ['1', 'registry']);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
    const aliases = JSON.parse(
      await readFile(join(cacheDir, `127.0.0.1_${mlflow.port}`, 'msg_cls', 'aliases.json'), 'utf8'),
    );
    assert.equal(aliases.champion.version, '1');
  });

  test('a corrupt cached file is downloaded again while MLflow answers', async () => {
    const weights = join(cacheDir, `127.0.0.1_${mlflow.port}`, 'msg_cls', 'versions', '1', 'model', 'weights.f16');
    const good = await readFile(weights);
    const bad = Buffer.from(good);
    bad[10] ^= 0xff;
    await writeFile(weights, bad);
    const server = await serve({ MODEL_NAME: 'msg_cls' });
    try {
      await server.waitForLog((r) => r.msg === 'cached model version is corrupt; downloading it again');
      assert.equal((await getJson(`${server.url}/health`)).model.origin, 'registry');
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
    assert.deepEqual(await readFile(weights), good);
  });

  test('an unreachable server with nothing cached is retried within WATCHDOG_MODEL_LOAD_TIMEOUT_MS, then exit 70', async () => {
    const deadPort = await freePort();
    const res = await cli(['serve'], {
      PORT: '0',
      HOST: '127.0.0.1',
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${deadPort}`,
      MODEL_NAME: 'msg_cls',
      WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '1500',
    });
    assert.equal(res.code, 70, res.stderr);
    assert.match(res.stderr, /unreachable/);
    assert.match(res.stderr, /holds no version resolved earlier for msg_cls@champion/);
  });

  // Last: stops the MLflow server.
  test('MLflow down at start: the version last resolved for the alias is served from the cache, and /health says so', async () => {
    await mlflow.stop();
    const server = await serve({ MODEL_NAME: 'msg_cls', MODEL_ALIAS: 'champion' });
    try {
      const line = await server.waitForLog(
        (r) => r.msg === 'serving a cached model version: the registry is unreachable',
      );
      assert.equal(line.origin, 'cache');
      const health = await getJson(`${server.url}/health`);
      assert.equal(health.status, 'degraded');
      assert.equal(health.model.version, '1');
      assert.equal(health.model.origin, 'cache');
      assert.match(
        health.model.origin_reason,
        /unreachable at start; serving version 1 of msg_cls from the model cache/,
      );
      assert.equal((await postJson(`${server.url}/predict`, { text: 'free prize' })).status, 200);

      // MLflow comes back: the service confirms the served version through it and says so.
      await mlflow.restart();
      await server.waitForLog(
        (r) => r.msg === 'the registry answers again; the served version is confirmed by it',
        60_000,
      );
      const back = await getJson(`${server.url}/health`);
      assert.equal(back.status, 'ok');
      assert.equal(back.model.origin, 'registry');
      assert.equal(back.model.origin_reason, undefined);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
    await mlflow.stop();

    // A cached file that no longer matches its checksum is refused: no model, exit 70.
    const weights = join(cacheDir, `127.0.0.1_${mlflow.port}`, 'msg_cls', 'versions', '1', 'model', 'weights.f16');
    const bytes = await readFile(weights);
    bytes[0] ^= 0x01;
    await writeFile(weights, bytes);
    const refused = await cli(['serve'], {
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_NAME: 'msg_cls',
      WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '1000',
    });
    assert.equal(refused.code, 70, refused.stderr);
    assert.match(refused.stderr, /does not match its checksum/);
    assert.match(refused.stderr, /it is refused/);
  });
});
