// Start-up is bounded (issue 12.8): a step that fails fails fast, one that hangs ends in a logged exit 70
// at WATCHDOG_STARTUP_TIMEOUT_MS, and a stop signal during start-up ends the process at once.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Child, DEFAULT_REGISTRY, spawnCli } from '../helpers/server.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function exitWithin(c: Child, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      c.proc.kill('SIGKILL');
      reject(new Error(`still running after ${ms} ms; stdout:\n${c.stdout.join('\n')}`));
    }, ms);
  });
  try {
    return await Promise.race([c.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A copy of the default registry whose champion's weights are a FIFO nobody writes: reading it never ends. */
function hangingRegistry(): string {
  const root = mkdtempSync(join(tmpdir(), 'msg-cls-startup-'));
  dirs.push(root);
  cpSync(DEFAULT_REGISTRY, root, { recursive: true });
  const aliases = JSON.parse(readFileSync(join(root, 'msg_cls', 'aliases.json'), 'utf8'));
  const dir = join(root, 'msg_cls', 'versions', aliases.champion);
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const file = join(dir, Object.keys(manifest.files)[0]);
  rmSync(file);
  execFileSync('mkfifo', [file]);
  return root;
}

const serve = (env: Record<string, string>) => spawnCli(['serve'], { PORT: '0', HOST: '127.0.0.1', ...env });

test('a SQLite path whose folder cannot be created (/proc) fails at once with what to do, no busy loop', async () => {
  const c = serve({ STORE_URL: 'sqlite:/proc/nope/x.db' });
  const { code } = await exitWithin(c, 15_000);
  assert.equal(code, 2);
  assert.match(
    c.stderr.join(''),
    /cannot open the SQLite store \/proc\/nope\/x\.db: .*ENOENT.*set STORE_URL to another file/,
  );
  // The store opens while the app is built, and is awaited before listening: the port never opened.
  assert.ok(!c.stdout.some((l) => JSON.parse(l).msg === 'listening'), c.stdout.join('\n'));
});

// The hung step is a read stuck in the kernel, which makes process.exit hang (it joins libuv's thread pool):
// the process ends by SIGKILL after the fatal line, as a supervisor's restart needs; without a stuck read, 70.
test('a start-up step that hangs: a fatal line at WATCHDOG_STARTUP_TIMEOUT_MS, then the process ends', async () => {
  const c = serve({
    MODEL_REGISTRY: hangingRegistry(),
    WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '0',
    WATCHDOG_STARTUP_TIMEOUT_MS: '1500',
  });
  await c.waitForLog((r) => r.msg === 'listening');
  const { signal } = await exitWithin(c, 15_000);
  assert.equal(signal, 'SIGKILL');
  const fatal = c.stdout.map((l) => JSON.parse(l)).find((r) => r.level === 'fatal');
  assert.equal(fatal?.reason, 'startup_timeout');
  assert.equal(fatal?.timeout_ms, 1500);
  assert.match(fatal?.msg, /not ready 1500 ms after start \(WATCHDOG_STARTUP_TIMEOUT_MS\)/);
});

test('SIGTERM while a start-up step hangs: the process ends at once', async () => {
  const c = serve({ MODEL_REGISTRY: hangingRegistry(), WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '0' });
  await c.waitForLog((r) => r.msg === 'listening');
  c.proc.kill('SIGTERM');
  const { code, signal } = await exitWithin(c, 3000);
  // Exit 0, or — when the stuck read had begun — the default action of the signal it was sent (exitEvenIfStuck).
  assert.ok(code === 0 || signal === 'SIGTERM', `code ${code}, signal ${signal}`);
  assert.ok(c.stdout.some((l) => l.includes('stopped before the service was ready')));
});

test('WATCHDOG_STARTUP_TIMEOUT_MS must leave room for the model load', async () => {
  const { loadConfig } = await import('../../src/config.ts');
  assert.throws(
    () => loadConfig({ WATCHDOG_STARTUP_TIMEOUT_MS: '20000' }),
    /WATCHDOG_STARTUP_TIMEOUT_MS=20000 must be more than WATCHDOG_MODEL_LOAD_TIMEOUT_MS=30000/,
  );
  assert.equal(loadConfig({ WATCHDOG_STARTUP_TIMEOUT_MS: '0' }).watchdogStartupTimeoutMs, 0);
  // Unset, it follows a longer model-load timeout instead of refusing it.
  assert.equal(loadConfig({ WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '60000' }).watchdogStartupTimeoutMs, 90_000);
  assert.equal(loadConfig({}).watchdogStartupTimeoutMs, 60_000);
});
