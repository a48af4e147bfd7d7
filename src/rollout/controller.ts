// The rollout at run time: which version answers a request (sticky assignment, with the guard's
// veto), the per-role tallies of calls, failures and inference time, the shadow queue and its
// agreement figures, and the Prometheus series about all of that. The data plane
// (src/serving/dataplane.ts) calls it; GET /monitoring/rollout reads its report.

import type { FastifyRequest } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RolloutConfig } from '../config.ts';
import type { LoadedModel } from '../http/state.ts';
import type { Prediction } from '../model/types.ts';
import { type CounterCell, FastCounter, FastHistogram, type HistogramCell } from '../monitoring/hot-metrics.ts';
import type { Logs } from '../monitoring/logging.ts';
import {
  answeringRole,
  bucketOf,
  bucketsFor,
  type KeyedRequest,
  type KeySource,
  parseKeySource,
  rolloutKey,
} from './assign.ts';
import { createGuard, createTally, type Guard, type GuardTrip, p95, record, type Tally } from './guard.ts';
import {
  type AgreementTally,
  compare,
  createAgreementTally,
  createShadowQueue,
  SCORE_DIFF_BOUNDS,
  type ShadowQueue,
} from './shadow.ts';

/** The models a rollout chooses between; read once per request. */
export type Slots = { champion: LoadedModel | undefined; challenger: LoadedModel | undefined };

/** A text the champion answered, waiting for the challenger (the request object is kept for its id and headers). */
export type ShadowItem = {
  request: FastifyRequest;
  predictionId: string;
  index: number;
  text: string;
  champion: Prediction;
};

/** What one version did on this instance since it was loaded. */
export type VersionTally = { version: string; role: string; calls: number; errors: number; p95_ms: number | null };

export type RolloutSnapshot = {
  mode: RolloutConfig['mode'];
  challenger_alias: string | null;
  /** Share of users the challenger answers now (0 in off/shadow mode, or once the guard tripped). */
  challenger_weight: number;
  configured_weight: number;
  guard: { tripped: GuardTrip | null; limits: RolloutConfig['guard'] };
  shadow: { queue_depth: number; queue_capacity: number; dropped: number } | null;
  agreement: { compared: number; agreed: number; mean_score_diff: number | null } | null;
  versions: { champion: VersionTally | null; challenger: VersionTally | null };
};

export type Rollout = {
  readonly mode: RolloutConfig['mode'];
  /** True when a second version takes part (a challenger is loaded and the mode is not off). */
  active(slots: Slots): boolean;
  /** The model that answers this request. */
  pick(request: KeyedRequest, slots: Slots): LoadedModel | undefined;
  /** One call into `model` (a text or a batch) took `ms`; failed when it threw. Checks the guard. */
  called(model: LoadedModel, ms: number, failed: boolean): void;
  /** Shadow mode: queue the text for the challenger. */
  shadow(item: ShadowItem): void;
  snapshot(slots: Slots): RolloutSnapshot;
  /** Runs what the shadow queue holds (shutdown, tests). */
  drainShadow(): void;
};

export type RolloutDeps = {
  logs: Logs;
  registry: Registry | undefined;
  /**
   * Scores shadow texts with the challenger, as one call: recorded like answered predictions, role
   * shadow (metrics and logs; not the store). A promise for an asynchronous (ONNX) challenger.
   */
  scoreShadow(model: LoadedModel, items: readonly ShadowItem[]): Prediction[] | Promise<Prediction[]>;
  slots(): Slots;
};

