// Reference distributions for drift detection: fixed bin edges from training-time quantiles, and the
// share of inputs in each bin. Bins are (-inf, e0], (e0, e1], ..., (e_last, +inf).

import type { ReferenceDistribution } from './types.ts';

/** Inner edges at the 10 %, 20 %, ..., 90 % quantiles (nearest rank), de-duplicated. */
export function quantileEdges(values: ArrayLike<number>, quantiles = 10): number[] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return [];
  const edges: number[] = [];
  for (let q = 1; q < quantiles; q++) {
    const v = sorted[Math.max(0, Math.ceil((q / quantiles) * n) - 1)];
    if (edges.length === 0 || v > edges[edges.length - 1]) edges.push(v);
  }
  return edges;
}

/** Index of the bin holding `v` for the given inner edges: the number of edges strictly below v. */
export function binIndex(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Histogram proportions of `values` over `edges`. */
export function histogram(values: ArrayLike<number>, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) counts[binIndex(edges, values[i])]++;
  return counts.map((c) => (values.length > 0 ? c / values.length : 0));
}

/** Quantile edges and proportions of `values`. */
export function referenceDistribution(values: ArrayLike<number>, quantiles = 10): ReferenceDistribution {
  const edges = quantileEdges(values, quantiles);
  return { edges, proportions: histogram(values, edges), n: values.length };
}
