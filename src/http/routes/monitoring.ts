// GET /monitoring/quality and GET /monitoring/drift — the model-quality figures as JSON, the same
// numbers the msgcls_online_* and msgcls_drift_* gauges carry.

import type { FastifyInstance } from 'fastify';
import type { ModelMonitoring } from '../../quality/monitoring.ts';
import { errorSchema, HttpError } from '../errors.ts';

const nullableNumber = { type: ['number', 'null'] } as const;

const windowSchema = {
  type: 'object',
  properties: {
    labelled: { type: 'integer', description: 'Predictions with a feedback label in the window.' },
    accuracy: nullableNumber,
    label_delay_seconds: { type: 'object', properties: { mean: nullableNumber, max: nullableNumber } },
    labels: {
      type: 'object',
      description: 'Per label, one-vs-rest.',
      additionalProperties: {
        type: 'object',
        properties: {
          precision: nullableNumber,
          recall: nullableNumber,
          f1: nullableNumber,
          support: { type: 'integer', description: 'Labelled predictions whose true label is this one.' },
          predicted: { type: 'integer', description: 'Labelled predictions the model gave this label.' },
        },
      },
    },
    confusion: {
      type: 'object',
      description: 'predicted label → true label → count',
      additionalProperties: { type: 'object', additionalProperties: { type: 'integer' } },
    },
  },
} as const;

const qualitySchema = {
  type: 'object',
  properties: {
    computed_at: { type: 'string' },
    store: { type: 'string', enum: ['sqlite', 'postgres'] },
    windows: {
      type: 'object',
      properties: {
        time: { type: 'object', properties: { minutes: { type: 'integer' } } },
        count: { type: 'object', properties: { size: { type: 'integer' } } },
      },
    },
    models: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          model_name: { type: 'string' },
          model_version: { type: 'string' },
          windows: { type: 'object', properties: { time: windowSchema, count: windowSchema } },
        },
      },
    },
  },
} as const;

const featureSchema = {
  type: 'object',
  properties: {
    psi: nullableNumber,
    verdict: { type: ['string', 'null'], enum: ['stable', 'moderate', 'drifted', null] },
    count: { type: 'integer' },
    edges: { type: 'array', items: { type: 'number' } },
    reference: { type: 'array', items: { type: 'number' } },
    live: { type: 'array', items: { type: 'number' } },
  },
} as const;

const driftSchema = {
  type: 'object',
  properties: {
    model_name: { type: 'string' },
    model_version: { type: 'string' },
    status: {
      type: 'string',
      enum: ['ok', 'moderate', 'drifted', 'insufficient_data', 'building_reference'],
      description:
        'The worst verdict over the features: ok (all stable), moderate, drifted (at least one feature drifted); insufficient_data: fewer than DRIFT_MIN_COUNT predictions in the window; building_reference: the version ships no drift reference, and its first DRIFT_REFERENCE_COUNT predictions are being collected as one.',
    },
    drifted_features: { type: 'array', items: { type: 'string' }, description: 'Features whose verdict is drifted.' },
    reference: {
      type: 'object',
      description:
        'What the window is compared with: `shipped` (the distributions in the model artifact, from n training or held-out inputs) or `first_predictions` (the version’s first n predictions on this instance).',
      properties: { source: { type: 'string', enum: ['shipped', 'first_predictions'] }, n: { type: 'integer' } },
    },
    window: {
      type: 'object',
      properties: {
        size: { type: 'integer' },
        max_age_minutes: { type: 'integer' },
        min_count: { type: 'integer' },
        predictions: { type: 'integer' },
      },
    },
    thresholds: { type: 'object', properties: { moderate: { type: 'number' }, drifted: { type: 'number' } } },
    empty_bin_share: { type: 'number' },
    features: { type: 'object', additionalProperties: featureSchema },
  },
} as const;

export function monitoringRoutes(app: FastifyInstance, monitoring: ModelMonitoring | undefined): void {
  app.get(
    '/monitoring/quality',
    {
      schema: {
        summary: 'Online precision, recall, F1, accuracy and label delay per model version, from feedback labels',
        description:
          'Computed now from the store (with PostgreSQL: the same figures on every instance). Windows: `time` = labelled predictions made in the last QUALITY_WINDOW_MINUTES; `count` = the last QUALITY_WINDOW_COUNT labelled predictions per model version.',
        response: { 200: qualitySchema, 503: errorSchema },
      },
    },
    async () => {
      const quality = monitoring?.quality;
      if (!quality || !monitoring?.store) {
        throw new HttpError(
          503,
          'store_off',
          'online quality needs a store and this instance has none (STORE_URL=off): set STORE_URL to sqlite:<file> or postgres://…',
        );
      }
      try {
        return { ...(await quality.compute()), store: monitoring.store.backend };
      } catch (err) {
        throw new HttpError(
          503,
          'store_unavailable',
          `the store did not answer (${(err as Error).message}); retry in a few seconds, GET /health shows the store's state`,
        );
      }
    },
  );

  app.get(
    '/monitoring/drift',
    {
      schema: {
        summary: 'Data drift: PSI per input feature against the model version’s reference, with a verdict',
        description:
          'Over a sliding window of this instance’s recent predictions (DRIFT_WINDOW, DRIFT_MAX_AGE_MINUTES). Verdict: stable < DRIFT_MODERATE_PSI ≤ moderate < DRIFT_PSI ≤ drifted; null until the window holds DRIFT_MIN_COUNT predictions. Empty bins count as a share of `empty_bin_share`.',
        response: { 200: driftSchema, 503: errorSchema },
      },
    },
    async () => {
      const report = monitoring?.drift();
      if (!report) {
        throw new HttpError(
          503,
          'not_ready',
          'no model is loaded yet, so there is no reference to compare with; retry shortly',
        );
      }
      return report;
    },
  );
}
