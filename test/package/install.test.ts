// The npm package (issue 12.15): `npm pack`, install the tarball into an empty prefix, then the installed
// `msg-cls` runs from an empty directory — JavaScript only under node_modules (Node does not strip types
// there), the curated file list, and the bundled default model served. Slow (tsc + npm install): `npm run
// test:package`, run by .ci/run.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../helpers/server.ts';

const work = mkdtempSync(join(tmpdir(), 'msg-cls-package-'));
const prefix = join(work, 'prefix');
const empty = join(work, 'empty');
const bin = join(prefix, 'bin', 'msg-cls');
let files: string[] = [];

before(
  () => {
    // --ignore-scripts=false: the repository's .npmrc skips lifecycle scripts, prepack included.
    const out = execFileSync('npm', ['pack', '--ignore-scripts=false', '--json', '--pack-destination', work], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const [packed] = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    files = packed.files.map((f) => f.path);
    execFileSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', join(work, packed.filename)], {
      stdio: 'inherit',
    });
    mkdirSync(empty);
  },
  { timeout: 600_000 },
);
after(() => rmSync(work, { recursive: true, force: true }));

test('the tarball holds JavaScript, the bin, the default model and the README — nothing else', () => {
  assert.ok(files.includes('bin/msg-cls.js') && files.includes('src/cli/main.js') && files.includes('README.md'));
  assert.ok(files.includes('models/msg_cls/aliases.json'));
  const unexpected = files.filter(
    (f) =>
      !(
        f === 'package.json' ||
        f === 'README.md' ||
        /^bin\/[\w-]+\.(js|d\.ts)$/.test(f) ||
        (f.startsWith('src/') && !f.endsWith('.ts')) ||
        f.startsWith('models/msg_cls/')
      ),
  );
  assert.deepEqual(unexpected, []);
  assert.equal(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).length, 0, 'no TypeScript sources');
  // Every file under src/ that is not TypeScript ships as it is (assets, hand-written JavaScript).
  assert.ok(files.includes('src/dashboard/page/dashboard.css') && files.includes('src/monitoring/watchdog-worker.js'));
  // postpack removed the emitted copies from the working tree.
  assert.equal(existsSync(join(ROOT, 'src', 'cli', 'main.js')), false);
  assert.equal(existsSync(join(ROOT, '.pack-emitted.json')), false);
});

test('the installed msg-cls: --help, then serve from an empty directory with the bundled model', async () => {
  const help = spawnSync(bin, ['--help'], { cwd: empty, encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^msg-cls \d+\.\d+\.\d+ — /);

  const env: Record<string, string | undefined> = { ...process.env, PORT: '0', HOST: '127.0.0.1' };
  for (const k of ['MODEL_REGISTRY', 'STORE_URL', 'NODE_OPTIONS']) delete env[k];
  const proc = spawn(bin, ['serve'], { cwd: empty, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<[number | null, string | null]>((resolve) => proc.on('exit', (c, s) => resolve([c, s])));
  try {
    const deadline = Date.now() + 30_000;
    let port: number | undefined;
    while (port === undefined && Date.now() < deadline && proc.exitCode === null) {
      const m = /"port":(\d+),[^\n]*"msg":"listening"/.exec(out);
      if (m) port = Number(m[1]);
      else await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(port, `never listened; stdout:\n${out}\nstderr:\n${err}`);
    const url = `http://127.0.0.1:${port}`;
    let ready = await fetch(`${url}/ready`);
    while (ready.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await fetch(`${url}/ready`);
    }
    assert.equal(ready.status, 200);
    const res = await fetch(`${url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'WINNER!! Claim your FREE prize now' }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { label: string; model: { name: string; version: string; role: string } };
    assert.equal(body.label, 'spam');
    assert.deepEqual(body.model, { name: 'msg_cls', version: '1', role: 'champion' });
    assert.doesNotMatch(err, /ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING/);
  } finally {
    proc.kill('SIGTERM');
  }
  assert.deepEqual(await exited, [0, null]);
  // The default SQLite store went to the empty directory, not into the package.
  assert.deepEqual(readdirSync(empty), ['data']);
});
