/**
 * Data quality of a current window against the reference: null share change, values outside the reference range,
 * categories never seen in the reference, and type changes. Each alarm needs the change to pass both an absolute
 * floor and the change's own no-drift noise level, so large samples without change stay quiet and small windows
 * do not fire on sampling noise:
 * - null share: increase > max(floor, 4 sd) with sd = sqrt(p (1 - p) (1/N1 + 1/N2)), p the pooled null share;
 * - out of range: share > max(floor, e + 4 sqrt(e / n)) with e = 2 / (n_ref + 1), the chance that a value of the
 *   same continuous distribution falls outside the reference's min..max;
 * - unseen categories: share > max(floor, g + 4 sqrt(max(g, 1/n_ref) / n)) with g the reference's singleton share
 *   (Good-Turing: the mass of categories a reference of that size misses without any drift).
 */
import type { ColumnKind, ColumnTable } from './column-table.js';
import { compareProfiles, type FeatureComparison, type QualityMeasures } from './feature-comparison.js';
import type { DatasetProfile, FeatureProfile } from './profile.js';
import { nullShare, profileColumn } from './profile.js';

export interface DataQualityOptions {
  /** Floor of the null-share increase that raises an alarm (absolute). */
  readonly nullShareIncrease: number;
  /** Floor of the share of values outside the reference range. */
  readonly outOfRangeShare: number;
  /** Floor of the share of values in categories the reference never had. */
  readonly unseenCategoryShare: number;
  /** Standard deviations of no-drift noise a change must exceed. */
  readonly noiseSd: number;
}

export function defaultDataQualityOptions(): DataQualityOptions {
  return { nullShareIncrease: 0.05, outOfRangeShare: 0.01, unseenCategoryShare: 0.01, noiseSd: 4 };
}

export interface QualityVerdict {
  /** Readable alarms, e.g. `null share rose from 0.010 to 0.400`; empty when the feature is fine. */
  readonly issues: readonly string[];
  /** Largest measured/threshold ratio over the checks (> 1 for an alarm); ranks features with drift severities. */
  readonly severity: number;
}

const fmt = (x: number): string => String(Number(x.toPrecision(6)));
const pct = (share: number): string => `${(share * 100).toFixed(1)}% of values`;

const ratio = (x: number, threshold: number): number => (threshold > 0 ? x / threshold : x > 0 ? Infinity : 0);

/** The quality alarms of one feature comparison. */
export function qualityVerdict(c: FeatureComparison, options: Partial<DataQualityOptions> = {}): QualityVerdict {
  const o = { ...defaultDataQualityOptions(), ...options };
  const issues: string[] = [];
  let severity = 0;
  const total1 = c.countReference + c.reference.nulls;
  const total2 = c.countCurrent + c.current.nulls;
  if (total1 > 0 && total2 > 0) {
    const p = (c.reference.nulls + c.current.nulls) / (total1 + total2);
    const threshold = Math.max(o.nullShareIncrease, o.noiseSd * Math.sqrt(p * (1 - p) * (1 / total1 + 1 / total2)));
    const increase = c.nullShareCurrent - c.nullShareReference;
    severity = Math.max(severity, ratio(increase, threshold));
    if (increase > threshold)
      issues.push(`null share rose from ${c.nullShareReference.toFixed(3)} to ${c.nullShareCurrent.toFixed(3)}`);
  }
  const q = c.quality;
  if (q.outOfRangeShare !== null && q.referenceRange !== null && c.countCurrent > 0) {
    const e = 2 / (c.countReference + 1);
    const threshold = Math.max(o.outOfRangeShare, e + o.noiseSd * Math.sqrt(e / c.countCurrent));
    severity = Math.max(severity, ratio(q.outOfRangeShare, threshold));
    if (q.outOfRangeShare > threshold)
      issues.push(
        `${pct(q.outOfRangeShare)} outside the reference range [${fmt(q.referenceRange.min)}, ${fmt(q.referenceRange.max)}]`,
      );
  }
  if (q.unseenCategoryShare !== null && c.countCurrent > 0) {
    const g = q.referenceSingletonShare ?? 0;
    const threshold = Math.max(
      o.unseenCategoryShare,
      g + o.noiseSd * Math.sqrt(Math.max(g, 1 / Math.max(1, c.countReference)) / c.countCurrent),
    );
    severity = Math.max(severity, ratio(q.unseenCategoryShare, threshold));
    if (q.unseenCategoryShare > threshold)
      issues.push(
        `${pct(q.unseenCategoryShare)} in categories the reference never had (${q.unseenCategories.slice(0, 5).join(', ')})`,
      );
  }
  return { issues, severity };
}

export interface FeatureQuality extends QualityMeasures {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullShareReference: number;
  readonly nullShareCurrent: number;
  /** Set when the column's kind differs from the reference's. */
  readonly typeChange: { readonly reference: ColumnKind; readonly current: ColumnKind } | null;
  readonly issues: readonly string[];
}

/** Data quality of every column of `current` that the reference profile has. */
export function dataQuality(
  reference: DatasetProfile,
  current: ColumnTable,
  options: Partial<DataQualityOptions> = {},
): FeatureQuality[] {
  const refByName = new Map<string, FeatureProfile>(reference.features.map((f) => [f.name, f]));
  const out: FeatureQuality[] = [];
  for (const col of current.columns) {
    const ref = refByName.get(col.name);
    if (!ref) continue;
    if (ref.kind !== col.kind) {
      const n = col.kind === 'numeric' ? col.values.length : col.codes.length;
      let nulls = 0;
      if (col.kind === 'numeric') for (const v of col.values) nulls += Number.isNaN(v) ? 1 : 0;
      else for (const v of col.codes) nulls += v < 0 ? 1 : 0;
      out.push({
        name: col.name,
        kind: col.kind,
        nullShareReference: nullShare(ref),
        nullShareCurrent: n === 0 ? 0 : nulls / n,
        outOfRangeShare: null,
        referenceRange: null,
        unseenCategoryShare: null,
        unseenCategories: [],
        referenceSingletonShare: null,
        typeChange: { reference: ref.kind, current: col.kind },
        issues: [`type changed from ${ref.kind} to ${col.kind}`],
      });
      continue;
    }
    let c = compareProfiles(ref, profileColumn(col, ref));
    if (col.kind === 'numeric' && ref.kind === 'numeric' && ref.count > 0) {
      // the raw column is at hand: count exactly rather than from the sketch
      let nonNull = 0;
      let outside = 0;
      for (const v of col.values) {
        if (Number.isNaN(v)) continue;
        nonNull++;
        if (v < ref.min || v > ref.max) outside++;
      }
      c = {
        ...c,
        quality: {
          ...c.quality,
          outOfRangeShare: nonNull === 0 ? 0 : outside / nonNull,
          referenceRange: { min: ref.min, max: ref.max },
        },
      };
    }
    out.push({
      name: c.name,
      kind: c.kind,
      nullShareReference: c.nullShareReference,
      nullShareCurrent: c.nullShareCurrent,
      ...c.quality,
      typeChange: null,
      issues: qualityVerdict(c, options).issues,
    });
  }
  return out;
}
