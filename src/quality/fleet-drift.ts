// Drift of the whole fleet: with several instances writing to one store, each instance's drift window
// sees only its own share of the traffic. This computes the same PSI report from the store — the
// latest DRIFT_WINDOW predictions of a version, whoever made them — against the reference the version
// ships. A version without a shipped reference (its reference is built per instance from its first
// predictions) gets no fleet figure: undefined, and the per-instance window stays the answer.

import type { LoadedModel } from '../http/state.ts';
import type { Store } from '../store/types.ts';
import { createModelDrift, type DriftOptions, type DriftReport } from './drift.ts';

export async function fleetDrift(
  store: Store,
  model: LoadedModel,
  opts: DriftOptions,
  now = Date.now(),
): Promise<DriftReport | undefined> {
  const reference = model.manifest.reference;
  if (reference === undefined || Object.keys(reference).length === 0) return undefined;
  const sinceTs = opts.maxAgeMinutes > 0 ? now - opts.maxAgeMinutes * 60_000 : 0;
  const rows = await store.recentFeatures({
    modelName: model.info.name,
    modelVersion: model.info.version,
    sinceTs,
    limit: opts.window,
  });
  // referenceCount is not used with a shipped reference; the window gets every row read.
  const window = createModelDrift(model.info, reference, { ...opts, referenceCount: opts.window });
  for (let i = rows.length - 1; i >= 0; i--) window.observe(rows[i].values, rows[i].ts);
  return window.report(now);
}
