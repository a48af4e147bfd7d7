// Start-up, readiness and graceful shutdown, on real processes and real sockets.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { createState } from '../../src/http/state.ts';
import { createObservability } from '../../src/server.ts';
import { json, postJson, spawnCli, spawnServer } from '../helpers/server.ts';

function rawRequest(url: string, head: string): Socket {
  const u = new URL(url);
  const sock = connect(Number(u.port), u.hostname);
  sock.write(head);
  return sock;
}

function readResponse(sock: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    sock.on('data', (d) => {
      data += d.toString('utf8');
    });
    sock.on('end', () => resolve(data));
    sock.on('close', () => resolve(data));
    sock.on('error', reject);
  });
}

describe('readiness before the model is loaded', () => {
  test('/alive is 200 while /ready, /health and /predict are 503 with the reason', async () => {
    const state = createState();
    const config = loadConfig({ LOG_LEVEL: 'silent' });
    const app = await buildApp({ config, state, ...(await createObservability(config, { env: {} })) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    try {
      assert.equal((await fetch(`${url}/alive`)).status, 200);
      const ready = await fetch(`${url}/ready`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await json(ready), { status: 'starting', reason: 'model is loading' });
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 503);
      assert.equal((await json(health)).reason, 'model is loading');
      const pred = await postJson(`${url}/predict`, { text: 'hello' });
      assert.equal(pred.status, 503);
      assert.equal(pred.json.error, 'not_ready');
    } finally {
      await app.close();
    }
  });
});

describe('start-up failures stop the process with what to fix', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['bad port', { PORT: 'eighty' }, /PORT="eighty" is not valid: set it to a whole number/],
    ['unknown model', { MODEL_NAME: 'nope' }, /model "nope" is not in registry .*models there: msg_cls/],
    ['unknown alias', { MODEL_ALIAS: 'staging' }, /has no alias "staging" \(aliases: champion\): set MODEL_ALIAS/],
    ['unknown version', { MODEL_VERSION: '999' }, /has no version 999/],
    [
      'missing registry',
      { MODEL_REGISTRY: '/nonexistent/registry' },
      /model registry \/nonexistent\/registry does not exist/,
    ],
  ];
  for (const [name, env, message] of cases) {
    test(name, async () => {
      const child = spawnCli(['serve'], { PORT: '0', ...env });
      const { code } = await child.exited;
      assert.equal(code, 2);
      assert.match(child.stderr.join(''), message);
    });
  }

  test('port already in use', async () => {
    const first = await spawnServer();
    try {
      const port = new URL(first.url).port;
      const second = spawnCli(['serve'], { PORT: port, HOST: '127.0.0.1' });
      const { code } = await second.exited;
      assert.notEqual(code, 0);
      assert.match(second.stderr.join(''), /the port is in use \(EADDRINUSE\); stop the other process or set PORT/);
    } finally {
      first.proc.kill('SIGTERM');
      await first.exited;
    }
  });
});

describe('graceful shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal}: /ready turns 503, the in-flight request finishes, new connections are refused, exit 0`, async () => {
      const child = await spawnServer({ SHUTDOWN_DELAY_MS: '400', SHUTDOWN_TIMEOUT_MS: '5000' });
      // An in-flight request: headers sent, body still arriving.
      const body = JSON.stringify({ text: 'Congratulations, you won a free cruise! Call now' });
      const inflight = rawRequest(
        child.url,
        `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      const response = readResponse(inflight);
      await new Promise((r) => setTimeout(r, 100));
      child.proc.kill(signal);
      await child.waitForLog((r) => r.msg === 'shutting down: draining in-flight requests');
      // During the delay, the service still answers but says it is not ready.
      const ready = await fetch(`${child.url}/ready`);
      assert.equal(ready.status, 503);
      assert.equal((await json(ready)).status, 'stopping');
      inflight.write(body.slice(10));
      const raw = await response;
      assert.match(raw, /^HTTP\/1.1 200/);
      assert.match(raw, /"label":"spam"/);
      const { code } = await child.exited;
      assert.equal(code, 0);
      await assert.rejects(fetch(`${child.url}/alive`), /fetch failed/);
      assert.ok(child.stdout.some((l) => l.includes('"stopped"')));
    });
  }

  test('a request that never completes does not hold the process past SHUTDOWN_TIMEOUT_MS', async () => {
    const child = await spawnServer({ SHUTDOWN_TIMEOUT_MS: '800' });
    const stuck = rawRequest(
      child.url,
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"te',
    );
    const closed = readResponse(stuck);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    child.proc.kill('SIGTERM');
    const { code } = await child.exited;
    const elapsed = Date.now() - t0;
    assert.equal(code, 0);
    assert.ok(elapsed < 3000, `exited after ${elapsed} ms`);
    await closed;
    assert.ok(child.stdout.some((l) => l.includes('shutdown deadline reached')));
  });
});

describe('a stop signal while the model is still loading', () => {
  test('exits 0 without waiting for the model', async () => {
    // A registry whose model never loads: the service keeps retrying (WATCHDOG_MODEL_LOAD_TIMEOUT_MS).
    const { mkdtemp, mkdir, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const root = await mkdtemp(join(tmpdir(), 'msgcls-slow-'));
    try {
      await mkdir(join(root, 'broken', 'versions', '1'), { recursive: true });
      await writeFile(join(root, 'broken', 'versions', '1', 'model.json'), '{not json');
      await writeFile(join(root, 'broken', 'aliases.json'), '{"champion": "1"}');
      const child = spawnCli(['serve'], {
        PORT: '0',
        MODEL_REGISTRY: root,
        MODEL_NAME: 'broken',
        WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '60000',
      });
      const listening = await child.waitForLog((r) => r.msg === 'listening');
      const ready = await fetch(`http://127.0.0.1:${listening.port}/ready`);
      assert.equal(ready.status, 503);
      child.proc.kill('SIGTERM');
      const { code } = await child.exited;
      assert.equal(code, 0);
      assert.ok(child.stdout.some((l) => l.includes('stopped before the service was ready')));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
