// POST /feedback — delayed labels for earlier predictions: {"prediction_id", "label"} (with "index"
// for the n-th text of a batch request, 0 by default), or {"items": [...]} for many at once. The id is
// the prediction_id that POST /predict returned; "request_id" is accepted in its place (earlier
// clients send that back, and it equals prediction_id whenever the client sent no X-Request-Id).
//
//   200  every label is committed (durably: fsynced by SQLite, committed by PostgreSQL) before the answer
//   400  malformed body, wrong types, or a label the model does not know      — nothing is written
//   401  FEEDBACK_TOKEN is set and the Bearer token is missing or wrong          — nothing is written
//   404  a request id (and index) with no stored prediction                     — nothing is written
//   413  more items than FEEDBACK_MAX_BATCH                                     — nothing is written
//   503  the store is off or unreachable                                        — nothing is written
//
// A batch is all or nothing. Repeating a label is idempotent; a different label for the same
// prediction replaces the earlier one (the latest label wins: it is the user's correction); within one
// batch, the last item for a prediction wins. The label delay is measured to the first label.
// A prediction still in this instance's write queue is flushed to the store before the lookup, so
// feedback right after /predict works; another instance's queue is not visible — see the detail of 404.

import type { FastifyInstance } from 'fastify';
import type { Logs } from '../../monitoring/logging.ts';
import { type ModelMonitoring, StoreUnavailableError } from '../../quality/monitoring.ts';
import type { FeedbackItem } from '../../store/types.ts';
import { requireBearer } from '../auth.ts';
import { errorSchema, HttpError } from '../errors.ts';
import type { ServiceState } from '../state.ts';

export type FeedbackOptions = { maxBatch: number; token: string | undefined; flushMs: number };

type ItemBody = { prediction_id?: string; request_id?: string; index?: number; label: string };
type FeedbackBody = { prediction_id?: string; request_id?: string; index?: number; label?: string; items?: ItemBody[] };

export const REQUEST_ID_PATTERN = '^[A-Za-z0-9._:@/+=-]{1,128}$';

const itemProperties = {
  prediction_id: {
    type: 'string',
    pattern: REQUEST_ID_PATTERN,
    description: 'The prediction_id that POST /predict returned.',
  },
  request_id: {
    type: 'string',
    pattern: REQUEST_ID_PATTERN,
    description:
      'Accepted in place of prediction_id, for earlier clients: the request_id of a /predict call made without an X-Request-Id header (then equal to its prediction_id).',
  },
  index: {
    type: 'integer',
    minimum: 0,
    maximum: 1_000_000,
    description: 'Position of the text in a {"texts": [...]} request; 0 (the default) for {"text": ...}.',
  },
  label: { type: 'string', minLength: 1, maxLength: 128, description: 'The true label, one of the model’s labels.' },
} as const;

const resultSchema = {
  type: 'object',
  properties: {
    prediction_id: { type: 'string' },
    index: { type: 'integer' },
    label: { type: 'string' },
    status: {
      type: 'string',
      enum: ['recorded', 'updated', 'unchanged'],
      description: 'recorded: first label; updated: replaced a different label; unchanged: the same label again.',
    },
    model_version: { type: 'string', description: 'The version that made the prediction.' },
    model_role: {
      type: 'string',
      description: 'Its role in a rollout when it answered: champion or challenger.',
    },
  },
  required: ['prediction_id', 'index', 'label', 'status'],
} as const;

/** The prediction an item names: prediction_id, or request_id in its place (not two different ids). */
function idOf(it: { prediction_id?: string; request_id?: string }, where: string): string {
  const id = it.prediction_id ?? it.request_id;
  if (id === undefined) {
    throw new HttpError(
      400,
      'missing_field',
      `${where} has no prediction_id: send the prediction_id that POST /predict returned`,
    );
  }
  if (it.prediction_id !== undefined && it.request_id !== undefined && it.request_id !== it.prediction_id) {
    throw new HttpError(
      400,
      'ambiguous_request',
      `${where} has both prediction_id and a different request_id: send only the prediction_id that POST /predict returned`,
    );
  }
  return id;
}

