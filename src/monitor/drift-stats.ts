/**
 * Drift statistics with the exact definitions of docs/monitoring.md. Inputs are NaN-free; numeric inputs are
 * sorted ascending (callers sort once and reuse). Results match scipy 1.10 / numpy 1.24 (golden fixtures).
 */
import { sortedFiniteValues } from './float-sort.js';
import { kolmogorovSf, outerProbInsideMethod, probOutsideSquare } from './kolmogorov.js';
import { chi2Sf } from './special-functions.js';

/** scipy's `ks_2samp(method='auto')` switches from exact to asymptotic above this sample size. */
export const KS_MAX_EXACT_N = 10_000;
/** PSI replaces an empty bin's share with this. */
export const PSI_EMPTY_SHARE = 0.0001;
/** Floor of the reference std when normalizing the Wasserstein distance. */
export const WASSERSTEIN_MIN_STD = 0.001;
/** Quantile levels whose values are the interior bin edges (k/10 as numpy computes `np.arange(1, 10) / 10`). */
export const BIN_QUANTILES: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => k / 10);

export interface KsResult {
  readonly statistic: number;
  readonly pvalue: number;
  readonly mode: 'exact' | 'asymp';
}

export interface NumericDriftStats {
  readonly ksStatistic: number;
  readonly ksPvalue: number;
  readonly wassersteinNorm: number;
  readonly psi: number;
  readonly jsDistance: number;
}

export interface CategoricalDriftStats {
  readonly chi2Statistic: number;
  readonly chi2Pvalue: number;
  readonly jsDistance: number;
  readonly linf: number;
  readonly psi: number;
}

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y) [x, y] = [y, x % y];
  return x;
}

/** Two-sample KS statistic and two-sided p-value, as `scipy.stats.ks_2samp(a, b)` (method 'auto'). */
export function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): KsResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('ksTwoSample needs two non-empty samples');
  let i = 0;
  let j = 0;
  let maxS = Number.NEGATIVE_INFINITY;
  let minS = Number.POSITIVE_INFINITY;
  // Walk the merged order; after each distinct value both ECDFs are right-continuous counts.
  while (i < n1 || j < n2) {
    const va = i < n1 ? (a[i] as number) : Number.POSITIVE_INFINITY;
    const vb = j < n2 ? (b[j] as number) : Number.POSITIVE_INFINITY;
    const v = va <= vb ? va : vb;
    while (i < n1 && (a[i] as number) === v) i++;
    while (j < n2 && (b[j] as number) === v) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minS) minS = diff;
  }
  const negMin = Math.min(Math.max(-minS, 0), 1);
  let d = negMin > maxS ? negMin : maxS;
  const g = gcd(n1, n2);
  let mode: 'exact' | 'asymp' = Math.max(n1, n2) <= KS_MAX_EXACT_N ? 'exact' : 'asymp';
  let prob = Number.NaN;
  if (mode === 'exact') {
    const lcm = (n1 / g) * n2;
    const h = Math.round(d * lcm);
    d = h / lcm;
    if (h === 0) prob = 1;
    else prob = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInsideMethod(n1, n2, g, h);
    if (!(prob >= 0 && prob <= 1)) mode = 'asymp';
  }
  if (mode === 'asymp') {
    const m = Math.max(n1, n2);
    const n = Math.min(n1, n2);
    const en = (m * n) / (m + n);
    prob = kolmogorovSf(roundHalfEven(en), d);
  }
  return { statistic: d, pvalue: Math.min(Math.max(prob, 0), 1), mode };
}

/** numpy rounds half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Wasserstein-1 distance between two sorted samples (`scipy.stats.wasserstein_distance`). */
export function wassersteinSorted(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let sum = 0;
  let prev = Number.NaN;
  let prevDiff = 0;
  while (i < n1 || j < n2) {
    const va = i < n1 ? (a[i] as number) : Number.POSITIVE_INFINITY;
    const vb = j < n2 ? (b[j] as number) : Number.POSITIVE_INFINITY;
    const v = va <= vb ? va : vb;
    if (i + j > 0) sum += prevDiff * (v - prev);
    while (i < n1 && (a[i] as number) === v) i++;
    while (j < n2 && (b[j] as number) === v) j++;
    prevDiff = Math.abs(i / n1 - j / n2);
    prev = v;
  }
  return sum;
}

/** Mean and population variance (two-pass). */
export function meanAndVariance(x: ArrayLike<number>): { mean: number; variance: number } {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] as number;
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - mean;
    ss += d * d;
  }
  return { mean, variance: ss / n };
}

/** Quantile of sorted data with numpy's default 'linear' method (same floating-point steps as numpy 1.24). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return sorted[0] as number;
  const virtual = (n - 1) * q;
  const prevIdx = Math.floor(virtual);
  if (virtual >= n - 1) return sorted[n - 1] as number;
  const a = sorted[prevIdx] as number;
  const b = sorted[prevIdx + 1] as number;
  const t = virtual - prevIdx;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Interior bin edges: the reference's 10%..90% quantiles with duplicates removed (ascending). */
export function quantileEdges(sortedReference: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (const q of BIN_QUANTILES) {
    const e = quantileSorted(sortedReference, q);
    if (out.length === 0 || e !== out[out.length - 1]) out.push(e);
  }
  return Float64Array.from(out);
}

/** Bin of a value: the number of edges strictly below it (a value equal to an edge falls in the lower bin). */
export function binOf(edges: Float64Array, x: number): number {
  let k = 0;
  while (k < edges.length && (edges[k] as number) < x) k++;
  return k;
}

