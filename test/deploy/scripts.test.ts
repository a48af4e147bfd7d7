// The small scripts the deploy targets run: the container health check and the smoke test (Fly machine
// check and post-deploy check), against a real server and against nothing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Child, ROOT, spawnServer } from '../helpers/server.ts';

const script = (name: string, args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [join(ROOT, 'deploy', name), ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<string> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(String(port)));
    });
    srv.on('error', reject);
  });
}

describe('deploy/healthcheck.js and deploy/smoke-test.js', () => {
  let server: Child & { url: string };
  let port = '';
  let closed = '';
  before(async () => {
    server = await spawnServer();
    port = new URL(server.url).port;
    closed = await closedPort();
  });
  after(async () => {
    server.proc.kill('SIGTERM');
    await server.exited;
  });

  test('health check: exit 0 when /alive answers on PORT, 1 with the reason when nothing listens', () => {
    assert.equal(script('healthcheck.js', [], { PORT: port }).status, 0);
    const down = script('healthcheck.js', [], { PORT: closed });
    assert.equal(down.status, 1);
    assert.match(down.stderr, /health check: GET \/alive failed: ECONNREFUSED/);
    const notFound = script('healthcheck.js', ['/no-such-path'], { PORT: port });
    assert.equal(notFound.status, 1);
    assert.match(notFound.stderr, /answered 404/);
  });

  test('smoke test: passes against a ready service (by URL and by PORT), fails with what went wrong otherwise', () => {
    const ok = script('smoke-test.js', [server.url], {});
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /smoke test ok against .*: \/ready 200, \/predict → spam \(0\.\d+\), \/alive 200/);
    assert.equal(script('smoke-test.js', [], { PORT: port }).status, 0);
    const down = script('smoke-test.js', [`http://127.0.0.1:${closed}`], { SMOKE_TIMEOUT_MS: '1500' });
    assert.equal(down.status, 1);
    assert.match(
      down.stderr,
      /smoke test FAILED against http:\/\/127\.0\.0\.1:\d+: GET \/ready never answered 200 \(last: 0 ECONNREFUSED\)/,
    );
  });
});
