// The rollout verdict: challenger against champion on what was measured — error ratio, p95 latency,
// online accuracy / precision / recall / F1 from feedback labels (with counts, Wilson intervals and a
// two-proportion z-test), drift and agreement — gives `promote`, `hold` or `rollback`, with reasons.
// Pure arithmetic: the figures come from the data plane's tallies and the store (src/rollout/report.ts).

import { type Interval, twoProportionZ, wilson, type ZTest } from './stats.ts';

export type Decision = 'promote' | 'hold' | 'rollback';

/** What was measured for one version. */
export type VersionFigures = {
  model_version: string;
  /** Texts the version scored (answered or in shadow). */
  requests: number;
  /** Calls into the version that failed. */
  errors: number;
  /** p95 of the version's inference time, in milliseconds (null before any call). */
  p95_ms: number | null;
  /** Predictions of this version that received a feedback label, and how many of them were right. */
  labelled: number;
  correct: number;
  /** One-vs-rest counts for the positive label (e.g. spam). */
  positive: { tp: number; predicted: number; support: number };
  /** Largest PSI of the version's drift features (null: not enough predictions yet). */
  drift_psi: number | null;
};

export type VerdictLimits = {
  /** Fewer labelled predictions than this (per version) is "not enough data" for quality. */
  minLabels: number;
  /** Fewer scored texts than this (challenger) is "not enough data" for errors and latency. */
  minRequests: number;
  /** Challenger error ratio above this rolls back. */
  maxErrorRatio: number;
  /** Challenger p95 above champion p95 × this rolls back (when also LATENCY_NOISE_MS slower). */
  maxLatencyRatio: number;
  /** Significance level of the z-tests. */
  alpha: number;
  /** PSI from which a feature is drifted. */
  driftPsi: number;
};

export type Agreement = { compared: number; agreed: number };

/**
 * Latency differences below this are not judged: the linear model answers in ~0.05 ms, where the p95
 * of two versions differs by 2× from bucket interpolation and scheduling noise alone (seen in the
 * tests on a busy machine), and a user cannot tell 0.1 ms from 0.2 ms behind a network round trip.
 */
export const LATENCY_NOISE_MS = 1;

export type RatioFigure = { value: number | null; n: number; ci95: Interval | null };

export type VersionReport = {
  model_version: string;
  requests: number;
  errors: number;
  error_ratio: RatioFigure;
  p95_ms: number | null;
  labelled: number;
  accuracy: RatioFigure;
  precision: RatioFigure;
  recall: RatioFigure;
  f1: number | null;
  drift_psi: number | null;
};

export type Verdict = {
  decision: Decision;
  reasons: string[];
  champion: VersionReport;
  challenger: VersionReport | null;
  agreement: (RatioFigure & { compared: number }) | null;
  tests: { accuracy: ZTest | null; error_ratio: ZTest | null };
};

function ratio(successes: number, n: number): RatioFigure {
  return { value: n > 0 ? successes / n : null, n, ci95: wilson(successes, n) };
}