export function feedbackRoutes(
  app: FastifyInstance,
  state: ServiceState,
  monitoring: ModelMonitoring | undefined,
  logs: Logs,
  opts: FeedbackOptions,
): void {
  const authorize = requireBearer(opts.token, { variable: 'FEEDBACK_TOKEN', realm: 'msg-cls feedback' });

  app.post<{ Body: FeedbackBody }>(
    '/feedback',
    {
      onRequest: authorize,
      schema: {
        summary: 'Record the true label of earlier predictions (delayed labels)',
        labelsFromModel: true,
        operationId: 'postFeedback',
        description: `Send {"prediction_id": "...", "label": "spam"} (add "index" for the n-th text of a batch request) or {"items": [{...}, ...]} (up to ${opts.maxBatch}). Answers 200 once every label is durably stored; all or nothing. A repeated label is a no-op; a different label for the same prediction replaces the earlier one (the latest wins).${opts.token ? ' Needs Authorization: Bearer <FEEDBACK_TOKEN>.' : ''}`,
        body: {
          type: 'object',
          additionalProperties: false,
          // Exactly one of the two shapes: one label, or `items` (and then none of the single-label fields).
          oneOf: [
            {
              title: 'One label',
              required: ['label'],
              // One id, prediction_id or (earlier clients) request_id — not both.
              oneOf: [{ required: ['prediction_id'] }, { required: ['request_id'] }],
              not: { required: ['items'] },
            },
            {
              title: 'Many labels',
              required: ['items'],
              not: {
                anyOf: [
                  { required: ['prediction_id'] },
                  { required: ['request_id'] },
                  { required: ['label'] },
                  { required: ['index'] },
                ],
              },
            },
          ],
          properties: {
            ...itemProperties,
            items: {
              type: 'array',
              minItems: 1,
              maxItems: opts.maxBatch,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['label'],
                // One id, prediction_id or (earlier clients) request_id — not both.
                oneOf: [{ required: ['prediction_id'] }, { required: ['request_id'] }],
                properties: itemProperties,
              },
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              recorded: { type: 'integer' },
              updated: { type: 'integer' },
              unchanged: { type: 'integer' },
              results: { type: 'array', items: resultSchema },
              request_id: { type: 'string' },
            },
            required: ['recorded', 'updated', 'unchanged', 'results', 'request_id'],
          },
          '4xx': errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request) => {
      const model = state.model;
      if (model === undefined || state.phase === 'starting') {
        throw new HttpError(503, 'not_ready', `the model is not loaded yet (${state.reason}); retry shortly`);
      }
      const body = request.body;
      let items: FeedbackItem[];
      let where: (i: number) => string;
      if (body.items !== undefined) {
        if (
          body.prediction_id !== undefined ||
          body.request_id !== undefined ||
          body.label !== undefined ||
          body.index !== undefined
        ) {
          throw new HttpError(
            400,
            'ambiguous_request',
            'send either one label (prediction_id, label) or "items", not both',
          );
        }
        items = body.items.map((it, i) => ({
          predictionId: idOf(it, `body.items.${i}`),
          index: it.index ?? 0,
          label: it.label,
        }));
        where = (i) => `body.items.${i}`;
      } else {
        if ((body.prediction_id === undefined && body.request_id === undefined) || body.label === undefined) {
          throw new HttpError(
            400,
            'missing_field',
            'send {"prediction_id": "<from /predict>", "label": "<true label>"} or {"items": [{"prediction_id": ..., "label": ...}, ...]}',
          );
        }
        items = [{ predictionId: idOf(body, 'body'), index: body.index ?? 0, label: body.label }];
        where = () => 'body';
      }
      const labels = model.classifier.labels;
      items.forEach((it, i) => {
        if (!labels.includes(it.label)) {
          throw new HttpError(
            400,
            'unknown_label',
            `${where(i)}.label ${JSON.stringify(it.label.slice(0, 40))} is not a label of the model: use one of ${labels.join(', ')}`,
          );
        }
      });
      if (monitoring?.store === undefined) {
        throw new HttpError(
          503,
          'store_off',
          'feedback needs a store and this instance has none (STORE_URL=off): set STORE_URL to sqlite:<file> or postgres://…',
        );
      }
      let outcome: Awaited<ReturnType<ModelMonitoring['submitFeedback']>>;
      try {
        outcome = await monitoring.submitFeedback(items);
      } catch (err) {
        if (err instanceof StoreUnavailableError) {
          throw new HttpError(
            503,
            'store_unavailable',
            `nothing was recorded: ${err.message}. Retry in a few seconds; GET /health shows the store's state`,
          );
        }
        throw err;
      }
      if (!outcome.ok) {
        const shown = outcome.unknown
          .slice(0, 5)
          .map((u) => `${JSON.stringify(u.predictionId)} (index ${u.index})`)
          .join(', ');
        const more = outcome.unknown.length > 5 ? ` and ${outcome.unknown.length - 5} more` : '';
        throw new HttpError(
          404,
          'unknown_request_id',
          `no stored prediction for ${shown}${more}; nothing was recorded. Send the prediction_id (and index) that POST /predict returned. A prediction made on another instance moments ago may not be stored yet: retry after ${Math.max(1, Math.ceil((opts.flushMs * 2) / 1000))} s. Predictions older than the retention period are deleted`,
        );
      }
      const count = { recorded: 0, updated: 0, unchanged: 0 };
      // Labels per version and role (`2/challenger`), so that the feedback lines show what each rollout arm got.
      const byVersion: Record<string, number> = {};
      for (const r of outcome.results) {
        count[r.status]++;
        const key = `${r.modelVersion}/${r.modelRole}`;
        byVersion[key] = (byVersion[key] ?? 0) + 1;
      }
      logs.business.info(
        { request_id: request.id, feedback_items: outcome.results.length, ...count, labels_by_version: byVersion },
        'feedback',
      );
      return {
        ...count,
        results: outcome.results.map((r) => ({
          prediction_id: r.predictionId,
          index: r.index,
          label: r.label,
          status: r.status,
          model_version: r.modelVersion,
          model_role: r.modelRole,
        })),
        request_id: request.id,
      };
    },
  );
}