/** Counts per bin (edges.length + 1 bins) of a sorted sample, by binary search. */
export function binCountsSorted(sorted: ArrayLike<number>, edges: Float64Array): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  let prev = 0;
  for (let k = 0; k < edges.length; k++) {
    const upto = upperBound(sorted, edges[k] as number);
    counts[k] = upto - prev;
    prev = upto;
  }
  counts[edges.length] = sorted.length - prev;
  return counts;
}

/** Number of elements <= x in a sorted array. */
export function upperBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function total(c: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < c.length; i++) s += c[i] as number;
  return s;
}

/** PSI = sum((c - r) * ln(c / r)) over shares, an empty share replaced by 0.0001. */
export function psiFromCounts(ref: ArrayLike<number>, cur: ArrayLike<number>): number {
  const nr = total(ref);
  const nc = total(cur);
  let psi = 0;
  for (let k = 0; k < ref.length; k++) {
    let r = (ref[k] as number) / nr;
    let c = (cur[k] as number) / nc;
    if (r === 0) r = PSI_EMPTY_SHARE;
    if (c === 0) c = PSI_EMPTY_SHARE;
    psi += (c - r) * Math.log(c / r);
  }
  return psi;
}

function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Number.POSITIVE_INFINITY;
}

/** Jensen-Shannon distance, base 2 (`scipy.spatial.distance.jensenshannon(p, q, base=2)`) of raw shares. */
export function jsDistanceFromCounts(ref: ArrayLike<number>, cur: ArrayLike<number>): number {
  const nr = total(ref);
  const nc = total(cur);
  let left = 0;
  let right = 0;
  for (let k = 0; k < ref.length; k++) {
    const p = (ref[k] as number) / nr;
    const q = (cur[k] as number) / nc;
    const m = (p + q) / 2;
    left += relEntr(p, m);
    right += relEntr(q, m);
  }
  const js = (left + right) / Math.log(2);
  return Math.sqrt(Math.max(js, 0) / 2);
}

/** Largest absolute difference of a category's share. */
export function linfFromCounts(ref: ArrayLike<number>, cur: ArrayLike<number>): number {
  const nr = total(ref);
  const nc = total(cur);
  let m = 0;
  for (let k = 0; k < ref.length; k++) m = Math.max(m, Math.abs((ref[k] as number) / nr - (cur[k] as number) / nc));
  return m;
}

/**
 * Pearson chi-square on the 2 x k table (`scipy.stats.chi2_contingency(..., correction=False)`). Categories empty on
 * both sides are left out (scipy refuses a zero expected count), and the degrees of freedom count the others.
 */
export function chi2FromCounts(
  ref: ArrayLike<number>,
  cur: ArrayLike<number>,
): { statistic: number; pvalue: number; dof: number } {
  const k = ref.length;
  const nr = total(ref);
  const nc = total(cur);
  const n = nr + nc;
  let cells = 0;
  for (let c = 0; c < k; c++) if ((ref[c] as number) + (cur[c] as number) > 0) cells++;
  const dof = cells - 1;
  if (dof <= 0) return { statistic: 0, pvalue: 1, dof: 0 };
  let stat = 0;
  for (let c = 0; c < k; c++) {
    const col = (ref[c] as number) + (cur[c] as number);
    if (col === 0) continue;
    const e0 = (nr * col) / n;
    const e1 = (nc * col) / n;
    const d0 = (ref[c] as number) - e0;
    const d1 = (cur[c] as number) - e1;
    stat += (d0 * d0) / e0 + (d1 * d1) / e1;
  }
  return { statistic: stat, pvalue: chi2Sf(stat, dof), dof };
}

/** Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1). NaN entries are left out and stay NaN. */
export function benjaminiHochberg(pvalues: ArrayLike<number>): Float64Array {
  const out = new Float64Array(pvalues.length).fill(Number.NaN);
  const idx: number[] = [];
  for (let i = 0; i < pvalues.length; i++) if (!Number.isNaN(pvalues[i] as number)) idx.push(i);
  idx.sort((x, y) => (pvalues[x] as number) - (pvalues[y] as number) || x - y);
  const m = idx.length;
  let running = 1;
  for (let r = m - 1; r >= 0; r--) {
    const i = idx[r] as number;
    running = Math.min(running, ((pvalues[i] as number) * m) / (r + 1));
    out[i] = running;
  }
  return out;
}

/** All numeric statistics of two sorted, NaN-free samples. */
export function compareNumericSorted(refSorted: Float64Array, curSorted: Float64Array): NumericDriftStats {
  const ks = ksTwoSample(refSorted, curSorted);
  const { variance } = meanAndVariance(refSorted);
  const edges = quantileEdges(refSorted);
  const rc = binCountsSorted(refSorted, edges);
  const cc = binCountsSorted(curSorted, edges);
  return {
    ksStatistic: ks.statistic,
    ksPvalue: ks.pvalue,
    wassersteinNorm: wassersteinSorted(refSorted, curSorted) / Math.max(Math.sqrt(variance), WASSERSTEIN_MIN_STD),
    psi: psiFromCounts(rc, cc),
    jsDistance: jsDistanceFromCounts(rc, cc),
  };
}

/** All categorical statistics of category counts aligned over the union of categories (no all-zero column). */
export function compareCategoricalCounts(ref: ArrayLike<number>, cur: ArrayLike<number>): CategoricalDriftStats {
  const chi2 = chi2FromCounts(ref, cur);
  return {
    chi2Statistic: chi2.statistic,
    chi2Pvalue: chi2.pvalue,
    jsDistance: jsDistanceFromCounts(ref, cur),
    linf: linfFromCounts(ref, cur),
    psi: psiFromCounts(ref, cur),
  };
}

/** Copy without NaN, sorted ascending (radix sort for large columns; see float-sort.ts). */
export function sortedFinite(x: ArrayLike<number>): Float64Array {
  return sortedFiniteValues(x);
}
