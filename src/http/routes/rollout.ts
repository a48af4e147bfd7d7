// GET /monitoring/rollout — the rollout's verdict (promote, hold or rollback, with the reasons) and
// the figures it was reached on, per version and role.

import type { FastifyInstance } from 'fastify';
import type { DriftConfig, RolloutConfig } from '../../config.ts';
import type { DriftReport } from '../../quality/drift.ts';
import { fleetDrift } from '../../quality/fleet-drift.ts';
import type { ModelMonitoring } from '../../quality/monitoring.ts';
import { type RolloutReport, rolloutReport } from '../../rollout/report.ts';
import type { DataPlane } from '../../serving/dataplane.ts';
import { errorSchema, HttpError } from '../errors.ts';

/** The rollout's report (undefined before a model is loaded); GET /monitoring/rollout and the dashboard. */
export function createRolloutReporter(
  dp: DataPlane,
  monitoring: ModelMonitoring | undefined,
  config: RolloutConfig,
  drift: DriftConfig | undefined,
): () => Promise<RolloutReport | undefined> {
  return async () => {
    const { champion, challenger } = dp.slots();
    if (champion === undefined || !dp.ready()) return undefined;
    let quality: Awaited<ReturnType<NonNullable<ModelMonitoring['quality']>['compute']>> | undefined;
    if (monitoring?.quality) {
      // A store that does not answer leaves the verdict without quality figures ("not enough data").
      quality = await monitoring.quality.compute().catch(() => monitoring.quality?.latest());
    }
    // Drift of the fleet (from the store) when there is one; else this instance's windows.
    let driftScope: 'fleet' | 'instance' = 'instance';
    let champDrift: DriftReport | undefined = monitoring?.drift();
    let challDrift: DriftReport | undefined = monitoring?.challengerDrift();
    const store = monitoring?.store;
    if (store && drift) {
      try {
        const [a, b] = await Promise.all([
          fleetDrift(store, champion, drift),
          challenger ? fleetDrift(store, challenger, drift) : undefined,
        ]);
        if (a !== undefined) {
          driftScope = 'fleet';
          champDrift = a;
          challDrift = b ?? challDrift;
        }
      } catch {
        // The store did not answer: this instance's windows.
      }
    }
    return rolloutReport({
      config,
      driftPsi: drift?.drifted ?? 0.2,
      champion,
      challenger,
      snapshot: dp.rollout.snapshot({ champion, challenger }),
      quality,
      drift: { champion: champDrift, challenger: challDrift, scope: driftScope },
    });
  };
}

export function rolloutRoutes(app: FastifyInstance, computeReport: () => Promise<RolloutReport | undefined>): void {
  app.get(
    '/monitoring/rollout',
    {
      schema: {
        summary: 'Rollout verdict: promote, hold or rollback the challenger, with reasons and per-version figures',
        description:
          'Compares the challenger (CHALLENGER_ALIAS) with the champion on error ratio, p95 inference time, online accuracy/precision/recall/F1 from feedback labels (Wilson 95 % intervals, two-proportion z-test at VERDICT_ALPHA; fewer than VERDICT_MIN_LABELS labels per version is "not enough data"), drift and shadow agreement. Quality and drift are computed from the store (the whole fleet on PostgreSQL; drift for versions that ship a reference); calls, latency and agreement are this instance’s — Prometheus sums those over the fleet (`scope` says which is which).',
        response: {
          200: {
            type: 'object',
            additionalProperties: true,
            properties: {
              computed_at: { type: 'string' },
              scope: { type: 'object', additionalProperties: true },
              verdict: {
                type: 'object',
                additionalProperties: true,
                properties: {
                  decision: { type: 'string', enum: ['promote', 'hold', 'rollback'] },
                  reasons: { type: 'array', items: { type: 'string' } },
                },
              },
              rollout: { type: 'object', additionalProperties: true },
            },
          },
          '4xx': errorSchema,
          503: errorSchema,
        },
      },
    },
    async () => {
      const report = await computeReport();
      if (report === undefined) throw new HttpError(503, 'not_ready', 'no model is loaded yet; retry shortly');
      return report;
    },
  );
}
