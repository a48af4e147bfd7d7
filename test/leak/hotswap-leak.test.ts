// No leak across hot swaps: 50 swaps back and forth on a real server (test/fixtures/hotswap-leak-run.ts,
// in a child process with the production V8 flags and --expose-gc). Every swapped-out model is
// released and collected, and RSS ends within 10 % of where it was after a few warm-up swaps.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { V8_FLAGS } from '../../bin/runtime.js';
import { ROOT } from '../helpers/server.ts';

const RUN = fileURLToPath(new URL('../fixtures/hotswap-leak-run.ts', import.meta.url));

test('50 swaps back and forth leak neither models nor memory', async (t) => {
  const child = spawn(process.execPath, ['--expose-gc', ...V8_FLAGS, RUN], {
    cwd: ROOT,
    // As the Dockerfile sets it: see the note there on MALLOC_MMAP_THRESHOLD_.
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, err);
  const line = out.split('\n').find((l) => l.startsWith('{"swaps"'));
  assert.ok(line, `no result line; stdout:\n${out}\nstderr:\n${err}`);
  const r = JSON.parse(line) as {
    swaps: number;
    swappedOut: number;
    released: number;
    alive: number;
    rssBefore: number;
    rssAfter: number;
    rssSamples: number[];
  };
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  t.diagnostic(
    `RSS ${mb(r.rssBefore)} MB → ${r.rssSamples.map(mb).join(' → ')} → ${mb(r.rssAfter)} MB over ${r.swaps} swaps; ${r.alive} of ${r.swappedOut} swapped-out models still reachable`,
  );
  assert.equal(r.swappedOut, r.swaps);
  assert.equal(r.released, r.swaps, 'every swapped-out model was released (dispose called)');
  assert.equal(r.alive, 0, 'no swapped-out model is still referenced');
  assert.ok(
    r.rssAfter <= r.rssBefore * 1.1,
    `RSS grew from ${mb(r.rssBefore)} to ${mb(r.rssAfter)} MB (${((r.rssAfter / r.rssBefore - 1) * 100).toFixed(1)} %)`,
  );
});
