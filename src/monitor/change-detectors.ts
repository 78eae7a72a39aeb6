/**
 * Change detection on a window-metric series (e.g. a feature's drift score or the estimated AUC per day).
 * Both return the index at which the change is declared (the detection time), or -1.
 */

export interface PageHinkleyOptions {
  /** Magnitude of change tolerated (in the metric's units). */
  readonly delta: number;
  /** Detection threshold on the cumulative deviation. */
  readonly lambda: number;
  /** 'up' detects increases, 'down' decreases. */
  readonly direction: 'up' | 'down';
}

/** Page-Hinkley test: m_t = sum (x_i - mean_i - delta); alarm when m_t - min(m) > lambda ('up'). */
export function pageHinkley(series: ArrayLike<number>, options: PageHinkleyOptions): number {
  const sign = options.direction === 'up' ? 1 : -1;
  let mean = 0;
  let m = 0;
  let extreme = 0;
  for (let t = 0; t < series.length; t++) {
    const x = sign * (series[t] as number);
    mean += (x - mean) / (t + 1);
    m += x - mean - options.delta;
    extreme = Math.min(extreme, m);
    if (m - extreme > options.lambda) return t;
  }
  return -1;
}

export interface CusumOptions {
  /** In-control mean and std; estimated from the first `warmup` points when absent. */
  readonly mean?: number;
  readonly std?: number;
  readonly warmup: number;
  /** Allowance k and decision interval h, in standard deviations (classic 0.5 and 5). */
  readonly k: number;
  readonly h: number;
}

/** Two-sided tabular CUSUM on standardized values. Returns the detection index or -1. */
export function cusum(series: ArrayLike<number>, options: CusumOptions): number {
  let mean = options.mean;
  let sd = options.std;
  if (mean === undefined || sd === undefined) {
    const w = Math.min(options.warmup, series.length);
    let s = 0;
    for (let i = 0; i < w; i++) s += series[i] as number;
    const m = s / w;
    let v = 0;
    for (let i = 0; i < w; i++) v += ((series[i] as number) - m) ** 2;
    mean ??= m;
    sd ??= Math.sqrt(v / Math.max(1, w - 1));
  }
  const scale = sd > 0 ? sd : 1;
  let hi = 0;
  let lo = 0;
  for (let t = 0; t < series.length; t++) {
    const z = ((series[t] as number) - mean) / scale;
    hi = Math.max(0, hi + z - options.k);
    lo = Math.max(0, lo - z - options.k);
    if (hi > options.h || lo > options.h) return t;
  }
  return -1;
}
