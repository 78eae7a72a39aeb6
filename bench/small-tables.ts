/**
 * The small tables of issue 15 for bench/model.ts --small (training time against XGBoost): a random sample of the
 * real Hillstrom file and three generated tables shaped like the ones the issue saw (bank telemarketing, e-commerce
 * sessions, a 5K x 10 table), seeded, with labels from a known logit so both engines can reach a real test AUC.
 */
import { existsSync } from 'node:fs';
import { Rng } from '../src/core/index.js';
import { buildTabularDataset, type FeatureKind, type ModelMatrix, readTable, selectRows } from '../src/model/index.js';
import { rangeIndex } from '../src/model/model-matrix.js';

/** A generated table's column: its name, kind and a draw of one value (categorical: an integer code). */
interface ColumnSpec {
  readonly name: string;
  readonly kind: FeatureKind;
  readonly draw: (rng: Rng) => number;
}

export interface SmallTable {
  readonly title: string;
  readonly train: ModelMatrix;
  readonly test: ModelMatrix;
  readonly yTrain: Uint8Array;
  readonly yTest: Uint8Array;
  readonly kinds: FeatureKind[];
}

/** Zipf-like draw of one of `levels` codes (code 0 the most frequent). */
const zipf =
  (levels: number, s = 1) =>
  (rng: Rng): number => {
    let total = 0;
    for (let k = 1; k <= levels; k++) total += 1 / k ** s;
    let u = rng.next() * total;
    for (let k = 1; k <= levels; k++) {
      u -= 1 / k ** s;
      if (u <= 0) return k - 1;
    }
    return levels - 1;
  };
const withMissing =
  (share: number, draw: (rng: Rng) => number) =>
  (rng: Rng): number =>
    rng.next() < share ? Number.NaN : draw(rng);

/**
 * `rows` rows of the columns (column-major), labels drawn from sigmoid(logit(row)) where `row(name)` reads a value
 * of the same row; split into the first `trainRows` and the rest.
 */
function generatedTable(
  title: string,
  columns: readonly ColumnSpec[],
  logit: (row: (name: string) => number, rng: Rng) => number,
  trainRows: number,
  testRows: number,
  seed: number,
): SmallTable {
  const n = trainRows + testRows;
  const nf = columns.length;
  const rng = new Rng(seed);
  const values = new Float32Array(n * nf);
  const index = new Map(columns.map((c, i) => [c.name, i]));
  const y = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < nf; c++) values[c * n + r] = (columns[c] as ColumnSpec).draw(rng);
    const row = (name: string): number => {
      const v = values[(index.get(name) as number) * n + r] as number;
      return Number.isNaN(v) ? 0 : v;
    };
    y[r] = rng.next() < 1 / (1 + Math.exp(-logit(row, rng))) ? 1 : 0;
  }
  const m: ModelMatrix = { rows: n, columns: columns.map((c) => c.name), values };
  return {
    title,
    train: selectRows(m, rangeIndex(0, trainRows)),
    test: selectRows(m, rangeIndex(trainRows, n)),
    yTrain: y.slice(0, trainRows),
    yTest: y.slice(trainRows),
    kinds: columns.map((c) => c.kind),
  };
}

/** Like the UCI bank-marketing table: 10 numeric columns (several with few distinct values), 10 categorical. */
export function bankLike(trainRows: number, testRows: number): SmallTable {
  const num = (name: string, draw: (rng: Rng) => number): ColumnSpec => ({ name, kind: 'numeric', draw });
  const cat = (name: string, levels: number, s = 1): ColumnSpec => ({
    name,
    kind: 'categorical',
    draw: zipf(levels, s),
  });
  const rates = [1.4, -1.8, 1.1, -0.1, -2.9, -3.4, -1.7, -1.1, -3, 0.2];
  const columns: ColumnSpec[] = [
    num('age', (r) => Math.round(Math.min(95, Math.max(17, 40 + 10 * r.normal())))),
    num('duration', (r) => Math.round(-250 * Math.log(1 - r.next()))),
    num('campaign', (r) => 1 + Math.floor(-Math.log(1 - r.next()) * 1.8)),
    num('pdays', (r) => (r.next() < 0.96 ? 999 : r.int(28))),
    num('previous', (r) => (r.next() < 0.86 ? 0 : 1 + r.int(6))),
    num('emp_var_rate', (r) => rates[r.int(rates.length)] as number),
    num('cons_price_idx', (r) => Math.fround(92.2 + 0.1 * r.int(26))),
    num('cons_conf_idx', (r) => Math.fround(-50.8 + 0.9 * r.int(26))),
    num('euribor3m', (r) => Math.fround(0.634 + 0.0145 * r.int(316))),
    num('nr_employed', (r) => Math.fround(4963.6 + 22 * r.int(11))),
    cat('job', 12),
    cat('marital', 4, 1.5),
    cat('education', 8),
    cat('default', 3, 2.5),
    cat('housing', 3, 0.5),
    cat('loan', 3, 2),
    cat('contact', 2, 1),
    cat('month', 10, 0.8),
    cat('day_of_week', 5, 0.2),
    cat('poutcome', 3, 2.5),
  ];
  const monthEffect = [-0.6, 0.2, 0.5, -0.3, 1.1, 0.9, -0.2, 1.4, 0.3, -0.5];
  return generatedTable(
    `bank-telemarketing-like (synthetic; 10 numeric + 10 categorical of 2-12 levels)`,
    columns,
    (x) =>
      -3.2 +
      0.9 * Math.log1p(x('duration') / 100) +
      (x('poutcome') === 2 ? 1.8 : 0) -
      0.9 * (x('euribor3m') - 2.9) +
      (monthEffect[x('month')] as number) +
      (x('contact') === 1 ? -0.6 : 0) +
      (x('job') === 3 || x('job') === 7 ? 0.5 : 0) -
      0.08 * x('campaign') +
      (x('age') > 60 ? 0.7 : 0),
    trainRows,
    testRows,
    11,
  );
}