export function createRollout(config: RolloutConfig, deps: RolloutDeps): Rollout {
  const { logs } = deps;
  const mode = config.mode;
  const source: KeySource = parseKeySource(config.key) ?? { kind: 'ip' };
  const configured = mode === 'canary' ? config.canaryPercent : mode === 'ab' ? config.abSplit : 0;
  const cut = bucketsFor(configured);

  // Tallies follow the model object: a new version loaded into a slot starts from zero.
  let champ: { model: LoadedModel | undefined; tally: Tally } = { model: undefined, tally: createTally() };
  let chall: { model: LoadedModel | undefined; tally: Tally } = { model: undefined, tally: createTally() };
  const agreement: AgreementTally = createAgreementTally();

  const m = deps.registry ? registerRolloutMetrics(deps.registry) : undefined;
  const guard: Guard = createGuard(config.guard, (trip) => {
    logs.exception.error(
      {
        model_version: trip.version,
        model_role: 'challenger',
        reason: trip.reason,
        calls: trip.calls,
        errors: trip.errors,
      },
      'rollout guard: the challenger broke a limit and was taken out of traffic (weight 0); fix or replace it, then reload the challenger alias',
    );
    m?.trips.inc();
  });

  const tallyOf = (model: LoadedModel) => {
    if (model.info.role === 'champion') {
      if (champ.model !== model) champ = { model, tally: createTally() };
      return champ.tally;
    }
    if (chall.model !== model) {
      chall = { model, tally: createTally() };
      guard.reset();
    }
    return chall.tally;
  };

  const queue: ShadowQueue<ShadowItem> | undefined =
    mode === 'shadow'
      ? createShadowQueue<ShadowItem>({
          capacity: config.shadowQueueSize,
          batchSize: 64,
          onDrop: () => m?.shadowDropped.inc(),
          run(items) {
            const challenger = deps.slots().challenger;
            if (challenger === undefined || items.length === 0) return;
            // The queue reuses its batch array: keep a copy for an asynchronous challenger.
            const batch = challenger.classifier.async ? items.slice() : items;
            const t0 = performance.now();
            const compareAll = (ps: Prediction[]) => {
              rollout.called(challenger, performance.now() - t0, false);
              const pos = challenger.classifier.positiveLabel;
              for (let i = 0; i < batch.length; i++) {
                const item = batch[i];
                const a = item.champion.probabilities[pos] ?? Number.NaN;
                const b = ps[i].probabilities[pos] ?? Number.NaN;
                compare(agreement, item.champion.label, ps[i].label, a, b);
                m?.compared(item.champion.label === ps[i].label, b - a);
              }
            };
            const failed = (err: unknown) => {
              rollout.called(challenger, performance.now() - t0, true);
              if (chall.tally.errors <= 10)
                logs.exception.error({ err, model_role: 'shadow' }, 'shadow prediction failed');
            };
            try {
              const out = deps.scoreShadow(challenger, batch);
              if (out instanceof Promise) out.then(compareAll, failed);
              else compareAll(out);
            } catch (err) {
              failed(err);
            }
          },
        })
      : undefined;

  const weight = (slots: Slots) =>
    (mode === 'canary' || mode === 'ab') && slots.challenger !== undefined && guard.tripped === undefined
      ? configured / 100
      : 0;
  if (m && deps.registry) {
    new Gauge({
      name: 'msgcls_rollout_challenger_weight',
      help: 'Share of users the challenger answers now (0..1): the configured canary/A-B share, 0 in off or shadow mode and once the guard tripped.',
      registers: [deps.registry],
      collect() {
        this.set(weight(deps.slots()));
      },
    });
    new Gauge({
      name: 'msgcls_rollout_guard_tripped',
      help: 'Whether the guard took the current challenger out of traffic (1) or not (0).',
      registers: [deps.registry],
      collect() {
        this.set(guard.tripped ? 1 : 0);
      },
    });
    new Gauge({
      name: 'msgcls_rollout_info',
      help: 'The rollout (value 1): mode and the versions in each role.',
      labelNames: ['mode', 'champion_version', 'challenger_version'],
      registers: [deps.registry],
      collect() {
        const s = deps.slots();
        this.reset();
        this.labels(mode, s.champion?.info.version ?? '', s.challenger?.info.version ?? '').set(1);
      },
    });
    if (queue) {
      new Gauge({
        name: 'msgcls_rollout_shadow_queue_depth',
        help: 'Texts waiting for the challenger to score them in shadow mode.',
        registers: [deps.registry],
        collect() {
          this.set(queue.depth());
        },
      });
    }
  }

  const versionTally = (s: { model: LoadedModel | undefined; tally: Tally }, model: LoadedModel | undefined) => {
    if (model === undefined) return null;
    const t = s.model === model ? s.tally : createTally();
    return { version: model.info.version, role: model.info.role, calls: t.calls, errors: t.errors, p95_ms: p95(t) };
  };

  const rollout: Rollout = {
    mode,
    active: (slots) => mode !== 'off' && slots.challenger !== undefined,
    pick(request, slots) {
      const challenger = slots.challenger;
      if (cut === 0 || challenger === undefined || guard.tripped !== undefined) return slots.champion;
      const role = answeringRole(mode, bucketOf(config.salt, rolloutKey(request, source)), cut);
      return role === 'challenger' ? challenger : slots.champion;
    },
    called(model, ms, failed) {
      const t = tallyOf(model);
      record(t, ms, failed);
      if (failed) m?.errors(model.info.role);
      if (model.info.role === 'challenger' && (failed || (t.calls & 15) === 0)) guard.check(model.info.version, t);
    },
    shadow(item) {
      queue?.push(item);
    },
    snapshot(slots) {
      return {
        mode,
        challenger_alias: config.challengerAlias ?? null,
        challenger_weight: weight(slots),
        configured_weight: configured / 100,
        guard: { tripped: guard.tripped ?? null, limits: config.guard },
        shadow: queue ? { queue_depth: queue.depth(), queue_capacity: queue.capacity, dropped: queue.dropped() } : null,
        agreement:
          mode === 'shadow'
            ? {
                compared: agreement.compared,
                agreed: agreement.agreed,
                mean_score_diff: agreement.compared > 0 ? agreement.diffSum / agreement.compared : null,
              }
            : null,
        versions: { champion: versionTally(champ, slots.champion), challenger: versionTally(chall, slots.challenger) },
      };
    },
    drainShadow() {
      queue?.drain();
    },
  };
  return rollout;
}

