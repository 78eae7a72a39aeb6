/**
 * KLL quantile sketch (Karnin, Lang, Liberty 2016) on typed arrays. Level h holds items of weight 2^h; a level
 * over its capacity is sorted and every other item is promoted. Built from a sorted column in one step (items
 * placed at the lowest level that fits) and combined by `mergeKll`, so a window is profiled by sorting each
 * column once and incremental profiles merge. Compaction offsets are deterministic (alternate per level), so the
 * same inputs in the same order give the same sketch. Rank error is about 1.7/k in the worst case.
 */
export const DEFAULT_KLL_K = 200;
const MIN_CAPACITY = 8;
const CAPACITY_DECAY = 2 / 3;

export interface KllSketch {
  readonly k: number;
  /** Number of values summarized. */
  readonly n: number;
  readonly min: number;
  readonly max: number;
  /** Items of level h (weight 2^h), each level unsorted or sorted. */
  readonly levels: readonly Float64Array[];
}

function capacity(k: number, levelCount: number, h: number): number {
  return Math.max(MIN_CAPACITY, Math.ceil(k * CAPACITY_DECAY ** (levelCount - 1 - h)));
}

export function emptyKll(k = DEFAULT_KLL_K): KllSketch {
  return { k, n: 0, min: Number.NaN, max: Number.NaN, levels: [new Float64Array(0)] };
}

/** Summary of a sorted, NaN-free array: every 2^L-th item (centered) at the lowest level L whose size fits k. */
export function kllFromSorted(sorted: ArrayLike<number>, k = DEFAULT_KLL_K): KllSketch {
  const n = sorted.length;
  if (n === 0) return emptyKll(k);
  let level = 0;
  while (Math.ceil(n / 2 ** level) > k) level++;
  const step = 2 ** level;
  const levels: Float64Array[] = [];
  for (let h = 0; h < level; h++) levels.push(new Float64Array(0));
  // Full groups of `step` are represented by their middle item; the leftover tail is kept at level 0 exactly.
  const groups = Math.floor(n / step);
  const top = new Float64Array(groups);
  const half = step >> 1;
  for (let g = 0; g < groups; g++) top[g] = sorted[g * step + (step > 1 ? half - 1 : 0)] as number;
  const tailStart = groups * step;
  if (level === 0) levels.push(top);
  else {
    levels[0] = Float64Array.from({ length: n - tailStart }, (_, i) => sorted[tailStart + i] as number);
    levels.push(top);
  }
  return compact({ k, n, min: sorted[0] as number, max: sorted[n - 1] as number, levels });
}

/** Merge two sketches (same k); the inputs are not modified. */
export function mergeKll(a: KllSketch, b: KllSketch): KllSketch {
  if (a.k !== b.k) throw new RangeError(`cannot merge KLL sketches with k ${a.k} and ${b.k}`);
  if (b.n === 0) return a;
  if (a.n === 0) return b;
  const count = Math.max(a.levels.length, b.levels.length);
  const levels: Float64Array[] = [];
  for (let h = 0; h < count; h++) {
    const x = a.levels[h] ?? new Float64Array(0);
    const y = b.levels[h] ?? new Float64Array(0);
    const merged = new Float64Array(x.length + y.length);
    merged.set(x, 0);
    merged.set(y, x.length);
    levels.push(merged);
  }
  return compact({
    k: a.k,
    n: a.n + b.n,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    levels,
  });
}

function compact(s: KllSketch): KllSketch {
  const levels = s.levels.map((l) => l);
  for (;;) {
    let h = -1;
    for (let i = 0; i < levels.length; i++) {
      if ((levels[i] as Float64Array).length > capacity(s.k, levels.length, i)) {
        h = i;
        break;
      }
    }
    if (h < 0) break;
    const items = (levels[h] as Float64Array).slice().sort();
    // Odd count: keep the largest at this level, compact the rest in pairs.
    const keep = items.length % 2;
    const pairs = (items.length - keep) >> 1;
    // Deterministic offset: alternates with the level's total weight so repeated compactions are unbiased.
    const offset = (Math.floor(s.n / 2 ** h) + h) & 1;
    const promoted = new Float64Array(pairs);
    for (let p = 0; p < pairs; p++) promoted[p] = items[2 * p + offset] as number;
    levels[h] = keep ? items.subarray(items.length - 1) : new Float64Array(0);
    if (h + 1 === levels.length) levels.push(promoted);
    else {
      const up = levels[h + 1] as Float64Array;
      const joined = new Float64Array(up.length + promoted.length);
      joined.set(up, 0);
      joined.set(promoted, up.length);
      levels[h + 1] = joined;
    }
  }
  return { ...s, levels };
}

/** True when the sketch holds every value at weight 1 (small inputs): statistics from it are exact. */
export function kllIsExact(s: KllSketch): boolean {
  for (let h = 1; h < s.levels.length; h++) if ((s.levels[h] as Float64Array).length > 0) return false;
  return (s.levels[0]?.length ?? 0) === s.n;
}

/** Sorted values and their cumulative weights (weights sum to n). */
export function kllSortedView(s: KllSketch): { values: Float64Array; cumWeights: Float64Array } {
  let size = 0;
  for (const l of s.levels) size += l.length;
  const order = new Float64Array(size);
  const weightOf = new Float64Array(size);
  let i = 0;
  s.levels.forEach((l, h) => {
    for (let j = 0; j < l.length; j++) {
      order[i] = l[j] as number;
      weightOf[i++] = 2 ** h;
    }
  });
  const idx = Uint32Array.from({ length: size }, (_, j) => j).sort(
    (x, y) => (order[x] as number) - (order[y] as number),
  );
  const values = new Float64Array(size);
  const cumWeights = new Float64Array(size);
  let acc = 0;
  for (let j = 0; j < size; j++) {
    const from = idx[j] as number;
    values[j] = order[from] as number;
    acc += weightOf[from] as number;
    cumWeights[j] = acc;
  }
  return { values, cumWeights };
}

/** Approximate quantile (inverse of the sketch's step CDF). */
export function kllQuantile(s: KllSketch, q: number): number {
  if (s.n === 0) return Number.NaN;
  if (q <= 0) return s.min;
  if (q >= 1) return s.max;
  const { values, cumWeights } = kllSortedView(s);
  const total = cumWeights[cumWeights.length - 1] as number;
  const target = q * total;
  for (let j = 0; j < values.length; j++) if ((cumWeights[j] as number) >= target) return values[j] as number;
  return s.max;
}

/** Approximate rank: share of values <= x. */
export function kllCdf(s: KllSketch, x: number): number {
  if (s.n === 0) return Number.NaN;
  const { values, cumWeights } = kllSortedView(s);
  const total = cumWeights[cumWeights.length - 1] as number;
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : (cumWeights[lo - 1] as number) / total;
}
