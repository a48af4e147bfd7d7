// GET /monitoring/rollout's body: the verdict (src/rollout/verdict.ts) fed with what this instance
// measured (calls, failures, p95 inference time per role, shadow agreement) and with the online
// quality and drift from the store. Those come from the shared tables, so with several instances on
// one PostgreSQL store they are the fleet's; calls/latency/agreement are this instance's (Prometheus
// sums them over the fleet: msgcls_rollout_* and msgcls_inference_duration_seconds by role).

import type { RolloutConfig } from '../config.ts';
import type { LoadedModel } from '../http/state.ts';
import type { DriftReport } from '../quality/drift.ts';
import type { ModelQuality, QualityReport, WindowFigures } from '../quality/online.ts';
import type { RolloutSnapshot, VersionTally } from './controller.ts';
import { type Verdict, type VersionFigures, verdict } from './verdict.ts';

export type RolloutReport = {
  computed_at: string;
  /**
   * Where each figure comes from: `fleet` = the shared store (every instance on it), `instance` = this
   * process only (GET /metrics of each instance; Prometheus sums them), `none` = no store.
   */
  scope: { quality: 'fleet' | 'none'; drift: 'fleet' | 'instance'; requests_latency_agreement: 'instance' };
  quality_window: string | null;
  verdict: Verdict;
  rollout: RolloutSnapshot;
};

function maxPsi(d: DriftReport | undefined): number | null {
  if (d?.status !== 'ok') return null;
  let max: number | null = null;
  for (const f of Object.values(d.features)) if (f && f.psi !== null && (max === null || f.psi > max)) max = f.psi;
  return max;
}

function qualityOf(q: QualityReport | undefined, model: LoadedModel): WindowFigures | undefined {
  const m: ModelQuality | undefined = q?.models.find(
    (x) => x.model_name === model.info.name && x.model_version === model.info.version,
  );
  return m?.windows.time;
}

export function figuresFor(
  model: LoadedModel,
  tally: VersionTally | null,
  quality: WindowFigures | undefined,
  drift: DriftReport | undefined,
): VersionFigures {
  const pos = model.classifier.positiveLabel;
  let correct = 0;
  for (const [predicted, row] of Object.entries(quality?.confusion ?? {})) correct += row[predicted] ?? 0;
  const lf = quality?.labels[pos];
  return {
    model_version: model.info.version,
    requests: tally?.calls ?? 0,
    errors: tally?.errors ?? 0,
    p95_ms: tally?.p95_ms ?? null,
    labelled: quality?.labelled ?? 0,
    correct,
    positive: { tp: quality?.confusion[pos]?.[pos] ?? 0, predicted: lf?.predicted ?? 0, support: lf?.support ?? 0 },
    drift_psi: drift && drift.model_version === model.info.version ? maxPsi(drift) : null,
  };
}

export function rolloutReport(opts: {
  config: RolloutConfig;
  driftPsi: number;
  champion: LoadedModel;
  challenger: LoadedModel | undefined;
  snapshot: RolloutSnapshot;
  quality: QualityReport | undefined;
  drift: { champion: DriftReport | undefined; challenger: DriftReport | undefined; scope: 'fleet' | 'instance' };
}): RolloutReport {
  const { config, champion, challenger, snapshot, quality } = opts;
  const v = verdict(
    figuresFor(champion, snapshot.versions.champion, qualityOf(quality, champion), opts.drift.champion),
    challenger
      ? figuresFor(challenger, snapshot.versions.challenger, qualityOf(quality, challenger), opts.drift.challenger)
      : undefined,
    {
      minLabels: config.verdict.minLabels,
      minRequests: config.guard.minRequests,
      maxErrorRatio: config.guard.maxErrorRatio,
      maxLatencyRatio: config.verdict.maxLatencyRatio,
      alpha: config.verdict.alpha,
      driftPsi: opts.driftPsi,
    },
    {
      agreement: snapshot.agreement ?? undefined,
      guardTripped: snapshot.guard.tripped?.reason,
    },
  );
  if (challenger && snapshot.mode === 'shadow' && v.challenger && v.challenger.labelled === 0) {
    v.reasons.push(
      'shadow predictions are not answered, so they get no feedback labels: switch to ROLLOUT_MODE=canary (or ab) to measure the challenger’s quality',
    );
  }
  return {
    computed_at: new Date().toISOString(),
    scope: { quality: quality ? 'fleet' : 'none', drift: opts.drift.scope, requests_latency_agreement: 'instance' },
    quality_window: quality ? `labelled predictions made in the last ${quality.windows.time.minutes} minutes` : null,
    verdict: v,
    rollout: snapshot,
  };
}
