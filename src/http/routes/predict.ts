// POST /predict — the hot path. One text or a batch in, label + probabilities out.

import type { FastifyInstance, FastifyRequest } from 'fastify';
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

const NON_SPACE = /\S/;

export function predictRoutes(
  app: FastifyInstance,
  state: ServiceState,
  recorder: PredictionRecorder,
  opts: PredictOptions,
): void {
  const text = { type: 'string', minLength: 1, maxLength: opts.maxTextChars } as const;
  app.post<{ Body: PredictBody }>(
    '/predict',
    {
      schema: {
        summary: 'Classify one text or a batch of texts',
        description: `Send {"text": "..."} for one prediction or {"texts": [...]} (up to ${opts.maxBatch}) for a batch, in order. Texts are limited to ${opts.maxTextChars} characters.`,
        body: {
          type: 'object',
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
      if (!NON_SPACE.test(body.text)) {
        throw new HttpError(400, 'empty_text', 'body.text has no visible characters: send a non-empty text');
      }
      const p = recorder.predictOne(model, body.text);
      recorder.recordOne(request, model, body.text, p);
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
      for (let i = 0; i < texts.length; i++) {
        if (!NON_SPACE.test(texts[i])) {
          throw new HttpError(400, 'empty_text', `body.texts.${i} has no visible characters: send non-empty texts`);
        }
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
