// Online model quality: predictions joined with the labels that arrived later (POST /feedback),
// per model version, over two windows:
//   time  — labelled predictions made in the last QUALITY_WINDOW_MINUTES;
//   count — the last QUALITY_WINDOW_COUNT labelled predictions of each model version (by prediction time).
// Every figure is computed by the store from the shared tables, so all instances on one PostgreSQL
// database report the same numbers. Per label L (one-vs-rest): precision = predicted L and labelled L /
// predicted L; recall = that / labelled L; F1 their harmonic mean. Accuracy = agreeing / labelled.
// Label delay = label arrival − prediction time (mean and max).

import type { StoreHealth } from '../store/health.ts';
import type { ConfusionCell, Store } from '../store/types.ts';

export type LabelFigures = {
  /** null when the model predicted this label for none of the labelled predictions. */
  precision: number | null;
  /** null when no labelled prediction carries this label. */
  recall: number | null;
  f1: number | null;
  /** Labelled predictions whose label (the truth) is this one. */
  support: number;
  /** Labelled predictions the model gave this label. */
  predicted: number;
};

export type WindowFigures = {
  labelled: number;
  accuracy: number | null;
  label_delay_seconds: { mean: number | null; max: number | null };
  labels: Record<string, LabelFigures>;
  /** predicted label → true label → count */
  confusion: Record<string, Record<string, number>>;
};

export type WindowName = 'time' | 'count';
export const WINDOWS: readonly WindowName[] = ['time', 'count'];

export type ModelQuality = {
  model_name: string;
  model_version: string;
  windows: Partial<Record<WindowName, WindowFigures>>;
};

export type QualityReport = {
  computed_at: string;
  windows: { time: { minutes: number }; count: { size: number } };
  models: ModelQuality[];
};

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/** Figures of one window of one model version, from its confusion cells. */
export function figures(cells: readonly ConfusionCell[]): WindowFigures {
  const confusion: Record<string, Record<string, number>> = {};
  const labels = new Set<string>();
  let labelled = 0;
  let agree = 0;
  let delaySum = 0;
  let delayMax = Number.NEGATIVE_INFINITY;
  for (const c of cells) {
    confusion[c.predicted] ??= {};
    confusion[c.predicted][c.actual] = (confusion[c.predicted][c.actual] ?? 0) + c.n;
    labels.add(c.predicted);
    labels.add(c.actual);
    labelled += c.n;
    if (c.predicted === c.actual) agree += c.n;
    delaySum += c.delaySumMs;
    delayMax = Math.max(delayMax, c.delayMaxMs);
  }
  const out: Record<string, LabelFigures> = {};
  for (const label of [...labels].sort()) {
    const tp = confusion[label]?.[label] ?? 0;
    const predicted = Object.values(confusion[label] ?? {}).reduce((a, b) => a + b, 0);
    const support = Object.values(confusion).reduce((a, row) => a + (row[label] ?? 0), 0);
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    const f1 =
      precision === null || recall === null
        ? null
        : precision + recall === 0
          ? 0
          : (2 * precision * recall) / (precision + recall);
    out[label] = { precision, recall, f1, support, predicted };
  }
  return {
    labelled,
    accuracy: ratio(agree, labelled),
    label_delay_seconds: {
      mean: labelled > 0 ? Math.max(0, delaySum / labelled / 1000) : null,
      max: labelled > 0 ? Math.max(0, delayMax / 1000) : null,
    },
    labels: out,
    confusion,
  };
}

export type QualityOptions = { windowMinutes: number; windowCount: number };

export type QualityMonitor = {
  /** Computes the figures now, from the store (concurrent calls share one computation). */
  compute(): Promise<QualityReport>;
  /** The last figures computed successfully (what the gauges show). */
  latest(): QualityReport | undefined;
  /** Recomputes every `intervalS` seconds (unref'd timer) until stop(). */
  start(intervalS: number): void;
  stop(): void;
};

const byVersion = (a: ModelQuality, b: ModelQuality) =>
  a.model_name.localeCompare(b.model_name) || a.model_version.localeCompare(b.model_version, 'en', { numeric: true });

export function createQualityMonitor(
  store: Store,
  health: StoreHealth,
  opts: QualityOptions,
  onError: (err: unknown) => void = () => undefined,
): QualityMonitor {
  let last: QualityReport | undefined;
  let running: Promise<QualityReport> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const run = async (): Promise<QualityReport> => {
    const now = Date.now();
    let time: ConfusionCell[];
    let count: ConfusionCell[];
    try {
      time = await store.confusion({ sinceTs: now - opts.windowMinutes * 60_000 });
      count = await store.confusion({ lastN: opts.windowCount });
    } catch (err) {
      health.failed('quality query', err);
      throw err;
    }
    health.ok();
    const models = new Map<string, ModelQuality>();
    const add = (window: WindowName, cells: ConfusionCell[]) => {
      const groups = new Map<string, ConfusionCell[]>();
      for (const c of cells) {
        const key = `${c.modelName}\u0000${c.modelVersion}`;
        if (!models.has(key)) models.set(key, { model_name: c.modelName, model_version: c.modelVersion, windows: {} });
        const g = groups.get(key);
        if (g) g.push(c);
        else groups.set(key, [c]);
      }
      for (const [key, g] of groups) (models.get(key) as ModelQuality).windows[window] = figures(g);
    };
    add('time', time);
    add('count', count);
    last = {
      computed_at: new Date(now).toISOString(),
      windows: { time: { minutes: opts.windowMinutes }, count: { size: opts.windowCount } },
      models: [...models.values()].sort(byVersion),
    };
    return last;
  };

  const compute = () => {
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    compute,
    latest: () => last,
    start(intervalS) {
      const tick = () => {
        compute().catch(onError);
      };
      tick();
      timer = setInterval(tick, intervalS * 1000);
      timer.unref();
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
