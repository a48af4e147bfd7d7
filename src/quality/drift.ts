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

import { binIndex, referenceDistribution } from '../model/reference.ts';
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

export type DriftStatus = 'ok' | 'moderate' | 'drifted' | 'insufficient_data' | 'building_reference';

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
  /**
   * What the live window is compared with: the distributions shipped in the model artifact, or (for
   * a version that ships none) those of its first `n` predictions on this instance.
   */
  reference: { source: 'shipped' | 'first_predictions'; n: number };
  window: { size: number; max_age_minutes: number; min_count: number; predictions: number };
  thresholds: DriftThresholds;
  empty_bin_share: number;
  /**
   * The worst verdict over the features: ok (every feature stable), moderate, drifted (at least one
   * feature drifted); insufficient_data: fewer than min_count predictions in the window, no PSI yet;
   * building_reference: the first predictions are being collected as the reference (`reference.n` of
   * them so far).
   */
  status: DriftStatus;
  /** Features whose verdict is `drifted`. */
  drifted_features: DriftFeature[];
  features: Partial<Record<DriftFeature, FeatureDrift>>;
};

export type DriftOptions = { window: number; maxAgeMinutes: number; minCount: number } & DriftThresholds;

/** The usable entries of an artifact's reference (bins that match their edges). */
function usableReference(reference: Record<string, ReferenceDistribution>): Record<string, ReferenceDistribution> {
  const out: Record<string, ReferenceDistribution> = {};
  for (const name of DRIFT_FEATURES) {
    const ref = reference[name];
    if (ref !== undefined && ref.proportions.length === ref.edges.length + 1 && ref.proportions.length < 255) {
      out[name] = ref;
    }
  }
  return out;
}

/**
 * The drift window of one model version: against the reference its artifact ships when it has one;
 * otherwise the first `referenceCount` predictions are collected, their decile bins become the
 * reference, and the window starts after them (no PSI is reported until then).
 */
export function createModelDrift(
  model: { name: string; version: string },
  reference: Record<string, ReferenceDistribution> | undefined,
  opts: DriftOptions & { referenceCount: number },
): DriftWindow {
  const shipped = usableReference(reference ?? {});
  if (Object.keys(shipped).length > 0) return createDriftWindow(model, shipped, opts);

  const F = DRIFT_FEATURES.length;
  const N = opts.referenceCount;
  let collected: Float64Array | undefined = new Float64Array(N * F);
  let n = 0;
  let window: DriftWindow | undefined;
  const build = (values: Float64Array) => {
    const built: Record<string, ReferenceDistribution> = {};
    const column = new Float64Array(N);
    for (let f = 0; f < F; f++) {
      let k = 0;
      for (let i = 0; i < N; i++) {
        const v = values[i * F + f];
        if (!Number.isNaN(v)) column[k++] = v;
      }
      // A feature this model does not provide (NaN throughout) gets no reference.
      if (k > 0) built[DRIFT_FEATURES[f]] = referenceDistribution(column.subarray(0, k));
    }
    return createDriftWindow(model, built, opts, { source: 'first_predictions', n: N });
  };
  return {
    modelName: model.name,
    modelVersion: model.version,
    observe(values, now) {
      if (window) return window.observe(values, now);
      const buf = collected as Float64Array;
      for (let f = 0; f < F; f++) buf[n * F + f] = values[f];
      if (++n === N) {
        window = build(buf);
        collected = undefined;
      }
    },
    report(now) {
      if (window) return window.report(now);
      return {
        model_name: model.name,
        model_version: model.version,
        reference: { source: 'first_predictions', n },
        window: { size: opts.window, max_age_minutes: opts.maxAgeMinutes, min_count: opts.minCount, predictions: 0 },
        thresholds: { moderate: opts.moderate, drifted: opts.drifted },
        empty_bin_share: EMPTY_BIN_SHARE,
        status: 'building_reference',
        drifted_features: [],
        features: {},
      };
    },
  };
}

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
  source?: DriftReport['reference'],
): DriftWindow {
  // Only the features the artifact has a usable reference for.
  const features = DRIFT_FEATURES.map((name, slot) => ({ name, slot, ref: reference[name] })).filter(
    (f) => f.ref !== undefined && f.ref.proportions.length === f.ref.edges.length + 1 && f.ref.proportions.length < 255,
  );
  const F = features.length;
  const refSource = source ?? {
    source: 'shipped' as const,
    n: features.reduce((max, f) => Math.max(max, f.ref.n ?? 0), 0),
  };
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
        reference: refSource,
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
