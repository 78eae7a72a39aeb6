/**
 * Training-serving skew: the feature vectors that were served, joined on a key with the same features recomputed
 * offline. Per feature: the mismatch rate over joined rows (numbers compared after rounding to 6 decimal places,
 * text exactly; null against a value is a mismatch, null against null is not) and the distribution distance of
 * the two sides (the drift statistics of compareColumns).
 */
import { InvalidInputError } from '../core/index.js';
import type { Column, ColumnTable } from './column-table.js';
import { compareColumns, type FeatureComparison } from './feature-comparison.js';

export interface SkewFeatureResult {
  readonly name: string;
  readonly kind: Column['kind'];
  readonly compared: number;
  readonly mismatches: number;
  readonly mismatchRate: number;
  /** Normalized Wasserstein (numeric) or JS distance (categorical) between the joined sides. */
  readonly distance: number | null;
  readonly comparison: FeatureComparison;
}

export interface SkewResult {
  readonly key: string;
  readonly rowsLeft: number;
  readonly rowsRight: number;
  readonly joined: number;
  readonly onlyLeft: number;
  readonly onlyRight: number;
  readonly duplicateKeysRight: number;
  readonly features: readonly SkewFeatureResult[];
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

function keyStrings(c: Column): (string | null)[] {
  if (c.kind === 'categorical')
    return Array.from(c.codes, (code) => (code < 0 ? null : (c.dictionary[code] as string)));
  return Array.from(c.values, (v) => (Number.isNaN(v) ? null : String(v)));
}

function take(c: Column, rows: Uint32Array): Column {
  if (c.kind === 'numeric') return { ...c, values: Float64Array.from(rows, (r) => c.values[r] as number) };
  return { ...c, codes: Int32Array.from(rows, (r) => c.codes[r] as number) };
}

export function computeSkew(left: ColumnTable, right: ColumnTable, key: string): SkewResult {
  const lk = left.columns.find((c) => c.name === key);
  const rk = right.columns.find((c) => c.name === key);
  if (!lk || !rk) {
    throw new InvalidInputError(
      `skew needs the key column "${key}" in both tables; ${!lk ? 'left' : 'right'} has none`,
    );
  }
  const rightIndex = new Map<string, number>();
  let duplicateKeysRight = 0;
  keyStrings(rk).forEach((k, i) => {
    if (k === null) return;
    if (rightIndex.has(k)) duplicateKeysRight++;
    else rightIndex.set(k, i);
  });
  const lRows: number[] = [];
  const rRows: number[] = [];
  const seenRight = new Set<number>();
  keyStrings(lk).forEach((k, i) => {
    const j = k === null ? undefined : rightIndex.get(k);
    if (j === undefined) return;
    lRows.push(i);
    rRows.push(j);
    seenRight.add(j);
  });
  const li = Uint32Array.from(lRows);
  const ri = Uint32Array.from(rRows);
  const rightByName = new Map(right.columns.map((c) => [c.name, c]));
  const features: SkewFeatureResult[] = [];
  for (const lc of left.columns) {
    if (lc.name === key) continue;
    const rc = rightByName.get(lc.name);
    if (!rc) continue;
    if (rc.kind !== lc.kind) {
      throw new InvalidInputError(
        `column "${lc.name}" is ${lc.kind === 'numeric' ? 'numeric' : 'text'} on the left but ${rc.kind === 'numeric' ? 'numeric' : 'text'} on the right`,
      );
    }
    let mismatches = 0;
    for (let q = 0; q < li.length; q++) {
      const a = li[q] as number;
      const b = ri[q] as number;
      if (lc.kind === 'numeric' && rc.kind === 'numeric') {
        const x = lc.values[a] as number;
        const y = rc.values[b] as number;
        const xn = Number.isNaN(x);
        const yn = Number.isNaN(y);
        if (xn !== yn || (!xn && round6(x) !== round6(y))) mismatches++;
      } else if (lc.kind === 'categorical' && rc.kind === 'categorical') {
        const x = lc.codes[a] as number;
        const y = rc.codes[b] as number;
        const xs = x < 0 ? null : lc.dictionary[x];
        const ys = y < 0 ? null : rc.dictionary[y];
        if (xs !== ys) mismatches++;
      }
    }
    const comparison = compareColumns(take(lc, li), take(rc, ri));
    features.push({
      name: lc.name,
      kind: lc.kind,
      compared: li.length,
      mismatches,
      mismatchRate: li.length > 0 ? mismatches / li.length : 0,
      distance: lc.kind === 'numeric' ? comparison.stats.wassersteinNorm : comparison.stats.jsDistance,
      comparison,
    });
  }
  features.sort((a, b) => b.mismatchRate - a.mismatchRate || a.name.localeCompare(b.name));
  return {
    key,
    rowsLeft: left.rows,
    rowsRight: right.rows,
    joined: li.length,
    onlyLeft: left.rows - li.length,
    onlyRight: right.rows - duplicateKeysRight - seenRight.size,
    duplicateKeysRight,
    features,
  };
}
