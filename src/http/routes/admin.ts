// POST /admin/reload — check the registry for a new version of the served model now, rather than at
// the next poll (MODEL_POLL_SECONDS), and swap it in. Behind ADMIN_TOKEN.

import type { FastifyInstance } from 'fastify';
import type { ReloadOutcome, SlotStatus } from '../../model/slot.ts';
import { requireBearer } from '../auth.ts';
import { errorSchema, HttpError } from '../errors.ts';
import type { ServiceState } from '../state.ts';

/** What the HTTP layer may do with the served model(s); src/server.ts provides it from the slot. */
export type ModelControl = {
  /** Checks the registry now (waits for a check already running, then checks once more). */
  reload(): Promise<ReloadOutcome>;
  /** Every slot's following and reload state, for /health. */
  status(): SlotStatus[];
};

const versionSchema = {
  type: ['object', 'null'],
  properties: { name: { type: 'string' }, version: { type: 'string' }, alias: { type: ['string', 'null'] } },
} as const;

export const reloadOutcomeSchema = {
  type: 'object',
  description:
    '`unchanged`: the registry points at the version served (`model`). `swapped`: `to` was loaded, warmed up, validated and now serves in place of `from` (`load_ms`). `failed`: the check or the load failed (`error`; `target` is the version the registry pointed at, when known) and `model` keeps serving.',
  properties: {
    outcome: { type: 'string', enum: ['unchanged', 'swapped', 'failed'] },
    trigger: { type: 'string', description: '`admin` (this endpoint), `poll` or `start`.' },
    at: { type: 'string', description: 'When the check ended (ISO 8601).' },
    model: versionSchema,
    from: versionSchema,
    to: versionSchema,
    load_ms: { type: 'integer' },
    target: { type: ['string', 'null'] },
    error: { type: 'string' },
  },
  required: ['outcome', 'trigger', 'at'],
} as const;

export function adminRoutes(
  app: FastifyInstance,
  state: ServiceState,
  control: ModelControl | undefined,
  token: string | undefined,
): void {
  if (!control) return;
  const authorize = requireBearer(token, { variable: 'ADMIN_TOKEN', realm: 'msg-cls admin' });
  app.post(
    '/admin/reload',
    {
      onRequest: authorize,
      schema: {
        summary: 'Check the registry for a new model version now and hot-swap it in',
        description: `Looks up the alias the service follows (MODEL_ALIAS) and, when it points at another version, fetches, loads, warms up and validates that version, then swaps it in without failing a request; a failure keeps the current version serving. A pinned MODEL_VERSION is only checked to still exist. Answers 200 with what happened, also when the reload failed (\`outcome\`). Send no body.${token ? ' Needs Authorization: Bearer <ADMIN_TOKEN>.' : ''}`,
        response: { 200: reloadOutcomeSchema, '4xx': errorSchema, 503: errorSchema },
      },
    },
    async () => {
      if (state.phase !== 'ready') {
        throw new HttpError(
          503,
          'not_ready',
          `the service is ${state.phase} (${state.reason}): a reload is possible once /ready answers 200`,
        );
      }
      return control.reload();
    },
  );
}
