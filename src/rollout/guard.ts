// The canary guard: per-role tallies of calls, failures and inference time, and a check that takes
// the challenger out of traffic (weight 0) by itself when its error ratio or p95 latency breaks the
// configured limits — once it has served at least `minRequests` calls. What tripped it is kept, logged,
// counted and alerted on by the caller (onTrip); a new challenger version starts a new tally.

import { histogramQuantile } from './stats.ts';

// Inference time, in milliseconds: 10 µs to 10 s.
export const LATENCY_BOUNDS_MS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000,
];

/** Calls, failures and a latency histogram of one version in one role. */
export type Tally = { calls: number; errors: number; latency: Float64Array };

export function createTally(): Tally {
  return { calls: 0, errors: 0, latency: new Float64Array(LATENCY_BOUNDS_MS.length + 1) };
}

export function record(t: Tally, ms: number, failed: boolean): void {
  t.calls++;
  if (failed) t.errors++;
  let i = 0;
  while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]) i++;
  t.latency[i]++;
}

export function p95(t: Tally): number | null {
  return histogramQuantile(0.95, LATENCY_BOUNDS_MS, t.latency);
}

export type GuardLimits = { maxErrorRatio: number; maxP95Ms: number; minRequests: number };

export type GuardTrip = {
  at: string;
  version: string;
  reason: string;
  calls: number;
  errors: number;
  p95_ms: number | null;
};

export type Guard = {
  /** The trip, if the guard has taken the current challenger version out of traffic. */
  readonly tripped: GuardTrip | undefined;
  /** Checks the challenger's tally; trips (once per version) when a limit is broken. */
  check(version: string, t: Tally): GuardTrip | undefined;
  /** A new challenger version: clears the trip. */
  reset(): void;
};

export function createGuard(limits: GuardLimits, onTrip: (trip: GuardTrip) => void): Guard {
  let tripped: GuardTrip | undefined;
  return {
    get tripped() {
      return tripped;
    },
    check(version, t) {
      if (tripped !== undefined || t.calls < limits.minRequests) return tripped;
      const ratio = t.errors / t.calls;
      const q = p95(t);
      let reason: string | undefined;
      if (ratio > limits.maxErrorRatio) {
        reason = `error ratio ${(ratio * 100).toFixed(1)} % over ${t.calls} calls is above GUARD_MAX_ERROR_RATIO=${limits.maxErrorRatio}`;
      } else if (q !== null && q > limits.maxP95Ms) {
        reason = `p95 inference time ${q.toPrecision(3)} ms over ${t.calls} calls is above GUARD_MAX_P95_MS=${limits.maxP95Ms}`;
      }
      if (reason === undefined) return undefined;
      tripped = { at: new Date().toISOString(), version, reason, calls: t.calls, errors: t.errors, p95_ms: q };
      onTrip(tripped);
      return tripped;
    },
    reset() {
      tripped = undefined;
    },
  };
}
