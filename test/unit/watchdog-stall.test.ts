// The watchdog's arithmetic with made-up clocks: a blocked main thread trips it; a frozen process does not.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createStallDetector } from '../../src/monitoring/watchdog-stall.js';

const ms = (n: number) => BigInt(Math.round(n * 1e6));
const HEARTBEAT = 50;
const CHECK = 25;

/** Simulates the worker looking every `step` ms from `from` to `to` with the last beat at `beat`. */
function run(
  detect: ReturnType<typeof createStallDetector>,
  from: number,
  to: number,
  beat: (t: number) => number,
  step = CHECK,
) {
  let last = 0;
  for (let t = from; t <= to; t += step) last = detect(ms(t), ms(beat(t)));
  return last;
}

test('steady heartbeats: never blocked', () => {
  const detect = createStallDetector({ heartbeatMs: HEARTBEAT, checkMs: CHECK, startNs: 0n, beatNs: 0n });
  const worst = Math.max(
    ...Array.from({ length: 400 }, (_, i) =>
      detect(ms(i * CHECK), ms(Math.floor((i * CHECK) / HEARTBEAT) * HEARTBEAT)),
    ),
  );
  assert.ok(worst <= 0, `blocked ${worst} ms`);
});

test('main thread blocked while the worker keeps looking: blocked time grows with the wall clock', () => {
  const detect = createStallDetector({ heartbeatMs: HEARTBEAT, checkMs: CHECK, startNs: 0n, beatNs: 0n });
  run(detect, 0, 1000, (t) => Math.floor(t / HEARTBEAT) * HEARTBEAT);
  const blocked = run(detect, 1025, 3000, () => 1000);
  assert.ok(Math.abs(blocked - (3000 - 1000 - HEARTBEAT)) < 1, `blocked ${blocked} ms`);
});

test('whole process frozen (worker too) for 5 s, then resumed: not blocked', () => {
  const detect = createStallDetector({ heartbeatMs: HEARTBEAT, checkMs: CHECK, startNs: 0n, beatNs: 0n });
  run(detect, 0, 1000, (t) => Math.floor(t / HEARTBEAT) * HEARTBEAT);
  // The worker's next look comes 5 s late and sees the heartbeat from before the freeze.
  const afterResume = detect(ms(6000), ms(1000));
  assert.ok(afterResume < 100, `blocked ${afterResume} ms after a freeze`);
});

test('a freeze does not mask a real block that follows it', () => {
  const detect = createStallDetector({ heartbeatMs: HEARTBEAT, checkMs: CHECK, startNs: 0n, beatNs: 0n });
  run(detect, 0, 1000, (t) => Math.floor(t / HEARTBEAT) * HEARTBEAT);
  detect(ms(6000), ms(1000)); // frozen 5 s
  const blocked = run(detect, 6025, 8000, () => 1000); // main never beats again
  assert.ok(blocked > 1900 && blocked < 2100, `blocked ${blocked} ms`);
});

test('a new heartbeat clears the frozen allowance', () => {
  const detect = createStallDetector({ heartbeatMs: HEARTBEAT, checkMs: CHECK, startNs: 0n, beatNs: 0n });
  detect(ms(5000), ms(0)); // frozen
  detect(ms(5025), ms(5010)); // main beat after resume
  const blocked = run(detect, 5050, 7000, () => 5010);
  assert.ok(Math.abs(blocked - (7000 - 5010 - HEARTBEAT)) < 1, `blocked ${blocked} ms`);
});
