// Liveness, readiness and health. They answer different questions, for different callers:
//   /alive  — can the process answer at all? (liveness: a supervisor restarts us when it fails)
//   /ready  — should traffic come here? (readiness: model loaded and warmed up, not shutting down)
//   /health — the same as /ready, with the details a human wants to see, the store's state included.
//
// The store is not part of readiness: when it is slow or down the model still serves, predictions
// queue up (and are dropped and counted when the queue is full), so /ready stays 200 and /health
// answers 200 with status "degraded" and the store's last error.

import type { FastifyInstance } from 'fastify';
import type { SlotStatus } from '../../model/slot.ts';
import type { StoreSummary } from '../../quality/monitoring.ts';
import { SERVICE_VERSION } from '../../version.ts';
import type { ServiceState } from '../state.ts';
import { reloadOutcomeSchema } from './admin.ts';

const statusSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, reason: { type: 'string' } },
  required: ['status'],
} as const;

const healthSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'starting', 'stopping'] },
    reason: { type: 'string' },
    store: {
      type: 'object',
      description: 'The prediction and feedback store: ok, degraded (its last operation failed) or off.',
      properties: {
        status: { type: 'string', enum: ['ok', 'degraded', 'off'] },
        backend: { type: 'string' },
        location: { type: 'string' },
        queue_depth: { type: 'integer' },
        queue_capacity: { type: 'integer' },
        last_error: {
          type: 'object',
          properties: { what: { type: 'string' }, message: { type: 'string' }, at: { type: 'string' } },
        },
        last_ok_at: { type: 'string' },
      },
      required: ['status'],
    },
    model: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        version: { type: 'string' },
        alias: { type: ['string', 'null'] },
        loaded_at: { type: 'string' },
        origin: {
          type: 'string',
          enum: ['registry', 'cache'],
          description: 'cache: the registry was unreachable at start and the version comes from MODEL_CACHE_DIR',
        },
        origin_reason: { type: 'string' },
        reload: {
          type: 'object',
          description:
            'Hot swap: what the service follows, how often it checks, and the last check’s outcome (a failed reload keeps the previous version serving; `last_failure` stays after later successes).',
          properties: {
            role: { type: 'string' },
            follows: {
              type: 'object',
              properties: { alias: { type: 'string' }, version: { type: 'string' } },
            },
            poll_seconds: { type: 'integer' },
            last_check_at: { type: ['string', 'null'] },
            last_reload: { ...reloadOutcomeSchema, type: ['object', 'null'] },
            last_failure: {
              type: ['object', 'null'],
              properties: { at: { type: 'string' }, target: { type: ['string', 'null'] }, error: { type: 'string' } },
            },
            reloads: { type: 'integer' },
            reload_failures: { type: 'integer' },
          },
        },
      },
    },
    uptime_s: { type: 'number' },
    version: { type: 'string' },
  },
  required: ['status', 'uptime_s', 'version'],
} as const;

export function healthRoutes(
  app: FastifyInstance,
  state: ServiceState,
  storeSummary: () => StoreSummary = () => ({ status: 'off' }),
  slotStatus: () => SlotStatus[] = () => [],
): void {
  app.get(
    '/alive',
    { schema: { summary: 'Liveness: 200 whenever the process can answer', response: { 200: statusSchema } } },
    () => ({ status: 'ok' }),
  );

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: 200 once the model is loaded and warmed up; 503 before that and while shutting down',
        response: { 200: statusSchema, 503: statusSchema },
      },
    },
    (_request, reply) => {
      if (state.phase === 'ready') return { status: 'ok' };
      return reply.code(503).send({ status: state.phase, reason: state.reason });
    },
  );

  app.get(
    '/health',
    {
      schema: {
        summary:
          'Health details: model, store, uptime, version; 503 with the reason when not ready; 200 with status "degraded" when the store fails',
        response: { 200: healthSchema, 503: healthSchema },
      },
    },
    (_request, reply) => {
      const m = state.model;
      const store = storeSummary();
      const fromCache = state.phase === 'ready' && m?.ref.origin === 'cache';
      const degraded = state.phase === 'ready' && (store.status === 'degraded' || fromCache);
      const body = {
        status: degraded ? 'degraded' : state.phase === 'ready' ? 'ok' : state.phase,
        reason:
          state.phase !== 'ready'
            ? state.reason
            : fromCache
              ? `serving version ${m?.ref.version} from the model cache: the registry is unreachable${store.status === 'degraded' ? '; the store is failing too' : ''}`
              : degraded
                ? `the store is failing (${store.last_error?.what ?? 'unknown'}): predictions are served but may not be recorded, feedback answers 503`
                : undefined,
        store,
        model: m && {
          name: m.ref.name,
          version: m.ref.version,
          alias: m.ref.alias ?? null,
          loaded_at: m.loadedAt.toISOString(),
          origin: m.ref.origin ?? 'registry',
          origin_reason: m.ref.originReason,
          reload: slotStatus().find((s) => s.role === 'champion'),
        },
        uptime_s: Math.round((Date.now() - state.startedAt) / 100) / 10,
        version: SERVICE_VERSION,
      };
      return reply.code(state.phase === 'ready' ? 200 : 503).send(body);
    },
  );
}
