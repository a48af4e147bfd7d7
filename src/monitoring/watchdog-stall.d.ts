// Types of ./watchdog-stall.js (plain JavaScript, because the watchdog's worker thread loads it).
export function createStallDetector(opts: {
  heartbeatMs: number;
  checkMs: number;
  startNs: bigint;
  beatNs: bigint;
}): (nowNs: bigint, beatNs: bigint) => number;
