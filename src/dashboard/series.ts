// The dashboard's time series: once a second, read the cumulative Prometheus series the service
// already keeps (the same cells /metrics renders) plus process figures, and keep the difference from
// the previous second in two rings — 15 minutes at 1 s and 24 hours at 1 min.
//
// Why sampling instead of a hook on each request: the request path already updates these cells, so
// the dashboard adds no work per request at all; its cost is one read of a handful of metrics per
// second, off the request path. Histograms are kept as cumulative bucket counts (as Prometheus does),
// so seconds add up into minutes and percentiles are computed for any span with the same arithmetic as
// PromQL's histogram_quantile.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Registry } from 'prom-client';

export const FINE_SECONDS = 15 * 60;
export const COARSE_MINUTES = 24 * 60;

/** Routes left out of the golden signals: the dashboard watching itself, and scrapes. */
const isOwnRoute = (route: string) => route.startsWith('/dashboard') || route === '/metrics';

type Hist = { bounds: number[]; cum: number[] };

/** What the cumulative series held at one instant. */
type Totals = {
  status: number[];
  lat: Hist;
  proba: Hist;
  infer: Hist;
  chars: Hist;
  preds: Map<string, number>;
};

/** One slot of a ring: what happened during `span` seconds ending at `t`. */
export type Slot = {
  t: number;
  span: number;
  status: number[];
  lat: number[];
  proba: number[];
  infer: number[];
  chars: number[];
  preds: Map<string, number>;
  active: number;
  eldP99: number;
  eldMax: number;
  cpu: number;
  rss: number;
  heap: number;
};

export type Bounds = { lat: number[]; proba: number[]; infer: number[]; chars: number[] };

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };

async function samplesOf(registry: Registry, name: string): Promise<Sample[]> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return [];
  return ((await metric.get()) as { values: Sample[] }).values;
}

/** Sums a histogram's cumulative buckets over its label sets (optionally filtered). */
function sumHistogram(samples: Sample[], keep: (labels: Sample['labels']) => boolean = () => true): Hist {
  const byLe = new Map<number, number>();
  let total = 0;
  for (const s of samples) {
    if (!keep(s.labels)) continue;
    if (s.metricName?.endsWith('_bucket')) {
      const le = s.labels.le;
      if (le === '+Inf') continue;
      const bound = Number(le);
      byLe.set(bound, (byLe.get(bound) ?? 0) + s.value);
    } else if (s.metricName?.endsWith('_count')) total += s.value;
  }
  const bounds = [...byLe.keys()].sort((a, b) => a - b);
  return { bounds, cum: [...bounds.map((b) => byLe.get(b) as number), total] };
}

/**
 * The q-quantile of a histogram given as cumulative counts per upper bound (the last entry is the
 * total, bound +Inf), interpolating linearly inside the bucket as histogram_quantile does. Null when
 * nothing was observed; the highest finite bound when the quantile falls in the +Inf bucket.
 */
export function quantile(q: number, bounds: readonly number[], cum: readonly number[]): number | null {
  const total = cum[cum.length - 1] ?? 0;
  if (!(total > 0)) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cum[i] >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1];
      const below = i === 0 ? 0 : cum[i - 1];
      const inBucket = cum[i] - below;
      return inBucket > 0 ? lower + ((bounds[i] - lower) * (rank - below)) / inBucket : bounds[i];
    }
  }
  return bounds.length > 0 ? bounds[bounds.length - 1] : null;
}

const diff = (now: readonly number[], before: readonly number[] | undefined) =>
  now.map((v, i) => Math.max(0, v - (before?.[i] ?? 0)));

function addInto(into: number[], from: readonly number[]): void {
  for (let i = 0; i < from.length; i++) into[i] = (into[i] ?? 0) + from[i];
}

async function readTotals(registry: Registry): Promise<Totals> {
  const duration = await samplesOf(registry, 'http_server_request_duration_seconds');
  const status = [0, 0, 0, 0, 0];
  for (const s of duration) {
    if (s.metricName?.endsWith('_count') && !isOwnRoute(String(s.labels.http_route))) {
      const cls = Math.floor(Number(s.labels.http_response_status_code) / 100);
      if (cls >= 1 && cls <= 5) status[cls - 1] += s.value;
    }
  }
  const preds = new Map<string, number>();
  for (const s of await samplesOf(registry, 'msgcls_predictions_total')) {
    const role = s.labels.role ? ` (${s.labels.role})` : '';
    const key = `v${s.labels.model_version}${role} ${s.labels.label}`;
    preds.set(key, (preds.get(key) ?? 0) + s.value);
  }
  return {
    status,
    lat: sumHistogram(duration, (l) => !isOwnRoute(String(l.http_route))),
    proba: sumHistogram(await samplesOf(registry, 'msgcls_prediction_probability')),
    infer: sumHistogram(await samplesOf(registry, 'msgcls_inference_duration_seconds')),
    chars: sumHistogram(await samplesOf(registry, 'msgcls_input_chars')),
    preds,
  };
}