function registerRolloutMetrics(registry: Registry) {
  const trips = new Counter({
    name: 'msgcls_rollout_guard_trips_total',
    help: 'Times the guard took a challenger out of traffic (error ratio or p95 latency above its limit).',
    registers: [registry],
  });
  trips.inc(0);
  const shadowDropped = new Counter({
    name: 'msgcls_rollout_shadow_dropped_total',
    help: 'Texts the challenger did not score in shadow mode because the shadow queue was full (SHADOW_QUEUE_SIZE).',
    registers: [registry],
  });
  shadowDropped.inc(0);
  const comparisons = new FastCounter({
    name: 'msgcls_rollout_comparisons_total',
    help: 'Texts scored by both versions (shadow mode), by whether they gave the same label (agree) or not (disagree).',
    labelNames: ['result'],
    registry,
  });
  const agree: CounterCell = comparisons.cell('agree');
  const disagree: CounterCell = comparisons.cell('disagree');
  const diff: HistogramCell = new FastHistogram({
    name: 'msgcls_rollout_score_difference',
    help: 'Challenger score minus champion score (probability of the positive label) on the same text, shadow mode.',
    buckets: SCORE_DIFF_BOUNDS,
    registry,
  }).cell();
  const errorCounter = new FastCounter({
    name: 'msgcls_rollout_errors_total',
    help: 'Calls into a model that failed, by role (champion, challenger, shadow).',
    labelNames: ['role'],
    registry,
  });
  const errorCells = new Map<string, CounterCell>();
  for (const role of ['champion', 'challenger', 'shadow']) {
    const c = errorCounter.cell(role);
    c.inc(0);
    errorCells.set(role, c);
  }
  return {
    trips,
    shadowDropped,
    compared(same: boolean, d: number) {
      (same ? agree : disagree).inc();
      if (Number.isFinite(d)) diff.observe(d);
    },
    errors(role: string) {
      errorCells.get(role)?.inc();
    },
  };
}
