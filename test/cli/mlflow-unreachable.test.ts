// An MLflow tracking server that accepts connections but never answers (no MLflow needed): the service
// still listens (/alive 200, /ready 503 with the reason), retries within WATCHDOG_MODEL_LOAD_TIMEOUT_MS,
// then exits 70 for its supervisor.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { spawnCli } from '../helpers/server.ts';

let blackHole: Server;
let port: number;
let dir: string;
const sockets: Socket[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'msgcls-blackhole-'));
  blackHole = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  port = (blackHole.address() as { port: number }).port;
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => blackHole.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

test('a tracking server that never answers: listening and unready with the reason, then exit 70', async () => {
  const child = spawnCli(['serve'], {
    PORT: '0',
    HOST: '127.0.0.1',
    MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`,
    MLFLOW_REQUEST_TIMEOUT_MS: '800',
    WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '2000',
    MODEL_CACHE_DIR: join(dir, 'cache'),
  });
  const listening = await child.waitForLog((r) => r.msg === 'listening', 15_000);
  const url = `http://127.0.0.1:${listening.port}`;
  assert.equal((await fetch(`${url}/alive`)).status, 200);
  const ready = await fetch(`${url}/ready`);
  assert.equal(ready.status, 503);
  assert.match(
    ((await ready.json()) as { reason: string }).reason,
    /model registry http:\/\/127\.0\.0\.1:\d+|unreachable/,
  );
  const { code } = await child.exited;
  assert.equal(code, 70);
  assert.match(child.stderr.join(''), /no answer within 800 ms/);
});
