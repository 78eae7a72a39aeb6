import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The metric handles domain code uses; prom-client stays inside this file. */
export interface CounterMetric {
  inc(labels?: Record<string, string>, value?: number): void;
}
export interface GaugeMetric {
  set(labels: Record<string, string>, value: number): void;
  set(value: number): void;
}
export interface HistogramMetric {
  observe(labels: Record<string, string>, value: number): void;
  observe(value: number): void;
}

export interface MetricSpec {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
}

/**
 * A registry per process (or per test). Metric names are prefixed `adnova_`; asking twice for the same
 * name returns the same metric, so modules can declare what they use without a central list.
 */
export class MetricsRegistry {
  readonly #registry = new Registry();
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.#registry, prefix: 'adnova_process_' });
  }

  counter(spec: MetricSpec): CounterMetric {
    const metric = this.#getOrCreate(spec, 'counter', () => new Counter(this.#opts(spec)));
    return {
      inc: (labels?: Record<string, string>, value = 1) => (labels ? metric.inc(labels, value) : metric.inc(value)),
    };
  }

  gauge(spec: MetricSpec): GaugeMetric {
    const metric = this.#getOrCreate(spec, 'gauge', () => new Gauge(this.#opts(spec)));
    return {
      set: ((a: Record<string, string> | number, b?: number) =>
        typeof a === 'number' ? metric.set(a) : metric.set(a, b as number)) as GaugeMetric['set'],
    };
  }

  histogram(spec: MetricSpec & { readonly buckets?: readonly number[] }): HistogramMetric {
    const metric = this.#getOrCreate(
      spec,
      'histogram',
      () => new Histogram({ ...this.#opts(spec), ...(spec.buckets ? { buckets: [...spec.buckets] } : {}) }),
    );
    return {
      observe: ((a: Record<string, string> | number, b?: number) =>
        typeof a === 'number' ? metric.observe(a) : metric.observe(a, b as number)) as HistogramMetric['observe'],
    };
  }

  /** Prometheus text exposition format. */
  async text(): Promise<string> {
    return this.#registry.metrics();
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Current values as plain JSON, for reports and tests. */
  async snapshot(): Promise<Array<{ name: string; values: Array<{ labels: object; value: number }> }>> {
    const all = await this.#registry.getMetricsAsJSON();
    return all.map((m) => ({
      name: m.name,
      values: (m.values as Array<{ labels: object; value: number }>).map((v) => ({ labels: v.labels, value: v.value })),
    }));
  }

  #opts(spec: MetricSpec) {
    return {
      name: spec.name,
      help: spec.help,
      labelNames: [...(spec.labelNames ?? [])],
      registers: [this.#registry],
    };
  }

  #getOrCreate<T extends Counter | Gauge | Histogram>(spec: MetricSpec, kind: string, make: () => T): T {
    if (!/^adnova_[a-z0-9_]+$/.test(spec.name)) {
      throw new RangeError(`metric name must match adnova_[a-z0-9_]+, got ${spec.name}`);
    }
    const existing = this.#metrics.get(spec.name);
    if (existing) {
      if ((existing as unknown as { constructor: { name: string } }).constructor.name.toLowerCase() !== kind) {
        throw new RangeError(`metric ${spec.name} already registered with another type`);
      }
      return existing as T;
    }
    const created = make();
    this.#metrics.set(spec.name, created);
    return created;
  }
}