export function versionReport(f: VersionFigures): VersionReport {
  const precision = ratio(f.positive.tp, f.positive.predicted);
  const recall = ratio(f.positive.tp, f.positive.support);
  const p = precision.value;
  const r = recall.value;
  return {
    model_version: f.model_version,
    requests: f.requests,
    errors: f.errors,
    error_ratio: ratio(f.errors, f.requests),
    p95_ms: f.p95_ms,
    labelled: f.labelled,
    accuracy: ratio(f.correct, f.labelled),
    precision,
    recall,
    f1: p === null || r === null ? null : p + r === 0 ? 0 : (2 * p * r) / (p + r),
    drift_psi: f.drift_psi,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const pval = (p: number) => (p < 1e-4 ? 'p < 0.0001' : `p=${p.toPrecision(2)}`);
const fmtCi = (c: Interval | null) => (c ? `[${pct(c.low)}, ${pct(c.high)}]` : '');

export function verdict(
  champion: VersionFigures,
  challenger: VersionFigures | undefined,
  limits: VerdictLimits,
  extra: { agreement?: Agreement; guardTripped?: string } = {},
): Verdict {
  const champ = versionReport(champion);
  const agreement = extra.agreement
    ? { ...ratio(extra.agreement.agreed, extra.agreement.compared), compared: extra.agreement.compared }
    : null;
  if (challenger === undefined) {
    return {
      decision: 'hold',
      reasons: ['no challenger: set CHALLENGER_ALIAS and point that alias at a version'],
      champion: champ,
      challenger: null,
      agreement,
      tests: { accuracy: null, error_ratio: null },
    };
  }
  const chall = versionReport(challenger);
  const rollback: string[] = [];
  const hold: string[] = [];
  const promote: string[] = [];
  const notes: string[] = [];

  if (extra.guardTripped) rollback.push(`the guard rolled the canary back: ${extra.guardTripped}`);

  // Errors and latency: judged once the challenger has scored enough texts.
  let errorTest: ZTest | null = null;
  if (challenger.requests < limits.minRequests) {
    hold.push(
      `not enough data on errors and latency: the challenger scored ${challenger.requests} texts, ${limits.minRequests} needed`,
    );
  } else {
    const er = challenger.errors / challenger.requests;
    errorTest = twoProportionZ(challenger.errors, challenger.requests, champion.errors, champion.requests);
    if (er > limits.maxErrorRatio) {
      rollback.push(`challenger error ratio ${pct(er)} is above the limit ${pct(limits.maxErrorRatio)}`);
    } else if (errorTest && errorTest.z > 0 && errorTest.p < limits.alpha) {
      rollback.push(
        `challenger errors more often than the champion (${pct(er)} vs ${pct(champ.error_ratio.value ?? 0)}, p=${errorTest.p.toPrecision(2)})`,
      );
    }
    if (challenger.p95_ms !== null && champion.p95_ms !== null && champion.p95_ms > 0) {
      const lr = challenger.p95_ms / champion.p95_ms;
      if (lr > limits.maxLatencyRatio && challenger.p95_ms - champion.p95_ms > LATENCY_NOISE_MS) {
        rollback.push(
          `challenger p95 latency ${challenger.p95_ms.toPrecision(3)} ms is ${lr.toFixed(2)}× the champion's (limit ${limits.maxLatencyRatio}×)`,
        );
      }
    }
  }

  // Quality from feedback labels.
  let accTest: ZTest | null = null;
  if (challenger.labelled < limits.minLabels || champion.labelled < limits.minLabels) {
    hold.push(
      `not enough data on quality: ${challenger.labelled} labelled predictions for the challenger and ${champion.labelled} for the champion, ${limits.minLabels} each needed`,
    );
  } else {
    accTest = twoProportionZ(challenger.correct, challenger.labelled, champion.correct, champion.labelled);
    const a1 = chall.accuracy;
    const a2 = champ.accuracy;
    const figures = `accuracy ${pct(a1.value ?? 0)} ${fmtCi(a1.ci95)} on ${a1.n} labels vs ${pct(a2.value ?? 0)} ${fmtCi(a2.ci95)} on ${a2.n}`;
    if (accTest === null) {
      hold.push(`no difference in quality to test: ${figures}`);
    } else if (accTest.p >= limits.alpha) {
      hold.push(`no significant difference in quality (${pval(accTest.p)}): ${figures}`);
    } else if (accTest.z < 0) {
      rollback.push(`challenger is significantly worse (${pval(accTest.p)}): ${figures}`);
    } else if (chall.f1 !== null && champ.f1 !== null && chall.f1 < champ.f1) {
      hold.push(
        `challenger is more accurate (${pval(accTest.p)}) but its F1 on the positive label is lower (${chall.f1.toFixed(3)} vs ${champ.f1.toFixed(3)})`,
      );
    } else {
      promote.push(`challenger is significantly better (${pval(accTest.p)}): ${figures}`);
    }
  }

  if (challenger.drift_psi !== null && challenger.drift_psi >= limits.driftPsi) {
    const msg = `the challenger's inputs or scores drifted from its training data (PSI ${challenger.drift_psi.toFixed(3)} ≥ ${limits.driftPsi})`;
    if (promote.length > 0) hold.push(msg);
    else notes.push(msg);
  }
  if (agreement && agreement.value !== null) {
    notes.push(`the versions agree on ${pct(agreement.value)} of ${agreement.compared} texts scored by both`);
  }

  let decision: Decision;
  let reasons: string[];
  if (rollback.length > 0) {
    decision = 'rollback';
    reasons = rollback;
  } else if (promote.length > 0 && hold.length === 0) {
    decision = 'promote';
    reasons = promote;
  } else {
    decision = 'hold';
    reasons = hold;
  }
  return {
    decision,
    reasons: [...reasons, ...notes],
    champion: champ,
    challenger: chall,
    agreement,
    tests: { accuracy: accTest, error_ratio: errorTest },
  };
}
