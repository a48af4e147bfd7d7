// The challenger: a second model slot (src/model/slot.ts) following CHALLENGER_ALIAS, loaded, warmed
// up, validated and hot-swapped like the champion. One thing differs: the alias may be removed (that
// is how `msg-cls rollout rollback` ends a rollout, and how a promotion leaves none). A check that
// finds the alias gone takes the challenger out of traffic at once; a registry that cannot be reached
// keeps the current challenger, as for the champion.

import type { RolloutConfig } from '../config.ts';
import type { LoadedModel, ServiceState } from '../http/state.ts';
import { createModelSlot, type ModelSlot, type ReloadTrigger, type SlotStatus } from '../model/slot.ts';
import type { Logs } from '../monitoring/logging.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import type { ModelMonitoring } from '../quality/monitoring.ts';
import type { Registry } from '../registry/types.ts';

export type Challenger = {
  readonly slot: ModelSlot;
  /** Looks the alias up; loads/swaps a new version, or drops the challenger when the alias is gone. */
  check(trigger: ReloadTrigger): Promise<void>;
  status(): SlotStatus;
  /** Polls every `pollSeconds` (as the champion does) until stop(). */
  start(): void;
  stop(): Promise<void>;
};

/** Whether a registry error says the alias (or model) does not exist, rather than "unreachable". */
function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; status?: unknown; statusCode?: unknown };
  return e?.code === 'not_found' || e?.code === 'RESOURCE_DOES_NOT_EXIST' || e?.status === 404 || e?.statusCode === 404;
}

export function createChallenger(opts: {
  config: RolloutConfig & { challengerAlias: string };
  registry: Registry;
  name: string;
  pollSeconds: number;
  state: ServiceState;
  monitoring: ModelMonitoring;
  logs: Logs;
  metrics: Metrics | undefined;
}): Challenger {
  const { state, logs, metrics, registry, name } = opts;
  const alias = opts.config.challengerAlias;
  const role = opts.config.mode === 'shadow' ? 'shadow' : 'challenger';
  const slot = createModelSlot({ registry, name, selector: { alias }, role, pollSeconds: 0 });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const serve = (model: LoadedModel | undefined) => {
    if (state.challenger === model) return;
    state.challenger = model;
    if (model) opts.monitoring.useModel(model);
  };

  slot.on({
    swapped(to, from, outcome) {
      serve(to);
      metrics?.modelLoaded(to.info, { alias, loadedAt: to.loadedAt, labels: to.classifier.labels, role });
      if (from) metrics?.modelReloaded(role);
      logs.service.info(
        {
          role,
          trigger: outcome.trigger,
          from: from ? { version: from.ref.version } : null,
          model: { name: to.ref.name, version: to.ref.version, alias },
          load_ms: outcome.load_ms,
          rollout_mode: opts.config.mode,
        },
        from
          ? `challenger swapped: version ${from.ref.version} → ${to.ref.version}`
          : `challenger version ${to.ref.version} loaded`,
      );
    },
    failed(outcome, err) {
      metrics?.modelReloadFailed(role);
      logs.exception.error(
        { err, role, trigger: outcome.trigger, target_version: outcome.target },
        'challenger reload failed; the current challenger (if any) keeps its traffic',
      );
    },
  });

  const check = async (trigger: ReloadTrigger) => {
    try {
      await registry.lookup(name, { alias });
    } catch (err) {
      if (isNotFound(err)) {
        if (state.challenger !== undefined) {
          logs.service.warn(
            { role, alias, model: { name, version: state.challenger.info.version } },
            `challenger alias "${alias}" is gone: the challenger is out of traffic, the champion answers everyone`,
          );
          state.challenger = undefined;
        }
        return;
      }
      // Unreachable: the slot's own check reports it; keep serving what we have.
    }
    const outcome = await slot.reload(trigger);
    // The alias came back at the version the slot still holds: serve it again.
    if (outcome.outcome === 'unchanged') serve(slot.current());
  };

  const schedule = () => {
    if (stopped || opts.pollSeconds <= 0) return;
    timer = setTimeout(async () => {
      timer = undefined;
      await check('poll');
      schedule();
    }, opts.pollSeconds * 1000);
    timer.unref();
  };

  return {
    slot,
    check,
    status: () => slot.status(),
    start() {
      if (timer === undefined) schedule();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await slot.stop();
    },
  };
}
