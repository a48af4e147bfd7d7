// The watchdog's arithmetic, apart from threads and clocks so that it can be tested with made-up times.
// Plain JavaScript: the watchdog's worker thread imports it (see ./watchdog-worker.js for why JS).
//
// Each time the worker looks (every checkMs), it calls the returned function with the current time and
// the main thread's last heartbeat (both in nanoseconds of the monotonic clock) and gets how long the
// main thread has been blocked beyond its heartbeat interval.
//
// A frozen process is not a blocked event loop: when the whole process stops running — SIGSTOP, a
// suspended VM (Fly auto-stop "suspend"), Cloud Run's CPU throttling between requests, a sleeping laptop —
// the worker stops too, and afterwards the heartbeat is old for a reason that has nothing to do with the
// main thread. So the time the worker itself was not running (it looked far later than scheduled) since
// the last heartbeat is subtracted.

/**
 * @param {{ heartbeatMs: number, checkMs: number, startNs: bigint, beatNs: bigint }} opts
 * @returns {(nowNs: bigint, beatNs: bigint) => number} blocked milliseconds (≤ 0 when healthy)
 */
export function createStallDetector({ heartbeatMs, checkMs, startNs, beatNs }) {
  let lastTick = startNs;
  let lastBeat = beatNs;
  let frozenMs = 0;
  return (nowNs, currentBeatNs) => {
    const tickGapMs = Number(nowNs - lastTick) / 1e6;
    lastTick = nowNs;
    if (currentBeatNs !== lastBeat) {
      lastBeat = currentBeatNs;
      frozenMs = 0;
    }
    if (tickGapMs > checkMs * 2 + 50) frozenMs += tickGapMs - checkMs;
    return Number(nowNs - currentBeatNs) / 1e6 - heartbeatMs - frozenMs;
  };
}
