// The watchdog on the real `msg-cls serve` process: it exits 70 (after a JSON log line saying why) when the
// event loop is blocked or the model cannot be loaded, and it does not fire under heavy but healthy load or
// when the whole process is frozen and resumed.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { loadConfig } from '../../src/config.ts';
import { type Child, DEFAULT_REGISTRY, json, postJson, spawnCli, spawnServer } from '../helpers/server.ts';

const BLOCKER = fileURLToPath(new URL('../fixtures/block-event-loop.ts', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'msg-cls-watchdog-'));
  dirs.push(d);
  return d;
};

const records = (c: Child) =>
  c.stdout.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
const fatal = (c: Child) => records(c).filter((r) => r.level === 'fatal');

async function exitWithin(c: Child, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms; stdout:\n${c.stdout.join('\n')}`)), ms);
  });
  try {
    return await Promise.race([c.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function stop(c: Child) {
  if (c.proc.exitCode === null && c.proc.signalCode === null) {
    c.proc.kill('SIGTERM');
    await c.exited;
  }
}

describe('event-loop watchdog', () => {
  test('a blocked event loop: one fatal JSON line in the service format, then exit 70', async () => {
    const c = await spawnServer({ WATCHDOG_EVENT_LOOP_LIMIT_MS: '500', NODE_OPTIONS: `--import=${BLOCKER}` });
    try {
      const t0 = Date.now();
      c.proc.kill('SIGUSR2');
      const { code } = await exitWithin(c, 10_000);
      const elapsed = Date.now() - t0;
      assert.equal(code, 70);
      assert.ok(elapsed >= 500, `fired after ${elapsed} ms, not before the limit`);
      const [line, ...more] = fatal(c);
      assert.equal(more.length, 0);
      assert.equal(line.reason, 'event_loop_blocked');
      assert.equal(line.limit_ms, 500);
      assert.ok(Number(line.blocked_ms) > 500);
      assert.match(String(line.msg), /event loop blocked for \d+ ms .*exiting so the supervisor restarts the service/);
      // Same log format as every other line of the service.
      const listening = records(c).find((r) => r.msg === 'listening') as Record<string, unknown>;
      for (const key of ['time', 'service', 'service_version', 'pid'])
        assert.equal(typeof line[key], typeof listening[key], key);
      assert.equal(line.pid, listening.pid);
      assert.equal(line.service, listening.service);
    } finally {
      await stop(c);
    }
  });

  test('stuck in a system call V8 cannot interrupt: logged, then SIGKILL', async () => {
    const fifo = join(tempDir(), 'never-written');
    execFileSync('mkfifo', [fifo]);
    const c = await spawnServer({
      WATCHDOG_EVENT_LOOP_LIMIT_MS: '500',
      NODE_OPTIONS: `--import=${BLOCKER}`,
      BLOCK_MODE: 'native',
      BLOCK_FIFO: fifo,
    });
    try {
      c.proc.kill('SIGUSR2');
      const { code, signal } = await exitWithin(c, 15_000);
      assert.equal(signal, 'SIGKILL', `exit code ${code}`);
      assert.equal(fatal(c)[0]?.reason, 'event_loop_blocked');
      assert.ok(fatal(c).some((r) => /did not exit; sending SIGKILL/.test(String(r.msg))));
    } finally {
      await stop(c);
    }
  });

  test('heavy but healthy load does not trip it', async () => {
    // A limit 20× below the default, under 5 s of load with 128 connections and large batches.
    const c = await spawnServer({ WATCHDOG_EVENT_LOOP_LIMIT_MS: '500', LOG_LEVEL: 'info' });
    try {
      const texts = Array.from(
        { length: 64 },
        (_, i) => `Message ${i}: WIN a FREE cruise, or see you at lunch tomorrow at ${i}:30?`,
      );
      const result = await autocannon({
        url: `${c.url}/predict`,
        connections: 128,
        duration: 5,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ text: 'Buy cheap iPhone now!' }),
          },
          { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ texts }) },
        ],
      });
      assert.ok(result.requests.total > 1000, `only ${result.requests.total} requests`);
      assert.equal(result.non2xx, 0);
      assert.equal(result.errors, 0);
      assert.equal(c.proc.exitCode, null, 'still running');
      assert.equal((await fetch(`${c.url}/ready`)).status, 200);
      assert.deepEqual(fatal(c), []);
      assert.ok(
        records(c).some((r) => r.msg === 'event-loop watchdog on' && r.limit_ms === 500),
        'the watchdog was on',
      );
    } finally {
      await stop(c);
    }
  });

  test('a frozen and resumed process (SIGSTOP/SIGCONT, a suspended VM) does not trip it', async () => {
    const c = await spawnServer({ WATCHDOG_EVENT_LOOP_LIMIT_MS: '500' });
    try {
      c.proc.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 2000));
      c.proc.kill('SIGCONT');
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(c.proc.exitCode, null);
      assert.equal((await fetch(`${c.url}/ready`)).status, 200);
      assert.deepEqual(fatal(c), []);
    } finally {
      await stop(c);
    }
  });

  test('WATCHDOG_EVENT_LOOP_LIMIT_MS: 0 turns it off; values below 100 are refused with what to do', async () => {
    const off = await spawnServer({ WATCHDOG_EVENT_LOOP_LIMIT_MS: '0' });
    await stop(off);
    assert.ok(records(off).some((r) => r.msg === 'event-loop watchdog off (WATCHDOG_EVENT_LOOP_LIMIT_MS=0)'));
    assert.throws(
      () => loadConfig({ WATCHDOG_EVENT_LOOP_LIMIT_MS: '50' }),
      /WATCHDOG_EVENT_LOOP_LIMIT_MS=50 is too small: .* use at least 100, or 0/,
    );
    assert.equal(loadConfig({}).watchdogEventLoopLimitMs, 10_000);
  });
});

describe('model-load watchdog', () => {
  /** A copy of the default registry whose champion's weights file is corrupted. */
  function brokenRegistry() {
    const root = tempDir();
    cpSync(DEFAULT_REGISTRY, root, { recursive: true });
    const aliases = JSON.parse(readFileSync(join(root, 'msg_cls', 'aliases.json'), 'utf8'));
    const dir = join(root, 'msg_cls', 'versions', aliases.champion);
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const file = Object.keys(manifest.files)[0];
    const good = readFileSync(join(dir, file));
    writeFileSync(join(dir, file), Buffer.alloc(good.length, 7));
    return { root, restore: () => writeFileSync(join(dir, file), good) };
  }

  test('a model that stays unloadable: /ready says why while retrying, then a fatal JSON line and exit 70', async () => {
    const { root } = brokenRegistry();
    const c = spawnCli(['serve'], {
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_REGISTRY: root,
      WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '2500',
    });
    try {
      const listening = await c.waitForLog((r) => r.msg === 'listening');
      await c.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('model load failed (attempt 1)'));
      const url = `http://127.0.0.1:${listening.port}`;
      assert.equal((await fetch(`${url}/alive`)).status, 200);
      const ready = await fetch(`${url}/ready`);
      assert.equal(ready.status, 503);
      assert.match((await json(ready)).reason, /model load failed \(attempt \d+\): .*retrying in \d+ ms/);
      const { code } = await exitWithin(c, 15_000);
      assert.equal(code, 70);
      const [line] = fatal(c);
      assert.equal(line.reason, 'model_unloadable');
      assert.ok(Number(line.attempts) >= 2);
      assert.match(
        String(line.msg),
        /could not be loaded in \d+ attempt\(s\).*exiting so the supervisor restarts the service/,
      );
    } finally {
      await stop(c);
    }
  });

  test('a transient failure heals: the model loads on a later attempt and the service turns ready', async () => {
    const { root, restore } = brokenRegistry();
    const c = spawnCli(['serve'], {
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_REGISTRY: root,
      WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '20000',
    });
    try {
      const listening = await c.waitForLog((r) => r.msg === 'listening');
      await c.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('model load failed (attempt 1)'));
      restore();
      await c.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('model loaded'), 15_000);
      const url = `http://127.0.0.1:${listening.port}`;
      assert.equal((await fetch(`${url}/ready`)).status, 200);
      assert.equal((await postJson(`${url}/predict`, { text: 'hello there' })).status, 200);
      assert.deepEqual(fatal(c), []);
    } finally {
      await stop(c);
    }
  });
});
