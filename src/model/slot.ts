// A model slot: one served model that follows a registry selector (an alias such as `champion`, or a
// pinned version) and swaps to a new version while the service runs.
//
// A check (`reload`) asks the registry which version the selector points at (`lookup`, cheap); when
// that differs from the version served, the new version is fetched, loaded, warmed up and validated
// in the background, then swapped in with one assignment. Requests hold the model they started with
// (`acquireModel`/`releaseModel` in src/http/state.ts), so in-flight requests finish on their
// version; the old version is released (`classifier.dispose?.()`) once the last of them is done.
// A failed check or load keeps the old version serving and is reported (status(), the `failed`
// event). Checks never overlap: a check asked for while one runs waits for it and then runs once
// more (however many were asked for), and polling schedules the next check only when the last ended.
//
// The service has one slot (role `champion`, following MODEL_ALIAS); a rollout can add another
// (a challenger) with the same code.

import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { LoadedModel } from '../http/state.ts';
import type { ModelRef, ModelSelector, Registry } from '../registry/types.ts';
import { loadClassifier } from './load.ts';
import type { Classifier, Prediction } from './types.ts';

// Warm-up inputs: exercise the featurizer's paths (ASCII, Unicode, digits, URLs) before a model serves.
export const WARM_UP_TEXTS = [
  'Buy cheap iPhone now!!! Visit http://example.com/offer?id=123',
  'Hi Anna, are we still on for lunch tomorrow at 12:30?',
  'Réunion déplacée à jeudi — merci de confirmer. 会议改到星期四。',
];

export class ModelValidationError extends Error {
  override name = 'ModelValidationError';
}

/**
 * Predictions for `texts` from a classifier that answers synchronously (`predict`) or in batches
 * (`predictBatch`, asynchronous: ONNX formats). Off the hot path: warm-up and validation.
 */
async function predictTexts(classifier: Classifier, texts: readonly string[]): Promise<Prediction[]> {
  const batch = (classifier as { predictBatch?: (t: readonly string[]) => Promise<Prediction[]> }).predictBatch;
  if (typeof batch === 'function') return batch.call(classifier, texts);
  const sync = classifier as { predict(text: string): Prediction };
  return texts.map((t) => sync.predict(t));
}

/** Runs the warm-up texts through a classifier: one-text and batch calls (ONNX sizes its buffers for both). */
async function warmUp(classifier: Classifier): Promise<void> {
  const batched = typeof (classifier as { predictBatch?: unknown }).predictBatch === 'function';
  const rounds = batched ? 20 : 200;
  for (let i = 0; i < rounds; i++) {
    await predictTexts(classifier, batched ? WARM_UP_TEXTS.slice(0, 1 + (i % 3)) : [WARM_UP_TEXTS[i % 3]]);
  }
}

/** Checks that a classifier answers the warm-up texts with finite probabilities over its labels. */
export async function validateClassifier(model: LoadedModel): Promise<void> {
  const { classifier } = model;
  const labels = classifier.labels;
  if (labels.length < 2) throw new ModelValidationError(`the model has ${labels.length} label(s); it needs at least 2`);
  if (!labels.includes(classifier.positiveLabel)) {
    throw new ModelValidationError(
      `the positive label "${classifier.positiveLabel}" is not one of ${labels.join(', ')}`,
    );
  }
  const predictions = await predictTexts(classifier, WARM_UP_TEXTS);
  if (predictions.length !== WARM_UP_TEXTS.length) {
    throw new ModelValidationError(`${predictions.length} predictions for ${WARM_UP_TEXTS.length} warm-up texts`);
  }
  for (const p of predictions) {
    let sum = 0;
    for (const label of labels) {
      const v = p.probabilities[label];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
        throw new ModelValidationError(
          `the warm-up prediction gave probability ${String(v)} for label "${label}": not a number from 0 to 1`,
        );
      }
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) throw new ModelValidationError(`the warm-up probabilities sum to ${sum}, not 1`);
    if (!labels.includes(p.label))
      throw new ModelValidationError(`the warm-up prediction's label "${p.label}" is unknown`);
  }
}

