// The MLflow client's URL, auth, retry and error logic, and the model cache, without an MLflow server:
// a plain HTTP server on loopback plays the failures (the real server is in test/mlflow).

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { type ConfigError, loadConfig } from '../../src/config.ts';
import {
  authorizationHeader,
  backoffDelay,
  createMlflowClient,
  type MlflowError,
  parseTrackingUri,
  redactUrls,
} from '../../src/registry/mlflow-client.ts';
import { CacheError, openModelCache, safeRelativePath, writeHashed } from '../../src/registry/model-cache.ts';
import { freePort } from '../helpers/server.ts';

describe('tracking URI and auth', () => {
  test('credentials in the URI are taken out of the address used in messages', () => {
    const p = parseTrackingUri('https://alice:s%3Acret@mlflow.example:5000/base?x=1');
    assert.equal(p.location, 'https://mlflow.example:5000/base');
    assert.equal(p.username, 'alice');
    assert.equal(p.password, 's:cret');
    assert.equal(p.base.href, 'https://mlflow.example:5000/base/');
    assert.equal(redactUrls('see http://bob:pw@host:1/x and https://h/y'), 'see http://host:1/x and https://h/y');
  });

  test('Basic from username/password takes precedence over the token, as in MLflow’s client', () => {
    assert.equal(
      authorizationHeader({ username: 'u', password: 'p', token: 't' }),
      `Basic ${Buffer.from('u:p').toString('base64')}`,
    );
    assert.equal(authorizationHeader({ token: 't' }), 'Bearer t');
    assert.equal(authorizationHeader({}), undefined);
  });

  test('backoff is full jitter below base·2^attempt, capped at 10 s', () => {
    assert.equal(
      backoffDelay(3, 100, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(3, 100, () => 0.999),
      799,
    );
    assert.ok(backoffDelay(30, 100, () => 0.999) <= 10_000);
  });

  test('config: a non-http MLFLOW_TRACKING_URI is refused without echoing it; a password needs a user', () => {
    assert.throws(
      () => loadConfig({ MLFLOW_TRACKING_URI: 'ftp://u:secretpw@x' }),
      (err: ConfigError) => err.message.includes('MLFLOW_TRACKING_URI') && !err.message.includes('secretpw'),
    );
    assert.throws(
      () => loadConfig({ MLFLOW_TRACKING_URI: 'http://x', MLFLOW_TRACKING_PASSWORD: 'p' }),
      /without MLFLOW_TRACKING_USERNAME/,
    );
    const c = loadConfig({ MLFLOW_TRACKING_URI: 'http://x:5000', MLFLOW_TRACKING_TOKEN: 't' });
    assert.equal(c.mlflow?.token, 't');
    assert.equal(loadConfig({}).mlflow, undefined);
    assert.equal(loadConfig({}).modelCacheDir, './data/model-cache');
  });
});

describe('requests: retries, timeouts, errors', () => {
  let server: Server;
  let base: string;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  const seen: { auth: string | undefined; url: string | undefined }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push({ auth: req.headers.authorization, url: req.url });
      handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const client = (extra: Record<string, unknown> = {}) =>
    createMlflowClient({ trackingUri: base, attempts: 4, backoffMs: 1, timeoutMs: 2000, ...extra });

  test('5xx and 429 are retried, then the answer is used; the auth header is sent each time', async () => {
    seen.length = 0;
    let n = 0;
    handler = (_req, res) => {
      n++;
      if (n === 1) res.writeHead(503).end('busy');
      else if (n === 2) res.writeHead(429).end('slow down');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    };
    const out = await client({ token: 'tok' }).call('GET', 'registered-models/get', { name: 'a b' });
    assert.deepEqual(out, { ok: true });
    assert.equal(n, 3);
    assert.ok(seen.every((s) => s.auth === 'Bearer tok'));
    assert.equal(seen[0].url, '/api/2.0/mlflow/registered-models/get?name=a+b');
  });

  test('persistent 5xx ends as unreachable after the attempts; a timeout too', async () => {
    let n = 0;
    handler = (_req, res) => {
      n++;
      res.writeHead(502).end();
    };
    await assert.rejects(client().call('GET', 'x'), (err: MlflowError) => err.kind === 'unreachable' && n === 4);
    handler = () => {}; // never answers
    await assert.rejects(
      client({ timeoutMs: 150, attempts: 2 }).call('GET', 'x'),
      (err: MlflowError) => err.kind === 'unreachable' && /no answer within 150 ms/.test(err.message),
    );
  });

  test('401 and 403 Invalid Host header say what to set; no credential in any message', async () => {
    handler = (_req, res) => res.writeHead(401, { 'www-authenticate': 'Basic' }).end('You are not authenticated');
    const withCreds = createMlflowClient({
      trackingUri: base.replace('http://', 'http://admin:hunter2@'),
      attempts: 1,
    });
    await assert.rejects(withCreds.call('GET', 'x'), (err: MlflowError) => {
      assert.equal(err.kind, 'auth');
      assert.match(err.message, /the ones given were refused/);
      assert.ok(!err.message.includes('hunter2'));
      return true;
    });
    assert.equal(seen.at(-1)?.auth, `Basic ${Buffer.from('admin:hunter2').toString('base64')}`);
    await assert.rejects(client().call('GET', 'x'), /set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD/);
    handler = (_req, res) => res.writeHead(403).end('Invalid Host header');
    await assert.rejects(client().call('GET', 'x'), /--allowed-hosts/);
  });

  test('MLflow error bodies keep their error_code; a refused connection is unreachable', async () => {
    handler = (_req, res) =>
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end('{"error_code":"INVALID_PARAMETER_VALUE","message":"Registered model alias x not found."}');
    await assert.rejects(
      client().call('GET', 'x'),
      (err: MlflowError) => err.errorCode === 'INVALID_PARAMETER_VALUE' && err.kind === 'other',
    );
    const dead = createMlflowClient({ trackingUri: `http://127.0.0.1:${await freePort()}`, attempts: 2, backoffMs: 1 });
    await assert.rejects(
      dead.call('GET', 'x'),
      (err: MlflowError) => err.kind === 'unreachable' && /ECONNREFUSED/.test(err.message),
    );
  });
});

describe('MLflow registry downloads', () => {
  test('a download that stalls mid-file is "unavailable" and leaves no half version in the cache', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'msgcls-stall-'));
    const sockets = new Set<import('node:net').Socket>();
    const server = createServer((req, res) => {
      const url = req.url ?? '';
      const json = (body: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (url.startsWith('/api/2.0/mlflow/registered-models/alias')) json({ model_version: { version: '1' } });
      else if (url.startsWith('/api/2.0/mlflow/model-versions/get-download-uri'))
        json({ artifact_uri: 'mlflow-artifacts:/1/m' });
      else if (url.startsWith('/api/2.0/mlflow-artifacts/artifacts?'))
        json({ files: [{ path: 'model.json', is_dir: false, file_size: 100 }] });
      else {
        res.writeHead(200);
        res.write('0123456789'); // then nothing more
      }
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { createMlflowRegistry } = await import('../../src/registry/mlflow.ts');
      const registry = createMlflowRegistry({
        trackingUri: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
        timeoutMs: 300,
        attempts: 1,
        cacheDir: dir,
      });
      await assert.rejects(registry.resolve('m', { alias: 'champion' }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'unavailable');
        assert.match(err.message, /download of model\.json was interrupted \(not complete within 300 ms\)/);
        return true;
      });
      await assert.rejects(registry.cache.verified('m', '1'), (err: CacheError) => err.code === 'missing');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('model cache', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msgcls-cache-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a stored version verifies; a changed byte is refused; the alias record is kept', async () => {
    const cache = openModelCache(dir, 'http://mlflow:5000');
    const stored = await cache.store('m', '3', 'mlflow-artifacts:/1/x', async (d) => ({
      'model.onnx': await writeHashed(Readable.from([Buffer.from('onnx bytes')]), join(d, 'model.onnx')),
      'sub/tokenizer.json': await writeHashed(Readable.from([Buffer.from('{}')]), join(d, 'sub', 'tokenizer.json')),
    }));
    assert.equal((await cache.verified('m', '3')).dir, stored.dir);
    await cache.recordAlias('m', 'champion', '3');
    assert.equal((await cache.lastAlias('m', 'champion'))?.version, '3');
    const file = join(stored.dir, 'model.onnx');
    await writeFile(file, 'onnx bytez');
    await assert.rejects(
      cache.verified('m', '3'),
      (err: CacheError) => err.code === 'corrupt' && /does not match its checksum/.test(err.message),
    );
    await assert.rejects(cache.verified('m', '4'), (err: CacheError) => err.code === 'missing');
    assert.equal(
      await readFile(join(dir, 'mlflow_5000', 'm', 'versions', '3', 'model', 'sub', 'tokenizer.json'), 'utf8'),
      '{}',
    );
  });

  test('prune keeps the newest versions and every version an alias record points at', async () => {
    const cache = openModelCache(dir, 'http://prune');
    for (const v of ['1', '2', '3', '4', '5']) {
      await cache.store('m', v, 'x', async (d) => ({
        f: await writeHashed(Readable.from([Buffer.from(v)]), join(d, 'f')),
      }));
      await new Promise((r) => setTimeout(r, 5));
    }
    await cache.recordAlias('m', 'champion', '1');
    assert.deepEqual((await cache.prune('m', 2)).sort(), ['2', '3']);
    for (const v of ['1', '4', '5']) await cache.verified('m', v);
    await assert.rejects(cache.verified('m', '2'), (err: CacheError) => err.code === 'missing');
  });

  test('a failed download leaves nothing behind', async () => {
    const cache = openModelCache(dir, 'http://other');
    await assert.rejects(
      cache.store('m', '1', 'x', async () => {
        throw new Error('cut');
      }),
      /cut/,
    );
    await assert.rejects(cache.verified('m', '1'), (err: CacheError) => err.code === 'missing');
  });

  test('artifact paths cannot leave the model directory', () => {
    assert.equal(safeRelativePath('a/b.txt'), 'a/b.txt');
    for (const bad of ['../x', '/etc/passwd', 'a/../../x', '']) assert.throws(() => safeRelativePath(bad), CacheError);
  });
});