export type Series = {
  /** Slots of the last 15 minutes (1 s each), oldest first, newer than `sinceT` (unix seconds). */
  fine(sinceT?: number): Slot[];
  /** Slots of the last 24 hours (1 min each), oldest first; the current minute is not included. */
  coarse(): Slot[];
  bounds(): Bounds;
  /** Takes one sample now (the timer calls it every second; tests call it directly). */
  sample(now?: number): Promise<void>;
  stop(): void;
};

function emptySlot(t: number, span: number): Slot {
  return {
    t,
    span,
    status: [0, 0, 0, 0, 0],
    lat: [],
    proba: [],
    infer: [],
    chars: [],
    preds: new Map(),
    active: 0,
    eldP99: 0,
    eldMax: 0,
    cpu: 0,
    rss: 0,
    heap: 0,
  };
}

/** Folds a finished second into the minute being built. */
function fold(minute: Slot, s: Slot, n: number): void {
  addInto(minute.status, s.status);
  addInto(minute.lat, s.lat);
  addInto(minute.proba, s.proba);
  addInto(minute.infer, s.infer);
  addInto(minute.chars, s.chars);
  for (const [k, v] of s.preds) minute.preds.set(k, (minute.preds.get(k) ?? 0) + v);
  // Gauges: the mean over the minute; delays: the worst second.
  minute.active += (s.active - minute.active) / n;
  minute.cpu += (s.cpu - minute.cpu) / n;
  minute.rss += (s.rss - minute.rss) / n;
  minute.heap += (s.heap - minute.heap) / n;
  minute.eldP99 = Math.max(minute.eldP99, s.eldP99);
  minute.eldMax = Math.max(minute.eldMax, s.eldMax);
}

export function createSeries(opts: {
  registry: Registry | undefined;
  activeRequests?: () => number;
  intervalMs?: number;
  /** Milliseconds since the epoch (tests pass their own clock). */
  now?: () => number;
}): Series {
  const clock = opts.now ?? Date.now;
  const fine: Slot[] = [];
  const coarse: Slot[] = [];
  let minute: Slot | undefined;
  let secondsInMinute = 0;
  let previous: Totals | undefined;
  let bounds: Bounds = { lat: [], proba: [], infer: [], chars: [] };
  let cpuBefore = process.cpuUsage();
  let wallBefore = performance.now();
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  let sampling = false;

  const sample = async (nowMs = clock()): Promise<void> => {
    if (sampling) return;
    sampling = true;
    try {
      const t = Math.floor(nowMs / 1000);
      const totals = opts.registry ? await readTotals(opts.registry) : undefined;
      const slot = emptySlot(t, 1);
      if (totals) {
        bounds = {
          lat: totals.lat.bounds,
          proba: totals.proba.bounds,
          infer: totals.infer.bounds,
          chars: totals.chars.bounds,
        };
        // The first sample only sets the baseline: everything counted before it is not "this second".
        const base = previous ?? totals;
        slot.status = diff(totals.status, base.status);
        slot.lat = diff(totals.lat.cum, base.lat.cum);
        slot.proba = diff(totals.proba.cum, base.proba.cum);
        slot.infer = diff(totals.infer.cum, base.infer.cum);
        slot.chars = diff(totals.chars.cum, base.chars.cum);
        for (const [k, v] of totals.preds) {
          const d = v - (base.preds.get(k) ?? 0);
          if (d > 0) slot.preds.set(k, d);
        }
        previous = totals;
      }
      const cpu = process.cpuUsage();
      const wall = performance.now();
      slot.cpu = (cpu.user - cpuBefore.user + cpu.system - cpuBefore.system) / 1000 / Math.max(1, wall - wallBefore);
      cpuBefore = cpu;
      wallBefore = wall;
      const mem = process.memoryUsage();
      slot.rss = mem.rss;
      slot.heap = mem.heapUsed;
      slot.active = opts.activeRequests?.() ?? 0;
      slot.eldP99 = eld.count > 0 ? eld.percentile(99) / 1e6 : 0;
      slot.eldMax = eld.count > 0 ? eld.max / 1e6 : 0;
      eld.reset();

      fine.push(slot);
      if (fine.length > FINE_SECONDS) fine.shift();
      const minuteStart = t - (t % 60);
      if (minute !== undefined && minute.t !== minuteStart) {
        coarse.push(minute);
        if (coarse.length > COARSE_MINUTES) coarse.shift();
        minute = undefined;
      }
      if (minute === undefined) {
        minute = emptySlot(minuteStart, 60);
        secondsInMinute = 0;
      }
      fold(minute, slot, ++secondsInMinute);
    } finally {
      sampling = false;
    }
  };

  // The baseline is taken now, before the server takes requests, so the first second counts them all.
  const first = sample().catch(() => undefined);
  const timer = setInterval(() => {
    sample().catch(() => undefined);
  }, opts.intervalMs ?? 1000);
  timer.unref();

  return {
    fine(sinceT = 0) {
      let i = fine.length;
      while (i > 0 && fine[i - 1].t > sinceT) i--;
      return fine.slice(i);
    },
    coarse: () => coarse.slice(),
    bounds: () => bounds,
    async sample(nowMs?: number) {
      await first;
      return sample(nowMs);
    },
    stop() {
      clearInterval(timer);
      eld.disable();
    },
  };
}

