// The event-loop utilisation metrics do not depend on who scrapes or how often.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../src/monitoring/metrics.ts';

const value = (text: string, name: string) => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} in the exposition`);
  return Number(m[1]);
};
const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('two scrapes in a row report the same utilisation, and busy time is a counter', async () => {
  const metrics = createMetrics({ droppedLogLines: () => 0, eluWindowMs: 400 });
  const before = value(await metrics.render(), 'nodejs_eventloop_busy_seconds_total');
  // One window: ~300 ms busy out of ~400 ms.
  await sleep(10);
  busy(300);
  await sleep(600);
  const first = await metrics.render();
  const second = await metrics.render(); // another scraper, right after
  const third = await metrics.render();
  const ratio = value(first, 'nodejs_eventloop_utilization_ratio');
  assert.equal(value(second, 'nodejs_eventloop_utilization_ratio'), ratio, 'a second scraper sees the same value');
  assert.equal(value(third, 'nodejs_eventloop_utilization_ratio'), ratio);
  assert.ok(ratio >= 0 && ratio <= 1, `ratio ${ratio}`);
  const after = value(first, 'nodejs_eventloop_busy_seconds_total');
  assert.ok(after - before >= 0.29, `busy time grew by ${after - before} s after 300 ms of work`);
  assert.ok(value(third, 'nodejs_eventloop_busy_seconds_total') >= after, 'the counter never goes down');
});