/** Like an e-commerce sessions table: 45 numeric (zero-inflated counts, durations, ratios; some missing), 40 categorical. */
export function sessionsLike(trainRows: number, testRows: number): SmallTable {
  const columns: ColumnSpec[] = [];
  for (let i = 0; i < 15; i++)
    columns.push({
      name: `count_${i}`,
      kind: 'numeric',
      draw: (r) => (r.next() < 0.55 ? 0 : 1 + Math.floor(-Math.log(1 - r.next()) * (2 + i))),
    });
  for (let i = 0; i < 15; i++)
    columns.push({
      name: `duration_${i}`,
      kind: 'numeric',
      draw: withMissing(0.05, (r) => (r.next() < 0.4 ? 0 : Math.fround(Math.exp(3 + 1.5 * r.normal())))),
    });
  for (let i = 0; i < 15; i++)
    columns.push({ name: `ratio_${i}`, kind: 'numeric', draw: (r) => (r.next() < 0.3 ? 0 : Math.fround(r.next())) });
  for (let i = 0; i < 40; i++) {
    const levels = 3 + ((i * 7) % 28);
    columns.push({
      name: `cat_${i}`,
      kind: 'categorical',
      draw: i % 5 === 4 ? withMissing(0.1, zipf(levels)) : zipf(levels),
    });
  }
  return generatedTable(
    'sessions-like (synthetic; 45 numeric, 40 categorical of 3-30 levels)',
    columns,
    (x) =>
      -2.4 +
      0.25 * Math.min(x('count_0'), 8) +
      (0.4 * Math.log1p(x('duration_1'))) / 3 +
      1.2 * x('ratio_2') +
      (x('cat_0') === 1 ? 0.8 : 0) +
      (x('cat_3') % 3 === 0 ? -0.5 : 0.3) +
      (x('cat_7') === 2 || x('cat_7') === 5 ? 0.9 : 0) +
      (x('count_3') > 2 && x('cat_11') === 0 ? 0.6 : 0),
    trainRows,
    testRows,
    12,
  );
}

/** 7 numeric and 3 categorical columns. */
export function tinyTable(trainRows: number, testRows: number): SmallTable {
  const columns: ColumnSpec[] = [
    ...Array.from({ length: 7 }, (_, i): ColumnSpec => ({ name: `x${i}`, kind: 'numeric', draw: (r) => r.normal() })),
    { name: 'c0', kind: 'categorical', draw: zipf(4) },
    { name: 'c1', kind: 'categorical', draw: zipf(6) },
    { name: 'c2', kind: 'categorical', draw: zipf(8) },
  ];
  return generatedTable(
    'small (synthetic; 7 numeric, 3 categorical of 4-8 levels)',
    columns,
    (x) =>
      -0.5 + 0.8 * x('x0') - 0.6 * x('x1') + (x('x2') * x('x3') > 0 ? 0.6 : -0.6) + (x('c1') % 2 === 0 ? 0.7 : -0.4),
    trainRows,
    testRows,
    13,
  );
}

/** Hillstrom: `trainRows + testRows` rows drawn at random (seeded) from the file, label visit. */
export async function hillstromSample(file: string, trainRows: number, testRows: number): Promise<SmallTable | null> {
  if (!existsSync(file)) return null;
  const ds = buildTabularDataset(await readTable(file), { label: 'visit', exclude: ['conversion', 'spend'] });
  const rng = new Rng(21);
  const perm = Uint32Array.from({ length: ds.matrix.rows }, (_, i) => i);
  for (let i = perm.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j] as number, perm[i] as number];
  }
  const train = perm.subarray(0, trainRows);
  const test = perm.subarray(trainRows, trainRows + testRows);
  return {
    title: 'Hillstrom sample (real; label visit; 5 numeric, 4 categorical)',
    train: selectRows(ds.matrix, train),
    test: selectRows(ds.matrix, test),
    yTrain: Uint8Array.from(train, (r) => ds.labels[r] as number),
    yTest: Uint8Array.from(test, (r) => ds.labels[r] as number),
    kinds: ds.columns.map((c) => c.kind),
  };
}
