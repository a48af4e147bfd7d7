// The watchdog's exit writes out the log lines still waiting in the main thread's batcher (issue 12.6:
// it called flushSync on the batcher, which had none, so those lines were lost).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const PROGRAM = fileURLToPath(new URL('../fixtures/watchdog-last-words.ts', import.meta.url));

test('lines logged just before the event loop blocks reach stdout before the watchdog exits', () => {
  const r = spawnSync(process.execPath, [PROGRAM], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 70, `exit ${r.status} ${r.signal}; stderr: ${r.stderr}`);
  const lines = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(
    lines.some((l) => l.msg === 'last words before the block'),
    `the batched line was lost; stdout:\n${r.stdout}`,
  );
  assert.ok(lines.some((l) => l.reason === 'event_loop_blocked'));
});
