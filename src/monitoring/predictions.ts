// What happens around each prediction besides answering: metrics, the business log line, the
// sampled (anonymised) ml_payload lines, the inference span when tracing is on, and the prediction
// record for drift and the store (the sink only computes the drift features and queues the record).

import { context, SpanStatusCode } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import type { LoadedModel } from '../http/state.ts';
import type { AsyncClassifier, Prediction, SyncClassifier } from '../model/types.ts';
import type { PredictionSink } from '../quality/monitoring.ts';
import type { Logs } from './logging.ts';
import type { Metrics } from './metrics.ts';
import { inSpan, type Tracing } from './tracing.ts';

export type PredictionRecorder = {
  /** Classifies one text, timing it (and tracing it) as one inference. Sync formats only. */
  predictOne(model: LoadedModel, text: string): Prediction;
  /** Classifies a batch in order as one inference. Sync formats only. */
  predictMany(model: LoadedModel, texts: string[]): Prediction[];
  /** Classifies texts with an async format (ONNX): one model run for the batch, timed and traced as one inference. */
  predictAsync(model: LoadedModel, classifier: AsyncClassifier, texts: readonly string[]): Promise<Prediction[]>;
  /** Records what was predicted for the request: metrics, business and payload logs. */
  recordOne(request: FastifyRequest, model: LoadedModel, text: string, p: Prediction): void;
  recordMany(request: FastifyRequest, model: LoadedModel, texts: string[], ps: Prediction[]): void;
};

function userIdHash(request: FastifyRequest, logs: Logs): string | undefined {
  const user = request.headers['x-user-id'];
  return typeof user === 'string' && user !== '' ? logs.hash(user) : undefined;
}

export function createPredictionRecorder(opts: {
  metrics: Metrics | undefined;
  logs: Logs;
  tracing: Tracing | undefined;
  sink?: PredictionSink;
}): PredictionRecorder {
  const { metrics, logs, tracing, sink } = opts;
  const businessLine = logs.businessLine;
  const payloadOn = logs.payload.isLevelEnabled('info');

  const payload = (request: FastifyRequest, model: LoadedModel, text: string, p: Prediction) => {
    if (payloadOn && logs.samplePayload()) {
      logs.payload.info({
        request_id: request.id,
        model_name: model.info.name,
        model_version: model.info.version,
        label: p.label,
        proba: p.proba,
        chars: text.length,
        text: logs.safeText(text),
      });
    }
  };

  const timed = <T>(model: LoadedModel, n: number, fn: () => T): T => {
    const t0 = performance.now();
    const out = tracing
      ? inSpan(
          tracing.tracer,
          'inference',
          { 'model.name': model.info.name, 'model.version': model.info.version, 'batch.size': n },
          fn,
        )
      : fn();
    metrics?.inferred(model.info, (performance.now() - t0) / 1000, n);
    return out;
  };

  return {
    predictOne(model, text) {
      const classifier = model.classifier as SyncClassifier;
      if (tracing) return timed(model, 1, () => classifier.predict(text));
      const t0 = performance.now();
      const p = classifier.predict(text);
      metrics?.inferred(model.info, (performance.now() - t0) / 1000, 1);
      return p;
    },
    predictMany(model, texts) {
      const classifier = model.classifier as SyncClassifier;
      return timed(model, texts.length, () => texts.map((t) => classifier.predict(t)));
    },
    async predictAsync(model, classifier, texts) {
      const n = texts.length;
      const span = tracing?.tracer.startSpan(
        'inference',
        { attributes: { 'model.name': model.info.name, 'model.version': model.info.version, 'batch.size': n } },
        context.active(),
      );
      const t0 = performance.now();
      try {
        const out = await classifier.predictBatch(texts);
        metrics?.inferred(model.info, (performance.now() - t0) / 1000, n);
        return out;
      } catch (err) {
        span?.recordException(err as Error);
        span?.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span?.end();
      }
    },
    recordOne(request, model, text, p) {
      metrics?.predicted(model.info, p.label, p.proba, text.length);
      if (businessLine) {
        businessLine({
          request_id: request.id,
          model_name: model.info.name,
          model_version: model.info.version,
          label: p.label,
          proba: p.proba,
          user_id_hash: userIdHash(request, logs),
        });
      }
      payload(request, model, text, p);
      sink?.observe(request.id, 0, model, text, p);
    },
    recordMany(request, model, texts, ps) {
      const labels: Record<string, number> = {};
      for (let i = 0; i < ps.length; i++) {
        metrics?.predicted(model.info, ps[i].label, ps[i].proba, texts[i].length);
        labels[ps[i].label] = (labels[ps[i].label] ?? 0) + 1;
        payload(request, model, texts[i], ps[i]);
        sink?.observe(request.id, i, model, texts[i], ps[i]);
      }
      if (businessLine) {
        businessLine({
          request_id: request.id,
          model_name: model.info.name,
          model_version: model.info.version,
          batch_size: ps.length,
          labels,
          user_id_hash: userIdHash(request, logs),
        });
      }
    },
  };
}
