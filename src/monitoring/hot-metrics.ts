// Counters and histograms for the request path, exposed through a prom-client Registry.
//
// Why not prom-client's own Histogram/Counter here: even through a cached child, each observe()
// re-validates and re-hashes its label set (a string build and a map lookup per call). Per request the
// service records ~8 observations, and in the benchmark that bookkeeping cost more than the model.
// These cells are resolved once per label set; recording is an array increment. prom-client still
// does everything else: the registry, the text format, default process metrics.

import type { Registry } from 'prom-client';

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };
type MetricObject = { name: string; help: string; type: 'counter' | 'histogram'; aggregator: 'sum'; values: Sample[] };

export type HistogramCell = { observe(value: number): void };
export type CounterCell = { inc(by?: number): void };

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) out[names[i]] = values[i];
  return out;
}

function checkArity(name: string, names: readonly string[], values: readonly string[]): void {
  if (values.length !== names.length) {
    throw new Error(`${name}: expected ${names.length} label values (${names.join(', ')}), got ${values.length}`);
  }
}

class Bucketed implements HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  readonly bounds: readonly number[];
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }
  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    if (i < b.length) this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[];
  private readonly cells = new Map<string, { labels: Record<string, string>; cell: Bucketed }>();

  constructor(opts: {
    name: string;
    help: string;
    labelNames?: readonly string[];
    buckets: readonly number[];
    registry: Registry;
  }) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
    this.buckets = [...opts.buckets].sort((a, b) => a - b);
    opts.registry.registerMetric(this as never);
  }

  /** The cell for one label set; keep it and call observe() on it. */
  cell(...values: string[]): HistogramCell {
    checkArity(this.name, this.labelNames, values);
    const key = values.join('\u0000');
    let entry = this.cells.get(key);
    if (entry === undefined) {
      entry = { labels: labelsOf(this.labelNames, values), cell: new Bucketed(this.buckets) };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  async get(): Promise<MetricObject> {
    const values: Sample[] = [];
    for (const { labels, cell } of this.cells.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += cell.counts[i];
        values.push({
          labels: { le: this.buckets[i], ...labels },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels: { le: '+Inf', ...labels }, value: cell.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}

class Tally implements CounterCell {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class FastCounter {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  private readonly cells = new Map<string, { labels: Record<string, string>; cell: Tally }>();

  constructor(opts: { name: string; help: string; labelNames?: readonly string[]; registry: Registry }) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
    opts.registry.registerMetric(this as never);
  }

  cell(...values: string[]): CounterCell {
    checkArity(this.name, this.labelNames, values);
    const key = values.join('\u0000');
    let entry = this.cells.get(key);
    if (entry === undefined) {
      entry = { labels: labelsOf(this.labelNames, values), cell: new Tally() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  async get(): Promise<MetricObject> {
    const values: Sample[] = [];
    for (const { labels, cell } of this.cells.values()) values.push({ labels, value: cell.value });
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values };
  }
}
