// The data plane: what every prediction goes through, whichever protocol it came in by (POST /predict,
// or the Open Inference Protocol's POST /v2/models/{name}/infer). Route the request to a version
// (the champion, or the challenger for the users a canary/A-B rollout gives it), predict, record
// (metrics, logs, trace, store, drift), and in shadow mode queue the text for the challenger. The
// protocol layers (src/http/routes/predict.ts, src/http/routes/v2.ts) only parse and format.

import type { FastifyRequest } from 'fastify';
import type { RolloutConfig } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import type { LoadedModel, ServiceState } from '../http/state.ts';
import type { Prediction } from '../model/types.ts';
import type { Logs } from '../monitoring/logging.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import type { PredictionRecorder } from '../monitoring/predictions.ts';
import { createRollout, type Rollout, type Slots } from '../rollout/controller.ts';

export type DataPlane = {
  readonly rollout: Rollout;
  /** Whether a model is loaded and the service is ready. */
  ready(): boolean;
  /** The model that answers this request; HttpError 503 when none is loaded yet. */
  route(request: FastifyRequest): LoadedModel;
  /** The loaded model of that version (champion or challenger), if any. */
  byVersion(version: string): LoadedModel | undefined;
  /** The models loaded now, champion first. */
  slots(): Slots;
  /** Predicts one text with `model` and records it. */
  one(request: FastifyRequest, model: LoadedModel, text: string): Prediction;
  /** Predicts a batch with `model`, in order, as one call, and records it. */
  many(request: FastifyRequest, model: LoadedModel, texts: string[]): Prediction[];
};

export function createDataPlane(opts: {
  state: ServiceState;
  recorder: PredictionRecorder;
  rollout: RolloutConfig;
  logs: Logs;
  metrics: Metrics | undefined;
}): DataPlane {
  const { state, recorder } = opts;
  const slots = (): Slots => ({ champion: state.model, challenger: state.challenger });
  const rollout = createRollout(opts.rollout, {
    logs: opts.logs,
    registry: opts.metrics?.registry,
    slots,
    scoreShadow(model, item) {
      const p = recorder.predictOne(model, item.text);
      recorder.recordOne(item.request, model, item.text, p);
      return p;
    },
  });
  const shadowMode = rollout.mode === 'shadow';
  // Reused for every request: route() must not allocate.
  const current: Slots = { champion: undefined, challenger: undefined };

  const notReady = () =>
    new HttpError(503, 'not_ready', `the model is not loaded yet (${state.reason}); retry shortly or poll /ready`);

  const timed = <T>(model: LoadedModel, fn: () => T): T => {
    const t0 = performance.now();
    let out: T;
    try {
      out = fn();
    } catch (err) {
      rollout.called(model, performance.now() - t0, true);
      throw err;
    }
    rollout.called(model, performance.now() - t0, false);
    return out;
  };

  return {
    rollout,
    ready: () => state.model !== undefined && state.phase !== 'starting',
    route(request) {
      const champion = state.model;
      if (champion === undefined || state.phase === 'starting') throw notReady();
      if (state.challenger === undefined || rollout.mode === 'off' || shadowMode) return champion;
      current.champion = champion;
      current.challenger = state.challenger;
      return rollout.pick(request, current) ?? champion;
    },
    byVersion(version) {
      if (state.model?.info.version === version) return state.model;
      if (state.challenger?.info.version === version) return state.challenger;
      return undefined;
    },
    slots,
    one(request, model, text) {
      if (state.challenger === undefined || rollout.mode === 'off') {
        const p = recorder.predictOne(model, text);
        recorder.recordOne(request, model, text, p);
        return p;
      }
      const p = timed(model, () => recorder.predictOne(model, text));
      recorder.recordOne(request, model, text, p);
      if (shadowMode) rollout.shadow({ request, index: 0, text, champion: p });
      return p;
    },
    many(request, model, texts) {
      if (state.challenger === undefined || rollout.mode === 'off') {
        const ps = recorder.predictMany(model, texts);
        recorder.recordMany(request, model, texts, ps);
        return ps;
      }
      const ps = timed(model, () => recorder.predictMany(model, texts));
      recorder.recordMany(request, model, texts, ps);
      if (shadowMode) {
        for (let i = 0; i < texts.length; i++) rollout.shadow({ request, index: i, text: texts[i], champion: ps[i] });
      }
      return ps;
    },
  };
}
