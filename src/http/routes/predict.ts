// POST /predict — the hot path. One text or a batch in, label + probabilities out.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VISIBLE_PATTERN } from '../../model/visible.ts';
import type { PredictionRecorder } from '../../monitoring/predictions.ts';
import { errorSchema, HttpError } from '../errors.ts';
import { acquireModel, type LoadedModel, releaseModel, type ServiceState } from '../state.ts';

export type PredictOptions = { maxBatch: number; maxTextChars: number };

type PredictBody = { text?: string; texts?: string[] };

const predictionSchema = {
  type: 'object',
  properties: {
    label: { type: 'string', description: 'The most probable label.' },
    proba: { type: 'number', description: 'Probability of `label`.' },
    probabilities: {
      type: 'object',
      additionalProperties: { type: 'number' },
      description: 'Probability of every label.',
    },
  },
  required: ['label', 'proba', 'probabilities'],
} as const;

const modelSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, version: { type: 'string' } },
  required: ['name', 'version'],
} as const;

export function predictRoutes(
  app: FastifyInstance,
  state: ServiceState,
  recorder: PredictionRecorder,
  opts: PredictOptions,
): void {
  // The pattern refuses a text with no visible character (src/model/visible.ts): one rule, in the schema.
  const text = { type: 'string', minLength: 1, maxLength: opts.maxTextChars, pattern: VISIBLE_PATTERN } as const;
  app.post<{ Body: PredictBody }>(
    '/predict',
    {
      schema: {
        summary: 'Classify one text or a batch of texts',
        operationId: 'postPredict',
        links: {
          200: {
            ConfirmLabel: {
              operationId: 'postFeedback',
              description: 'Send the true label of this prediction (here: the predicted one) to POST /feedback.',
              requestBody: { request_id: '$response.body#/request_id', label: '$response.body#/label' },
            },
          },
        },
        description: `Send {"text": "..."} for one prediction or {"texts": [...]} (up to ${opts.maxBatch}) for a batch, in order — exactly one of the two. Texts are limited to ${opts.maxTextChars} characters and need a visible character (white space, zero-width and other invisible characters alone are refused). Unknown fields are refused (400 unknown_field), as on every endpoint.`,
        body: {
          type: 'object',
          additionalProperties: false,
          oneOf: [
            { required: ['text'], title: 'One text' },
            { required: ['texts'], title: 'A batch of texts' },
          ],
          properties: {
            text: { ...text, description: 'The text to classify.', examples: ['Buy cheap iPhone'] },
            texts: {
              type: 'array',
              minItems: 1,
              maxItems: opts.maxBatch,
              items: text,
              description: 'Texts to classify.',
            },
          },
        },
        response: {
          200: {
            description: 'A prediction (for `text`) or a list of them (for `texts`).',
            type: 'object',
            properties: {
              ...predictionSchema.properties,
              predictions: { type: 'array', items: predictionSchema },
              model: modelSchema,
              request_id: { type: 'string' },
            },
            required: ['model', 'request_id'],
          },
          '4xx': errorSchema,
          503: errorSchema,
        },
      },
    },
    (request) => {
      const current = state.model;
      if (current === undefined || state.phase === 'starting') {
        throw new HttpError(
          503,
          'not_ready',
          `the model is not loaded yet (${state.reason}); retry shortly or poll /ready`,
        );
      }
      // The request keeps this version to its end, even when a hot swap installs another meanwhile;
      // the version is released when the answer is ready — after it settles, should inference be async.
      const model = acquireModel(current);
      let answer: ReturnType<typeof predict>;
      try {
        answer = predict(request, model);
      } catch (err) {
        releaseModel(model);
        throw err;
      }
      if (answer instanceof Promise) return answer.finally(() => releaseModel(model));
      releaseModel(model);
      return answer;
    },
  );

  function predict(request: FastifyRequest<{ Body: PredictBody }>, model: LoadedModel) {
    const body = request.body;
    if (body.text !== undefined) {
      if (body.texts !== undefined) {
        throw new HttpError(400, 'ambiguous_request', 'send either "text" or "texts", not both');
      }
      const text = body.text;
      if (model.classifier.async) {
        // ONNX formats: inference is async (onnxruntime); our own format stays on the sync path below.
        return recorder.predictAsync(model, model.classifier, [text]).then((ps) => {
          const p = ps[0];
          recorder.recordOne(request, model, text, p);
          return {
            label: p.label,
            proba: p.proba,
            probabilities: p.probabilities,
            model: model.info,
            request_id: request.id,
          };
        });
      }
      const p = recorder.predictOne(model, text);
      recorder.recordOne(request, model, text, p);
      return {
        label: p.label,
        proba: p.proba,
        probabilities: p.probabilities,
        model: model.info,
        request_id: request.id,
      };
    }
    if (body.texts !== undefined) {
      const texts = body.texts;
      if (model.classifier.async) {
        return recorder.predictAsync(model, model.classifier, texts).then((predictions) => {
          recorder.recordMany(request, model, texts, predictions);
          return { predictions, model: model.info, request_id: request.id };
        });
      }
      const predictions = recorder.predictMany(model, texts);
      recorder.recordMany(request, model, texts, predictions);
      return { predictions, model: model.info, request_id: request.id };
    }
    throw new HttpError(
      400,
      'missing_text',
      'the body has neither "text" nor "texts": send {"text": "..."} or {"texts": ["...", ...]}',
    );
  }
}