/** Loads a version's files, warms the model up and validates it (traced as `model.load`). */
export async function loadModel(ref: ModelRef): Promise<LoadedModel> {
  return trace.getTracer('msg-cls').startActiveSpan('model.load', async (span) => {
    span.setAttributes({ 'model.name': ref.name, 'model.version': ref.version, 'model.alias': ref.alias ?? '' });
    let loaded: LoadedModel | undefined;
    try {
      const { classifier, manifest } = await loadClassifier(ref.dir);
      loaded = {
        classifier,
        manifest,
        ref,
        loadedAt: new Date(),
        info: { name: ref.name, version: ref.version },
        inFlight: 0,
        onIdle: undefined,
      };
      await warmUp(classifier);
      await validateClassifier(loaded);
      return loaded;
    } catch (err) {
      // A model that loaded but failed validation still holds its resources (an ONNX session).
      if (loaded) await disposeQuietly(loaded);
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

async function disposeQuietly(model: LoadedModel): Promise<unknown> {
  try {
    await model.classifier.dispose?.();
    return undefined;
  } catch (err) {
    return err;
  }
}

export type ReloadTrigger = 'start' | 'poll' | 'admin' | (string & {});

export type VersionSummary = { name: string; version: string; alias: string | null };

/** What a check did. `unchanged` and `swapped` carry the version served afterwards. */
export type ReloadOutcome =
  | { outcome: 'unchanged'; trigger: ReloadTrigger; at: string; model: VersionSummary }
  | {
      outcome: 'swapped';
      trigger: ReloadTrigger;
      at: string;
      from: VersionSummary | null;
      to: VersionSummary;
      load_ms: number;
    }
  | {
      outcome: 'failed';
      trigger: ReloadTrigger;
      at: string;
      /** The version the selector points at, when the lookup got that far. */
      target: string | null;
      error: string;
      /** Still serving (null before the first load). */
      model: VersionSummary | null;
    };

export type SlotStatus = {
  role: string;
  /** What the slot follows: an alias, or a pinned version (which it never leaves). */
  follows: { alias: string } | { version: string };
  poll_seconds: number;
  last_check_at: string | null;
  last_reload: ReloadOutcome | null;
  /** The last failed check (kept after later successes, so a flapping registry shows). */
  last_failure: { at: string; target: string | null; error: string } | null;
  reloads: number;
  reload_failures: number;
};

export type SlotEvents = {
  /** Called synchronously at the moment of the swap (before any request can see the new model). */
  swapped?(to: LoadedModel, from: LoadedModel | undefined, outcome: ReloadOutcome & { outcome: 'swapped' }): void;
  failed?(outcome: ReloadOutcome & { outcome: 'failed' }, err: unknown): void;
  /** An old version was released (disposed) after its last in-flight request. */
  released?(model: LoadedModel, err: unknown): void;
};

export type ModelSlotOptions = {
  registry: Registry;
  name: string;
  selector: ModelSelector;
  /** `champion` for the served model, `challenger` for a rollout's second model. */
  role: string;
  /** Seconds between checks of the registry; 0 = only on demand. Ignored when the selector pins a version. */
  pollSeconds: number;
  /** Loads, warms up and validates a version (default: loadModel). */
  load?: (ref: ModelRef) => Promise<LoadedModel>;
  events?: SlotEvents;
};

export type ModelSlot = {
  readonly role: string;
  /** The model serving now (undefined before the first install). Read it once per request. */
  current(): LoadedModel | undefined;
  /** Loads a version (used for the first load, which the caller retries). */
  load(ref: ModelRef): Promise<LoadedModel>;
  /** Serves `model` from now on (the first load, or a rollback); the previous one is released. */
  install(model: LoadedModel, trigger: ReloadTrigger): ReloadOutcome & { outcome: 'swapped' };
  /** Checks the registry now and swaps when the selector points elsewhere. Never throws. */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome>;
  /** Starts polling every pollSeconds (no-op when 0 or pinned). */
  startPolling(): void;
  /** Stops polling, waits for a running check (it installs nothing after stop), releases the model. */
  stop(opts?: { release?: boolean }): Promise<void>;
  status(): SlotStatus;
  /** Adds listeners (the rollout's metrics, state updates, ...). */
  on(events: SlotEvents): void;
};

const summary = (m: LoadedModel): VersionSummary => ({
  name: m.ref.name,
  version: m.ref.version,
  alias: m.ref.alias ?? null,
});

export function createModelSlot(opts: ModelSlotOptions): ModelSlot {
  const { registry, name, selector, role } = opts;
  const load = opts.load ?? loadModel;
  const pinned = selector.version !== undefined;
  const listeners: SlotEvents[] = opts.events ? [opts.events] : [];
  let model: LoadedModel | undefined;
  let running: Promise<ReloadOutcome> | undefined;
  let queued: Promise<ReloadOutcome> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const status: SlotStatus = {
    role,
    follows: pinned ? { version: selector.version as string } : { alias: selector.alias ?? '' },
    poll_seconds: pinned ? 0 : opts.pollSeconds,
    last_check_at: null,
    last_reload: null,
    last_failure: null,
    reloads: 0,
    reload_failures: 0,
  };

  const emit = <K extends keyof SlotEvents>(key: K, ...args: Parameters<NonNullable<SlotEvents[K]>>) => {
    for (const l of listeners) {
      try {
        (l[key] as ((...a: unknown[]) => void) | undefined)?.(...args);
      } catch {
        // A listener's bug must not stop the swap or the other listeners.
      }
    }
  };

  /** Releases an old version once no request holds it any more. */
  const retire = (old: LoadedModel) => {
    const release = () => {
      old.onIdle = undefined;
      disposeQuietly(old).then((err) => emit('released', old, err));
    };
    if (old.inFlight === 0) release();
    else old.onIdle = release;
  };

  const install = (next: LoadedModel, trigger: ReloadTrigger, loadMs = 0) => {
    const from = model;
    model = next;
    const outcome = {
      outcome: 'swapped' as const,
      trigger,
      at: new Date().toISOString(),
      from: from ? summary(from) : null,
      to: summary(next),
      load_ms: loadMs,
    };
    if (from) status.reloads++;
    status.last_reload = outcome;
    emit('swapped', next, from, outcome);
    if (from && from !== next) retire(from);
    return outcome;
  };

  const fail = (trigger: ReloadTrigger, target: string | null, err: unknown): ReloadOutcome => {
    const at = new Date().toISOString();
    const error = (err as Error)?.message ?? String(err);
    const outcome = {
      outcome: 'failed' as const,
      trigger,
      at,
      target,
      error,
      model: model ? summary(model) : null,
    };
    status.reload_failures++;
    status.last_reload = outcome;
    status.last_failure = { at, target, error };
    emit('failed', outcome, err);
    return outcome;
  };

  // Not a failure of the registry or the model: neither counted nor reported as one.
  const notWhileStopping = (trigger: ReloadTrigger): ReloadOutcome => ({
    outcome: 'failed',
    trigger,
    at: new Date().toISOString(),
    target: null,
    error: 'the service is stopping: no new version is installed',
    model: model ? summary(model) : null,
  });

  // Traced as `model.reload` (the load of a new version is its `model.load` child).
  const check = (trigger: ReloadTrigger): Promise<ReloadOutcome> =>
    trace.getTracer('msg-cls').startActiveSpan('model.reload', async (span) => {
      const outcome = await checkOnce(trigger);
      span.setAttributes({
        'model.name': name,
        'model.role': role,
        'reload.trigger': trigger,
        'reload.outcome': outcome.outcome,
      });
      if (outcome.outcome === 'swapped') {
        span.setAttributes({ 'model.version': outcome.to.version, 'reload.from_version': outcome.from?.version ?? '' });
      } else if (outcome.outcome === 'unchanged') {
        span.setAttribute('model.version', outcome.model.version);
      } else {
        span.setAttributes({
          'reload.target_version': outcome.target ?? '',
          'model.version': outcome.model?.version ?? '',
        });
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
      }
      span.end();
      return outcome;
    });

  const checkOnce = async (trigger: ReloadTrigger): Promise<ReloadOutcome> => {
    let target: string | null = null;
    if (stopped) return notWhileStopping(trigger);
    try {
      status.last_check_at = new Date().toISOString();
      const found = await registry.lookup(name, selector);
      target = found.version;
      if (model && found.version === model.ref.version) {
        const outcome = { outcome: 'unchanged' as const, trigger, at: new Date().toISOString(), model: summary(model) };
        // An unchanged check after a failure is what the registry says now: show it.
        status.last_reload = outcome;
        return outcome;
      }
      const t0 = performance.now();
      const ref = await registry.fetch(name, found.version, found.alias);
      const next = await load(ref);
      if (stopped) {
        await disposeQuietly(next);
        return notWhileStopping(trigger);
      }
      if (model) {
        const before = [...model.classifier.labels].sort().join('\u0000');
        const after = [...next.classifier.labels].sort().join('\u0000');
        if (before !== after) {
          await disposeQuietly(next);
          throw new ModelValidationError(
            `version ${found.version} has labels [${next.classifier.labels.join(', ')}], the served version ${model.ref.version} has [${model.classifier.labels.join(', ')}]: restart the service to change labels`,
          );
        }
      }
      return install(next, trigger, Math.round(performance.now() - t0));
    } catch (err) {
      return fail(trigger, target, err);
    }
  };

  const reload = (trigger: ReloadTrigger): Promise<ReloadOutcome> => {
    if (!running) {
      running = check(trigger).finally(() => {
        running = undefined;
      });
      return running;
    }
    // A check is running: the registry may have changed after its lookup, so check once more after it.
    queued ??= running.then(() => {
      queued = undefined;
      return reload(trigger);
    });
    return queued;
  };

  const schedule = () => {
    if (stopped || status.poll_seconds <= 0) return;
    timer = setTimeout(async () => {
      timer = undefined;
      await reload('poll');
      schedule();
    }, status.poll_seconds * 1000);
    timer.unref();
  };

  return {
    role,
    current: () => model,
    load,
    install: (next, trigger) => install(next, trigger),
    reload,
    startPolling() {
      if (timer === undefined) schedule();
    },
    async stop(stopOpts = {}) {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await queued?.catch(() => undefined);
      await running?.catch(() => undefined);
      if (stopOpts.release && model) {
        const last = model;
        model = undefined;
        retire(last);
      }
    },
    status: () => status,
    on(events) {
      listeners.push(events);
    },
  };
}
