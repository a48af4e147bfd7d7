// How msg-cls is launched: the Node.js version check (issue 12.14), the V8 memory flags whatever the
// launcher (issue 8), and `npm start` stopping with exit 0 (issue 12.13).

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import {
  acceptedFor,
  givenV8Flags,
  MALLOC_ENV,
  missingV8Flags,
  nodeVersionProblem,
  V8_FLAGS,
} from '../../bin/runtime.js';
import { CLI, ROOT, spawnCli } from '../helpers/server.ts';

const NODE20 = '/usr/bin/node';
const oldNode = existsSync(NODE20) ? spawnSync(NODE20, ['--version'], { encoding: 'utf8' }).stdout.trim() : '';
const hasOldNode = /^v(1\d|2[0-3])\./.test(oldNode);

describe('Node.js version', () => {
  test('too old a version gets a sentence saying what to do; 24.16 and later pass', () => {
    assert.match(
      nodeVersionProblem('20.20.2') ?? '',
      /^msg-cls needs Node\.js 24\.16 or newer \(found 20\.20\.2\)\.\nInstall Node\.js 24 from https:\/\/nodejs\.org/,
    );
    assert.match(nodeVersionProblem('24.15.9') ?? '', /found 24\.15\.9/);
    for (const ok of ['24.16.0', '24.22.3', '25.0.0', '26.1.0']) assert.equal(nodeVersionProblem(ok), undefined, ok);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal(pkg.engines.node, '>=24.16', 'package.json engines = the check in bin/runtime.js');
  });

  // The machine's Node 20 (Debian's /usr/bin/node) when there is one: the real thing, not a faked version.
  test('on an old Node.js: the bin, `npm start` and `npm test` print the message and exit 1', {
    skip: hasOldNode ? false : `no Node.js < 24 at ${NODE20}`,
  }, () => {
    const bin = spawnSync(NODE20, [CLI, 'serve'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(bin.status, 1);
    assert.match(bin.stderr, /^msg-cls needs Node\.js 24\.16 or newer \(found 2\d\.\d+\.\d+\)/);
    assert.doesNotMatch(bin.stderr, /ERR_UNKNOWN_FILE_EXTENSION/);
    // npm itself under the old Node, with only the old Node in PATH for the scripts' `node`.
    const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
    const env = { ...process.env, PATH: `${dirname(NODE20)}:/bin`, STORE_URL: 'off', PORT: '0' };
    for (const script of ['start', 'test']) {
      const r = spawnSync(NODE20, [npmCli, 'run', '-s', script], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1, `npm ${script}: ${r.stderr}`);
      assert.match(r.stderr, /msg-cls needs Node\.js 24\.16 or newer \(found 2\d\./, `npm ${script}`);
      assert.doesNotMatch(r.stderr, /ERR_UNKNOWN_FILE_EXTENSION/);
    }
  });
});

describe('V8 memory flags', () => {
  test('found on the command line or in NODE_OPTIONS, whatever the value', () => {
    assert.deepEqual(missingV8Flags([], ''), V8_FLAGS);
    assert.deepEqual(missingV8Flags(['--max-semi-space-size=4', '--max-old-space-size=300'], ''), []);
    assert.deepEqual(missingV8Flags(['--max-semi-space-size=4'], ''), ['--max-old-space-size=1024']);
    // A heap sized as a share of the memory (the image, the systemd unit) stands in for the fixed limit.
    assert.deepEqual(missingV8Flags([], '--max-old-space-size-percentage=40 --max_semi_space_size=2'), []);
    // What the start log shows: as given, stand-ins included, nothing else.
    assert.deepEqual(givenV8Flags(['--inspect'], '--max-old-space-size-percentage=40 --max_semi_space_size=2'), [
      '--max-old-space-size-percentage=40',
      '--max_semi_space_size=2',
    ]);
  });

  test('every launcher that gives them itself gives the same ones (shebang, npm start, Dockerfile, systemd unit)', () => {
    const shebang = readFileSync(CLI, 'utf8').split('\n', 1)[0];
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const unit = readFileSync(join(ROOT, 'deploy/vm/msg-cls.service'), 'utf8');
    const dockerOptions = [...dockerfile.matchAll(/NODE_OPTIONS="([^"]*)"/g)].map((m) => m[1]);
    const unitOptions = [...unit.matchAll(/NODE_OPTIONS=([^"\n]*)/g)].map((m) => m[1]);
    assert.ok(dockerOptions.length >= 1 && unitOptions.length === 1);
    const start = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start as string;
    for (const flag of V8_FLAGS) {
      assert.ok(shebang.includes(flag), `shebang lacks ${flag}`);
      assert.ok(start.split(' ').includes(flag), `npm start lacks ${flag}`);
      // The image and the unit may give a flag that stands in for it (a heap sized to their memory limit).
      const names = acceptedFor(flag);
      for (const o of [...dockerOptions, ...unitOptions]) {
        const given = o.split(' ').filter((a) => names.includes(a.split('=', 1)[0]));
        assert.ok(given.length === 1, `${o} lacks ${flag} (or one of ${names.join(', ')})`);
        if (given[0].split('=', 1)[0] === flag.split('=', 1)[0]) assert.equal(given[0], flag, `${o}: ${flag}`);
      }
    }
    for (const [name, value] of Object.entries(MALLOC_ENV)) {
      assert.match(dockerfile, new RegExp(`^\\s*${name}=${value}\\b`, 'm'), `the Dockerfile lacks ${name}=${value}`);
      assert.match(unit, new RegExp(`^Environment=${name}=${value}$`, 'm'), `the systemd unit lacks ${name}=${value}`);
      assert.ok(start.includes(`${name}=\${${name}:-${value}}`), `npm start lacks ${name}`);
    }
  });

  test('`node bin/msg-cls.js serve` (no flags) re-executes itself with them: same pid, stop with exit 0', async () => {
    const c = spawnCli(['serve'], {
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_OPTIONS: '',
      MALLOC_ARENA_MAX: undefined,
      MALLOC_MMAP_THRESHOLD_: undefined,
    });
    const settings = await c.waitForLog((r) => r.msg === 'V8 memory settings');
    assert.deepEqual(settings.v8_flags, V8_FLAGS);
    assert.equal(settings.added_by_reexec, V8_FLAGS.join(' '));
    // In effect, not only on the command line: the heap limit is the 1024 MB old space plus the young one.
    const heapMb = Number(settings.heap_limit_mb);
    assert.ok(heapMb >= 1024 && heapMb <= 1040, `heap ${heapMb} MB`);
    assert.equal(settings.pid, c.proc.pid, 'the process image was replaced, not wrapped');
    // glibc reads its settings at process start only: the re-executed image got them.
    const environ = readFileSync(`/proc/${c.proc.pid}/environ`, 'utf8').split('\0');
    for (const [name, value] of Object.entries(MALLOC_ENV)) assert.ok(environ.includes(`${name}=${value}`), name);
    await c.waitForLog((r) => r.msg === 'model loaded; ready');
    c.proc.kill('SIGTERM');
    assert.deepEqual(await c.exited, { code: 0, signal: null });
  });

  // A stop signal that arrives while start-up keeps the event loop busy used to be lost when the
  // listeners were swapped at ready (about 1 start in 4 then served on, as if never asked to stop).
  test('a SIGTERM during start-up always stops the service (10 starts)', async () => {
    for (let i = 0; i < 10; i++) {
      const c = spawnCli(['serve'], { PORT: '0', HOST: '127.0.0.1', NODE_OPTIONS: V8_FLAGS.join(' ') });
      await c.waitForLog((r) => r.msg === 'V8 memory settings');
      c.proc.kill('SIGTERM');
      const timer = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
      const exited = await c.exited;
      clearTimeout(timer);
      assert.deepEqual(exited, { code: 0, signal: null }, `start ${i + 1}: ${c.stdout.join('\n')}`);
    }
  });

  test('given by the launcher: no re-execution', async () => {
    const options = '--max-semi-space-size=3 --max-old-space-size-percentage=30';
    const c = spawnCli(['serve'], { PORT: '0', HOST: '127.0.0.1', NODE_OPTIONS: options });
    const settings = await c.waitForLog((r) => r.msg === 'V8 memory settings');
    assert.equal(settings.added_by_reexec, undefined);
    assert.equal(settings.node_options, options);
    c.proc.kill('SIGTERM');
    assert.equal((await c.exited).code, 0);
  });
});

test("`npm start` stops on Ctrl-C (SIGINT to the terminal's process group) with exit 0, not npm's 130", async () => {
  const npm = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', STORE_URL: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  npm.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<[number | null, string | null]>((resolve) => npm.on('exit', (c, s) => resolve([c, s])));
  const deadline = Date.now() + 20_000;
  while (!out.includes('model loaded; ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /model loaded; ready/);
  process.kill(-(npm.pid as number), 'SIGINT');
  assert.deepEqual(await exited, [0, null]);
  assert.match(out, /"msg":"stopped"/);
});
