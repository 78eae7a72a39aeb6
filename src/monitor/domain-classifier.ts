/**
 * Multivariate drift with a domain classifier: our GBDT (src/model) learns to tell reference rows from current
 * rows; its ROC AUC on held-out rows measures how separable the windows are (0.5 = indistinguishable), and its
 * split gain says which features it used. Catches joint changes that no single-feature test sees.
 */
import { InvalidInputError, Rng } from '../core/index.js';
import { compileEnsemble, type FeatureKind, rocAuc, trainGbdt } from '../model/index.js';
import type { ColumnTable } from './column-table.js';

export interface DomainClassifierOptions {
  /** Rows sampled per side (seeded). */
  readonly maxRowsPerSide: number;
  /** Drift when the held-out AUC exceeds this. */
  readonly aucThreshold: number;
  readonly trees: number;
  readonly maxDepth: number;
  readonly seed: number;
}

export function defaultDomainClassifierOptions(): DomainClassifierOptions {
  return { maxRowsPerSide: 20_000, aucThreshold: 0.55, trees: 60, maxDepth: 4, seed: 1 };
}

export interface DomainClassifierResult {
  readonly auc: number;
  readonly threshold: number;
  readonly drifted: boolean;
  readonly trainRows: number;
  readonly testRows: number;
  /** Features by share of total split gain, largest first (only those used). */
  readonly features: readonly { readonly name: string; readonly gainShare: number; readonly splits: number }[];
}

function sampleRows(rows: number, max: number, rng: Rng): Uint32Array {
  const idx = Uint32Array.from({ length: rows }, (_, i) => i);
  const k = Math.min(rows, max);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(rows - i);
    const t = idx[i] as number;
    idx[i] = idx[j] as number;
    idx[j] = t;
  }
  return idx.subarray(0, k).slice().sort();
}

export function domainClassifierDrift(
  reference: ColumnTable,
  current: ColumnTable,
  options: Partial<DomainClassifierOptions> = {},
): DomainClassifierResult {
  const o = { ...defaultDomainClassifierOptions(), ...options };
  const curByName = new Map(current.columns.map((c) => [c.name, c]));
  const cols = reference.columns.filter((c) => curByName.get(c.name)?.kind === c.kind);
  if (cols.length === 0)
    throw new InvalidInputError('domain classifier: the two tables share no column of the same kind');
  const rng = new Rng(o.seed);
  const refRows = sampleRows(reference.rows, o.maxRowsPerSide, rng);
  const curRows = sampleRows(current.rows, o.maxRowsPerSide, rng);
  const n = refRows.length + curRows.length;
  const values = new Float32Array(n * cols.length);
  const kinds: FeatureKind[] = [];
  cols.forEach((rc, f) => {
    const cc = curByName.get(rc.name) as (typeof cols)[number];
    const base = f * n;
    if (rc.kind === 'numeric' && cc.kind === 'numeric') {
      kinds.push('numeric');
      refRows.forEach((r, i) => {
        values[base + i] = rc.values[r] as number;
      });
      curRows.forEach((r, i) => {
        values[base + refRows.length + i] = cc.values[r] as number;
      });
    } else if (rc.kind === 'categorical' && cc.kind === 'categorical') {
      // One code space for both sides: the union of the two dictionaries.
      kinds.push('categorical');
      const union = new Map<string, number>();
      const code = (k: string): number => {
        let c = union.get(k);
        if (c === undefined) union.set(k, (c = union.size));
        return c;
      };
      const refMap = rc.dictionary.map(code);
      const curMap = cc.dictionary.map(code);
      refRows.forEach((r, i) => {
        const v = rc.codes[r] as number;
        values[base + i] = v < 0 ? Number.NaN : (refMap[v] as number);
      });
      curRows.forEach((r, i) => {
        const v = cc.codes[r] as number;
        values[base + refRows.length + i] = v < 0 ? Number.NaN : (curMap[v] as number);
      });
    }
  });
  const labels = new Float64Array(n);
  labels.fill(1, refRows.length);
  // Hold out every other row (after a seeded shuffle of which half) for the AUC.
  const isTest = Uint8Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
  const pick = (test: number): Uint32Array => Uint32Array.from([...isTest.keys()].filter((i) => isTest[i] === test));
  const trainIdx = pick(0);
  const testIdx = pick(1);
  const select = (idx: Uint32Array): Float32Array => {
    const out = new Float32Array(idx.length * cols.length);
    for (let f = 0; f < cols.length; f++) {
      for (let i = 0; i < idx.length; i++) out[f * idx.length + i] = values[f * n + (idx[i] as number)] as number;
    }
    return out;
  };
  const columns = cols.map((c) => c.name);
  const model = trainGbdt(
    { rows: trainIdx.length, columns, values: select(trainIdx) },
    Float64Array.from(trainIdx, (i) => labels[i] as number),
    { trees: o.trees, maxDepth: o.maxDepth, seed: o.seed },
    { featureKinds: kinds },
  );
  const scores = compileEnsemble(model.ensemble).predict({ rows: testIdx.length, values: select(testIdx) });
  const auc = rocAuc(
    Float64Array.from(testIdx, (i) => labels[i] as number),
    scores,
  );
  let totalGain = 0;
  for (const g of model.importance.gain) totalGain += g;
  const features = columns
    .map((name, f) => ({
      name,
      gainShare: totalGain > 0 ? (model.importance.gain[f] as number) / totalGain : 0,
      splits: model.importance.split[f] as number,
    }))
    .filter((x) => x.splits > 0)
    .sort((a, b) => b.gainShare - a.gainShare);
  return {
    auc,
    threshold: o.aucThreshold,
    drifted: auc > o.aucThreshold,
    trainRows: trainIdx.length,
    testRows: testIdx.length,
    features,
  };
}
