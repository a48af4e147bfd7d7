// msg-cls against a real MLflow server with basic auth (`mlflow server --app-name basic-auth`, from
// mlflow[auth]): without credentials the start stops with what to set; with MLFLOW_TRACKING_USERNAME/
// PASSWORD (or user:pass@ in the URI) it serves; the password never appears in a log line or message.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type MlflowServer, startMlflowServer } from '../helpers/mlflow.ts';
import { runCli, spawnServer } from '../helpers/server.ts';

const PASSWORD = `pw-${randomBytes(9).toString('hex')}`;
let dir: string;
let mlflow: MlflowServer;

const cli = (args: string[], env: Record<string, string>) =>
  runCli(args, { MODEL_CACHE_DIR: join(dir, 'cache'), ...env });

describe('MLflow with basic auth (real mlflow server)', { timeout: 300_000 }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msgcls-mlflow-auth-'));
    mlflow = await startMlflowServer({ dir: join(dir, 'server'), adminPassword: PASSWORD });
  });

  after(async () => {
    await mlflow?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the server answers 401 without credentials', async () => {
    const res = await fetch(`${mlflow.url}/api/2.0/mlflow/registered-models/search`);
    assert.equal(res.status, 401);
  });

  test('no credentials: a clear error naming the variables; Basic credentials: it trains, lists and serves', async () => {
    const creds = { MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: PASSWORD };
    const trained = await cli(
      [
        'train',
        '--data',
        'test/fixtures/short-messages.jsonl',
        '--name',
        'msg_cls',
        '--alias',
        'champion',
        '--registry',
        'mlflow',
      ],
      { MLFLOW_TRACKING_URI: mlflow.url, ...creds },
    );
    assert.equal(trained.code, 0, trained.stderr);

    const denied = await cli(['serve'], { MLFLOW_TRACKING_URI: mlflow.url, PORT: '0', HOST: '127.0.0.1' });
    assert.equal(denied.code, 2, denied.stderr);
    assert.match(denied.stderr, /needs credentials \(401/);
    assert.match(denied.stderr, /set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD/);

    const wrong = await cli(['models'], {
      MLFLOW_TRACKING_URI: mlflow.url,
      MLFLOW_TRACKING_USERNAME: 'admin',
      MLFLOW_TRACKING_PASSWORD: 'not-the-password',
    });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /the ones given were refused/);

    const listed = await cli(['models'], { MLFLOW_TRACKING_URI: mlflow.url, ...creds });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /"msg_cls"/);

    const server = await spawnServer({
      MLFLOW_TRACKING_URI: mlflow.url,
      MODEL_CACHE_DIR: join(dir, 'cache'),
      ...creds,
    });
    try {
      const health = (await (await fetch(`${server.url}/health`)).json()) as {
        model: { origin: string; version: string };
      };
      assert.equal(health.model.origin, 'registry');
      assert.equal(health.model.version, '1');
      assert.ok(!JSON.stringify(health).includes(PASSWORD));
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
    for (const out of [trained, denied, wrong, listed]) {
      assert.ok(!`${out.stdout}${out.stderr}`.includes(PASSWORD), 'the password leaked into the output');
    }
    assert.ok(
      !`${server.stdout.join('\n')}${server.stderr.join('')}`.includes(PASSWORD),
      'the password leaked into the log',
    );
  });

  test('user:pass@ in MLFLOW_TRACKING_URI is used as Basic auth and never printed', async () => {
    const uri = `http://admin:${PASSWORD}@127.0.0.1:${mlflow.port}`;
    const listed = await cli(['models', 'msg_cls'], { MLFLOW_TRACKING_URI: uri });
    assert.equal(listed.code, 0, listed.stderr);
    const missing = await cli(['serve'], {
      MLFLOW_TRACKING_URI: uri,
      MODEL_NAME: 'nope',
      PORT: '0',
      HOST: '127.0.0.1',
    });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /is not registered on MLflow tracking server http:\/\/127\.0\.0\.1:\d+:/);
    for (const out of [listed, missing]) assert.ok(!`${out.stdout}${out.stderr}`.includes(PASSWORD));
  });
});
