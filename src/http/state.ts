// What the HTTP layer needs to know about the process: which model it serves and whether it is
// ready. One mutable object, owned by the server lifecycle (src/server.ts), read by the routes.

import type { Classifier, ModelManifest } from '../model/types.ts';
import type { ModelRef } from '../registry/types.ts';
import type { Role } from '../rollout/assign.ts';

export type LoadedModel = {
  classifier: Classifier;
  manifest: ModelManifest;
  ref: ModelRef;
  loadedAt: Date;
  /**
   * `{name, version, role}` as the API returns it; built once per load, not per request. The role is
   * the slot's: champion, challenger (canary/A-B) or shadow (scores texts off the response path).
   */
  info: { name: string; version: string; role: Role };
};

export type Phase = 'starting' | 'ready' | 'stopping';

export type ServiceState = {
  phase: Phase;
  /** Why the service is not ready (shown by /health and /ready while phase !== 'ready'). */
  reason: string;
  model: LoadedModel | undefined;
  /** The second version of a rollout (CHALLENGER_ALIAS), when one is loaded. */
  challenger: LoadedModel | undefined;
  startedAt: number;
};

export function createState(): ServiceState {
  return {
    phase: 'starting',
    reason: 'model is loading',
    model: undefined,
    challenger: undefined,
    startedAt: Date.now(),
  };
}
