// The data plane: what every prediction goes through, whichever protocol it came in by (POST /predict,
// or the Open Inference Protocol's POST /v2/models/{name}/infer). Route the request to a version
// (the champion, or the challenger for the users a canary/A-B rollout gives it), predict, record
// (metrics, logs, trace, store, drift), and in shadow mode queue the text for the challenger. The
// protocol layers (src/http/routes/predict.ts, src/http/routes/v2.ts) only parse and format.

import type { FastifyRequest } from 'fastify';
import type { RolloutConfig } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import { isClientRequestId, uuidV7 } from '../http/ids.ts';
import type { LoadedModel, ServiceState } from '../http/state.ts';
import type { Prediction } from '../model/types.ts';
import type { Logs } from '../monitoring/logging.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import type { PredictionRecorder } from '../monitoring/predictions.ts';
import { createRollout, type Rollout, type Slots } from '../rollout/controller.ts';

/** One text's answer: the prediction and the id it is stored (and labelled) under. */
export type One = { p: Prediction; predictionId: string };
/** A batch's answers, in order, under one prediction id (item i is index i). */
export type Many = { ps: Prediction[]; predictionId: string };

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
  /**
   * Predicts one text with `model` and records it. A promise when the model is asynchronous (ONNX) or
   * the store's queue is full and asks to wait (backpressure); a plain value otherwise (the hot path).
   */
  one(request: FastifyRequest, model: LoadedModel, text: string): One | Promise<One>;
  /** Predicts a batch with `model`, in order, as one call, and records it. */
  many(request: FastifyRequest, model: LoadedModel, texts: string[]): Many | Promise<Many>;
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
    scoreShadow(model, items) {
      const texts = items.map((it) => it.text);
      const record = (ps: Prediction[]) => {
        for (let i = 0; i < items.length; i++) {
          recorder.recordOne(items[i].request, items[i].predictionId, model, items[i].text, ps[i]);
        }
        return ps;
      };
      if (model.classifier.async) return recorder.predictAsync(model, model.classifier, texts).then(record);
      return record(recorder.predictMany(model, texts));
    },
  });
  const shadowMode = rollout.mode === 'shadow';
  // Reused for every request: route() must not allocate.
  const current: Slots = { champion: undefined, challenger: undefined };

  const notReady = () =>
    new HttpError(503, 'not_ready', `the model is not loaded yet (${state.reason}); retry shortly or poll /ready`);
  // A client's X-Request-Id is not a storage key (it may repeat, or carry personal data): a fresh id.
  const predictionIdOf = (request: FastifyRequest) => (isClientRequestId(request) ? uuidV7() : request.id);
  const rolloutOn = () => state.challenger !== undefined && rollout.mode !== 'off';

  /** A call into the model failed: counted for its role (the guard watches it), then rethrown. */
  function failedCall(timed: boolean, model: LoadedModel, t0: number, err: unknown): never {
    if (timed) rollout.called(model, performance.now() - t0, true);
    throw err;
  }

  function oneNow(request: FastifyRequest, model: LoadedModel, text: string): One | Promise<One> {
    const predictionId = predictionIdOf(request);
    const timed = rolloutOn();
    const t0 = timed ? performance.now() : 0;
    const done = (p: Prediction): One => {
      if (timed) rollout.called(model, performance.now() - t0, false);
      recorder.recordOne(request, predictionId, model, text, p);
      if (shadowMode) rollout.shadow({ request, predictionId, index: 0, text, champion: p });
      return { p, predictionId };
    };
    // ONNX formats: inference is async (onnxruntime); our own format stays on the sync path.
    if (model.classifier.async) {
      return recorder.predictAsync(model, model.classifier, [text]).then(
        (ps) => done(ps[0]),
        (err) => failedCall(timed, model, t0, err),
      );
    }
    let p: Prediction;
    try {
      p = recorder.predictOne(model, text);
    } catch (err) {
      return failedCall(timed, model, t0, err);
    }
    return done(p);
  }

  function manyNow(request: FastifyRequest, model: LoadedModel, texts: string[]): Many | Promise<Many> {
    const predictionId = predictionIdOf(request);
    const timed = rolloutOn();
    const t0 = timed ? performance.now() : 0;
    const done = (ps: Prediction[]): Many => {
      if (timed) rollout.called(model, performance.now() - t0, false);
      recorder.recordMany(request, predictionId, model, texts, ps);
      if (shadowMode) {
        for (let i = 0; i < texts.length; i++) {
          rollout.shadow({ request, predictionId, index: i, text: texts[i], champion: ps[i] });
        }
      }
      return { ps, predictionId };
    };
    if (model.classifier.async) {
      return recorder
        .predictAsync(model, model.classifier, texts)
        .then(done, (err) => failedCall(timed, model, t0, err));
    }
    let ps: Prediction[];
    try {
      ps = recorder.predictMany(model, texts);
    } catch (err) {
      return failedCall(timed, model, t0, err);
    }
    return done(ps);
  }

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
      // The store's queue is full and the store works: wait for the writer rather than drop the record.
      const wait = recorder.room(1);
      return wait === undefined ? oneNow(request, model, text) : wait.then(() => oneNow(request, model, text));
    },
    many(request, model, texts) {
      const wait = recorder.room(texts.length);
      return wait === undefined ? manyNow(request, model, texts) : wait.then(() => manyNow(request, model, texts));
    },
  };
}
