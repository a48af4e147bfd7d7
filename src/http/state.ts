// What the HTTP layer needs to know about the process: which model it serves and whether it is
// ready. One mutable object, owned by the server lifecycle (src/server.ts), read by the routes.

import type { Classifier, ModelManifest } from '../model/types.ts';
import type { ModelRef } from '../registry/types.ts';

export type LoadedModel = {
  classifier: Classifier;
  manifest: ModelManifest;
  ref: ModelRef;
  loadedAt: Date;
  /** `{name, version}` as the API returns it; built once per load, not per request. */
  info: { name: string; version: string };
  /** Requests using this model right now (acquireModel/releaseModel). */
  inFlight: number;
  /** Set when the model was swapped out while requests still held it: runs after the last one. */
  onIdle: (() => void) | undefined;
};

export type Phase = 'starting' | 'ready' | 'stopping';

export type ServiceState = {
  phase: Phase;
  /** Why the service is not ready (shown by /health and /ready while phase !== 'ready'). */
  reason: string;
  /** The model serving now; a hot swap replaces it (src/model/slot.ts). Read it once per request. */
  model: LoadedModel | undefined;
  startedAt: number;
};

export function createState(): ServiceState {
  return { phase: 'starting', reason: 'model is loading', model: undefined, startedAt: Date.now() };
}

/**
 * Marks a model as used by one more request. A request that acquired a model finishes on it even
 * when a newer version is swapped in meanwhile; pair every call with releaseModel (in a finally).
 */
export function acquireModel(model: LoadedModel): LoadedModel {
  model.inFlight++;
  return model;
}

/** The request is done with the model; the last request on a swapped-out model releases it. */
export function releaseModel(model: LoadedModel): void {
  if (--model.inFlight === 0 && model.onIdle !== undefined) model.onIdle();
}
