// Data drift: the live inputs of this instance against the model artifact's training-time reference,
// as a Population Stability Index (PSI) per feature.
//
//   PSI = Σ over bins (live share − reference share) × ln(live share / reference share)
//
// Bins are the reference's own, fixed at training time (manifest.reference[feature].edges, with open
// first and last bins: (-inf, e0], (e0, e1], …, (e_last, +inf)), and a live value is binned exactly as
// the reference values were (binIndex). Empty-bin rule: a bin share of 0, in either distribution, is
// counted as EMPTY_BIN_SHARE (0.0001) so that the logarithm is defined; the other shares are left as
// they are (as Evidently does). An empty live bin whose reference share is 10 % then contributes
// 0.1 × ln(0.1 / 0.0001) ≈ 0.69 on its own — a distribution that lost a whole decile has drifted.
// A value that is not a number (unknown_token_share of a classifier without a vocabulary) is left out
// of that feature's window.
//
// The live distribution is a sliding window of the last DRIFT_WINDOW predictions made at most
// DRIFT_MAX_AGE_MINUTES ago, kept as bin indices in a ring (one byte per feature per prediction):
// recording a prediction is a few array writes, and the PSI is computed when it is read (on a scrape
// or GET /monitoring/drift), never per request. Below DRIFT_MIN_COUNT predictions no PSI is given:
// with 10 bins, chance alone makes the PSI of n draws from the reference itself about 9/n.
//
// Verdicts: stable below DRIFT_MODERATE_PSI (0.1), moderate below DRIFT_PSI (0.2), drifted from it.

import { binIndex } from '../model/reference.ts';
import { TEXT_STAT_NAMES } from '../model/text-stats.ts';
import type { ReferenceDistribution } from '../model/types.ts';

/** The text statistics, then the predicted positive-label probability, in this order. */
export const DRIFT_FEATURES = [...TEXT_STAT_NAMES, 'score'] as const;
export type DriftFeature = (typeof DRIFT_FEATURES)[number];

export const EMPTY_BIN_SHARE = 1e-4;
const MISSING = 255;

export type Verdict = 'stable' | 'moderate' | 'drifted';
export type DriftThresholds = { moderate: number; drifted: number };

/** PSI of two share vectors over the same bins, with the empty-bin rule above. */
export function psi(reference: readonly number[], live: readonly number[]): number {
  if (reference.length !== live.length) throw new Error('psi: the distributions have different bins');
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i] > 0 ? reference[i] : EMPTY_BIN_SHARE;
    const l = live[i] > 0 ? live[i] : EMPTY_BIN_SHARE;
    sum += (l - r) * Math.log(l / r);
  }
  return sum;
}

export function verdict(value: number, t: DriftThresholds): Verdict {
  return value >= t.drifted ? 'drifted' : value >= t.moderate ? 'moderate' : 'stable';
}

export type FeatureDrift = {
  psi: number | null;
  verdict: Verdict | null;
  /** Live values of this feature in the window. */
  count: number;
  edges: number[];
  reference: number[];
  live: number[];
};

export type DriftStatus = 'ok' | 'moderate' | 'drifted' | 'insufficient_data';

/** The overall status from the features' verdicts: the worst one wins. */
export function overallStatus(enough: boolean, verdicts: readonly (Verdict | null)[]): DriftStatus {
  if (!enough) return 'insufficient_data';
  if (verdicts.includes('drifted')) return 'drifted';
  if (verdicts.includes('moderate')) return 'moderate';
  return 'ok';
}

export type DriftReport = {
  model_name: string;
  model_version: string;
  window: { size: number; max_age_minutes: number; min_count: number; predictions: number };
  thresholds: DriftThresholds;
  empty_bin_share: number;
  /**
   * The worst verdict over the features: ok (every feature stable), moderate, drifted (at least one
   * feature drifted); insufficient_data: fewer than min_count predictions in the window, no PSI yet.
   */
  status: DriftStatus;
  /** Features whose verdict is `drifted`. */
  drifted_features: DriftFeature[];
  features: Partial<Record<DriftFeature, FeatureDrift>>;
};

export type DriftOptions = { window: number; maxAgeMinutes: number; minCount: number } & DriftThresholds;

export type DriftWindow = {
  readonly modelName: string;
  readonly modelVersion: string;
  /** One prediction's features, in DRIFT_FEATURES order (NaN when unknown). */
  observe(values: ArrayLike<number>, now: number): void;
  report(now: number): DriftReport;
};

export function createDriftWindow(
  model: { name: string; version: string },
  reference: Record<string, ReferenceDistribution>,
  opts: DriftOptions,
): DriftWindow {
  // Only the features the artifact has a usable reference for.
  const features = DRIFT_FEATURES.map((name, slot) => ({ name, slot, ref: reference[name] })).filter(
    (f) => f.ref !== undefined && f.ref.proportions.length === f.ref.edges.length + 1 && f.ref.proportions.length < 255,
  );
  const F = features.length;
  const size = opts.window;
  const bins = new Uint8Array(size * F);
  const times = new Float64Array(size);
  const counts = features.map((f) => new Int32Array(f.ref.proportions.length));
  const seen = new Int32Array(F);
  let start = 0; // oldest entry
  let used = 0;
  const maxAgeMs = opts.maxAgeMinutes * 60_000;

  const evictOldest = () => {
    const base = start * F;
    for (let f = 0; f < F; f++) {
      const b = bins[base + f];
      if (b !== MISSING) {
        counts[f][b]--;
        seen[f]--;
      }
    }
    start = (start + 1) % size;
    used--;
  };

  const evictExpired = (now: number) => {
    if (maxAgeMs <= 0) return;
    const cutoff = now - maxAgeMs;
    while (used > 0 && times[start] < cutoff) evictOldest();
  };

  return {
    modelName: model.name,
    modelVersion: model.version,
    observe(values, now) {
      if (used === size) evictOldest();
      const slot = (start + used) % size;
      const base = slot * F;
      for (let f = 0; f < F; f++) {
        const v = values[features[f].slot];
        if (Number.isNaN(v)) {
          bins[base + f] = MISSING;
          continue;
        }
        const b = binIndex(features[f].ref.edges, v);
        bins[base + f] = b;
        counts[f][b]++;
        seen[f]++;
      }
      times[slot] = now;
      used++;
    },
    report(now) {
      evictExpired(now);
      const enough = used >= opts.minCount;
      const out: DriftReport['features'] = {};
      for (let f = 0; f < F; f++) {
        const { name, ref } = features[f];
        const n = seen[f];
        const live = Array.from(counts[f], (c) => (n > 0 ? c / n : 0));
        const value = enough && n >= opts.minCount ? psi(ref.proportions, live) : null;
        out[name] = {
          psi: value,
          verdict: value === null ? null : verdict(value, opts),
          count: n,
          edges: ref.edges,
          reference: ref.proportions,
          live,
        };
      }
      return {
        model_name: model.name,
        model_version: model.version,
        window: { size, max_age_minutes: opts.maxAgeMinutes, min_count: opts.minCount, predictions: used },
        thresholds: { moderate: opts.moderate, drifted: opts.drifted },
        empty_bin_share: EMPTY_BIN_SHARE,
        status: overallStatus(
          enough,
          Object.values(out).map((f) => f.verdict),
        ),
        drifted_features: (Object.keys(out) as DriftFeature[]).filter((name) => out[name]?.verdict === 'drifted'),
        features: out,
      };
    },
  };
}
