// Small statistics for the rollout verdict: Wilson score intervals for proportions, a two-proportion
// z-test, and quantiles from histogram buckets. Kept here (a few lines each) rather than pulling a
// statistics package onto the server for three formulas.

/** z for a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

export type Interval = { low: number; high: number };

/** Wilson score interval of `successes` out of `n` (null when n = 0). */
export function wilson(successes: number, n: number, z = Z95): Interval | null {
  if (n <= 0) return null;
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 via erf; |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

export type ZTest = { z: number; p: number };

/**
 * Two-proportion z-test (pooled) of a1/n1 against a2/n2; z > 0 when the first proportion is larger.
 * null when either sample is empty or both proportions are 0 or 1 (no variance to test against).
 */
export function twoProportionZ(a1: number, n1: number, a2: number, n2: number): ZTest | null {
  if (n1 <= 0 || n2 <= 0) return null;
  const pooled = (a1 + a2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return null;
  const z = (a1 / n1 - a2 / n2) / se;
  return { z, p: 2 * (1 - normalCdf(Math.abs(z))) };
}

/**
 * The q-quantile of a histogram (`counts[i]` observations ≤ `bounds[i]`, non-cumulative, the last
 * cell beyond the last bound), interpolated linearly inside the bucket as Prometheus'
 * histogram_quantile does. null when empty.
 */
export function histogramQuantile(q: number, bounds: readonly number[], counts: ArrayLike<number>): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return null;
  const rank = q * total;
  let cum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (cum + c >= rank && c > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lo = i === 0 ? 0 : bounds[i - 1];
      return lo + (bounds[i] - lo) * ((rank - cum) / c);
    }
    cum += c;
  }
  return bounds[bounds.length - 1];
}
