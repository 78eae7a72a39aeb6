/**
 * Data quality of a current window against the reference: null share change, values outside the reference range,
 * categories never seen in the reference, and type changes.
 */
import type { Column, ColumnKind, ColumnTable } from './column-table.js';
import type { DatasetProfile, FeatureProfile } from './profile.js';
import { nullShare } from './profile.js';

export interface FeatureQuality {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullShareReference: number;
  readonly nullShareCurrent: number;
  /** Numeric: share of non-null current values below the reference min or above its max. */
  readonly outOfRangeShare: number | null;
  /** Categorical: share of non-null current values whose category the reference never had. */
  readonly unseenCategoryShare: number | null;
  readonly unseenCategories: readonly string[];
  /** Set when the column's kind differs from the reference's. */
  readonly typeChange: { readonly reference: ColumnKind; readonly current: ColumnKind } | null;
  readonly issues: readonly string[];
}

export interface DataQualityOptions {
  /** Flag a null-share increase above this (absolute). */
  readonly nullShareIncrease: number;
  readonly outOfRangeShare: number;
  readonly unseenCategoryShare: number;
}

export function defaultDataQualityOptions(): DataQualityOptions {
  return { nullShareIncrease: 0.05, outOfRangeShare: 0.01, unseenCategoryShare: 0.01 };
}

function colNullShare(c: Column): number {
  let nulls = 0;
  if (c.kind === 'numeric') for (const v of c.values) nulls += Number.isNaN(v) ? 1 : 0;
  else for (const v of c.codes) nulls += v < 0 ? 1 : 0;
  const n = c.kind === 'numeric' ? c.values.length : c.codes.length;
  return n === 0 ? 0 : nulls / n;
}

export function dataQuality(
  reference: DatasetProfile,
  current: ColumnTable,
  options: Partial<DataQualityOptions> = {},
): FeatureQuality[] {
  const o = { ...defaultDataQualityOptions(), ...options };
  const refByName = new Map<string, FeatureProfile>(reference.features.map((f) => [f.name, f]));
  const out: FeatureQuality[] = [];
  for (const c of current.columns) {
    const ref = refByName.get(c.name);
    if (!ref) continue;
    const issues: string[] = [];
    const nsRef = nullShare(ref);
    const nsCur = colNullShare(c);
    if (nsCur - nsRef > o.nullShareIncrease)
      issues.push(`null share rose from ${nsRef.toFixed(3)} to ${nsCur.toFixed(3)}`);
    let outOfRange: number | null = null;
    let unseenShare: number | null = null;
    let unseen: string[] = [];
    const typeChange = ref.kind !== c.kind ? { reference: ref.kind, current: c.kind } : null;
    if (typeChange) issues.push(`type changed from ${ref.kind} to ${c.kind}`);
    else if (c.kind === 'numeric' && ref.kind === 'numeric' && ref.count > 0) {
      let n = 0;
      let out = 0;
      for (const v of c.values) {
        if (Number.isNaN(v)) continue;
        n++;
        if (v < ref.min || v > ref.max) out++;
      }
      outOfRange = n > 0 ? out / n : 0;
      if (outOfRange > o.outOfRangeShare)
        issues.push(`${(outOfRange * 100).toFixed(1)}% of values outside the reference range [${ref.min}, ${ref.max}]`);
    } else if (c.kind === 'categorical' && ref.kind === 'categorical') {
      const known = new Set(ref.categories);
      const counts = new Float64Array(c.dictionary.length);
      let n = 0;
      for (const code of c.codes) {
        if (code < 0) continue;
        n++;
        counts[code] = (counts[code] as number) + 1;
      }
      let unseenCount = 0;
      // With an "other" bucket in the reference, a category missing from the kept list may still be known.
      if (ref.otherCount === 0) {
        c.dictionary.forEach((k, code) => {
          if ((counts[code] as number) > 0 && !known.has(k)) {
            unseen.push(k);
            unseenCount += counts[code] as number;
          }
        });
      }
      unseen = unseen.slice(0, 20);
      unseenShare = n > 0 ? unseenCount / n : 0;
      if (unseenShare > o.unseenCategoryShare)
        issues.push(`${(unseenShare * 100).toFixed(1)}% of values in categories the reference never had`);
    }
    out.push({
      name: c.name,
      kind: c.kind,
      nullShareReference: nsRef,
      nullShareCurrent: nsCur,
      outOfRangeShare: outOfRange,
      unseenCategoryShare: unseenShare,
      unseenCategories: unseen,
      typeChange,
      issues,
    });
  }
  return out;
}