/** The slots as columns the page plots directly (uPlot takes one array per series). */
export function toColumns(slots: readonly Slot[], bounds: Bounds) {
  const cols = {
    t: [] as number[],
    rps_2xx: [] as number[],
    rps_3xx: [] as number[],
    rps_4xx: [] as number[],
    rps_5xx: [] as number[],
    error_ratio: [] as (number | null)[],
    p50_ms: [] as (number | null)[],
    p95_ms: [] as (number | null)[],
    p99_ms: [] as (number | null)[],
    active: [] as number[],
    eld_p99_ms: [] as number[],
    eld_max_ms: [] as number[],
    cpu_pct: [] as number[],
    rss_mb: [] as number[],
    heap_mb: [] as number[],
    infer_p50_ms: [] as (number | null)[],
    infer_p95_ms: [] as (number | null)[],
    chars_p50: [] as (number | null)[],
    predictions: {} as Record<string, number[]>,
  };
  const keys = new Set<string>();
  for (const s of slots) for (const k of s.preds.keys()) keys.add(k);
  for (const k of [...keys].sort()) cols.predictions[k] = [];
  const ms = (v: number | null) => (v === null ? null : Math.round(v * 1e6) / 1e3);
  for (const s of slots) {
    const total = s.status.reduce((a, b) => a + b, 0);
    cols.t.push(s.t);
    cols.rps_2xx.push(s.status[1] / s.span);
    cols.rps_3xx.push(s.status[2] / s.span);
    cols.rps_4xx.push(s.status[3] / s.span);
    cols.rps_5xx.push(s.status[4] / s.span);
    cols.error_ratio.push(total > 0 ? s.status[4] / total : null);
    cols.p50_ms.push(ms(quantile(0.5, bounds.lat, s.lat)));
    cols.p95_ms.push(ms(quantile(0.95, bounds.lat, s.lat)));
    cols.p99_ms.push(ms(quantile(0.99, bounds.lat, s.lat)));
    cols.active.push(Math.round(s.active * 10) / 10);
    cols.eld_p99_ms.push(Math.round(s.eldP99 * 100) / 100);
    cols.eld_max_ms.push(Math.round(s.eldMax * 100) / 100);
    cols.cpu_pct.push(Math.round(s.cpu * 1000) / 10);
    cols.rss_mb.push(Math.round(s.rss / 1e5) / 10);
    cols.heap_mb.push(Math.round(s.heap / 1e5) / 10);
    cols.infer_p50_ms.push(ms(quantile(0.5, bounds.infer, s.infer)));
    cols.infer_p95_ms.push(ms(quantile(0.95, bounds.infer, s.infer)));
    const c50 = quantile(0.5, bounds.chars, s.chars);
    cols.chars_p50.push(c50 === null ? null : Math.round(c50));
    for (const k of keys) cols.predictions[k].push((s.preds.get(k) ?? 0) / s.span);
  }
  return cols;
}

/** Observations per histogram bucket over the given slots (not cumulative), for bar charts. */
export function bucketCounts(slots: readonly Slot[], bounds: readonly number[], pick: (s: Slot) => number[]) {
  const cum: number[] = [];
  for (const s of slots) addInto(cum, pick(s));
  const counts = cum.map((v, i) => v - (i === 0 ? 0 : cum[i - 1]));
  return { bounds: [...bounds], counts: counts.length > 0 ? counts : bounds.map(() => 0).concat(0) };
}
