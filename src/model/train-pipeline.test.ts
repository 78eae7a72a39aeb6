import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError, Rng } from '../core/index.js';
import { loadArtifact, saveArtifact } from './artifact.js';
import { trainModel } from './train-pipeline.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'adnova-pipeline-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Label depends on `a`; from row `flipFrom` on (a regime change) the dependence reverses. */
function regimeTable(n: number, flipFrom = n, seed = 1) {
  const rng = new Rng(seed);
  const values = new Float32Array(n * 2);
  const labels = new Uint8Array(n);
  const time = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const a = rng.normal();
    values[r] = a;
    values[n + r] = rng.normal();
    const z = (r < flipFrom ? 1.5 : -1.5) * a - 0.5;
    labels[r] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    time[r] = Date.UTC(2024, 0, 1) + r * 60_000;
  }
  const columns = [
    { name: 'a', kind: 'numeric' as const },
    { name: 'b', kind: 'numeric' as const },
  ];
  return { matrix: { rows: n, columns: columns.map((c) => c.name), values }, labels, columns, time };
}

describe('trainModel splits', () => {
  it('reports each part with its 1-based row range, and its time range with a time column', () => {
    const d = regimeTable(1000);
    const r = trainModel(d.matrix, d.labels, d.columns, { gbdt: { trees: 5 }, testFraction: 0.3 });
    expect(r.split).toMatchObject({
      by: 'row-order',
      testFraction: 0.3,
      validationFraction: 0.2,
      refit: false,
      train: { count: 560, firstRow: 1, lastRow: 560 },
      validation: { count: 140, firstRow: 561, lastRow: 700 },
      test: { count: 300, firstRow: 701, lastRow: 1000 },
    });
    const t = trainModel(d.matrix, d.labels, d.columns, { gbdt: { trees: 5 }, testFraction: 0, time: d.time });
    expect(t.split.by).toBe('time');
    expect(t.split.train).toEqual({
      count: 800,
      from: '2024-01-01T00:00:00.000Z',
      to: new Date(d.time[799] as number).toISOString(),
    });
    expect(t.split.validation.from).toBe(new Date(d.time[800] as number).toISOString());
    expect(t.split.test).toEqual({ count: 0, from: null, to: null });
    expect(t.artifact.header.split).toEqual(t.split);
  });

  it('validation fraction 0: every non-test row trains, no calibration, and the warning says so', () => {
    const d = regimeTable(1000);
    const r = trainModel(d.matrix, d.labels, d.columns, { gbdt: { trees: 5 }, testFraction: 0.2, validFraction: 0 });
    expect(r.rows).toEqual({ train: 800, validation: 0, test: 200 });
    expect(r.artifact.header.calibration).toEqual({ method: 'none' });
    expect(r.warnings).toEqual(['no validation rows (validation fraction 0): no early stopping and no calibration']);
    expect(() =>
      trainModel(d.matrix, d.labels, d.columns, { gbdt: { trees: 5, earlyStoppingRounds: 3 }, validFraction: 0 }),
    ).toThrow(InvalidInputError);
    expect(() => trainModel(d.matrix, d.labels, d.columns, { validFraction: 0, refit: true })).toThrow(
      /refit needs validation rows/,
    );
  });

  it('refit trains on train + validation with the early-stopped number of trees', () => {
    const d = regimeTable(3000);
    const gbdt = { trees: 300, learningRate: 0.3, maxDepth: 3, earlyStoppingRounds: 5 };
    const first = trainModel(d.matrix, d.labels, d.columns, { gbdt, calibration: 'platt' });
    const best = first.artifact.trees.length;
    expect(best).toBeLessThan(300);
    const r = trainModel(d.matrix, d.labels, d.columns, { gbdt, calibration: 'platt', refit: true });
    expect(r.artifact.trees.length).toBe(best);
    expect(r.rows.train).toBe(first.rows.train + first.rows.validation);
    expect(r.artifact.header.training?.rows).toBe(2100);
    expect(r.split.refit).toBe(true);
    // the calibration map was fitted on scores of the model that had not seen the validation rows: the same map
    expect(r.artifact.header.calibration).toEqual(first.artifact.header.calibration);
    expect(r.artifact.trees).not.toEqual(first.artifact.trees);
  });
});

describe('trainModel calibration guard', () => {
  it('a regime change that reverses the ranking on validation: Platt is dropped with a warning kept in the artifact', () => {
    // the relation reverses from the validation rows on (rows 560..): Platt would need a negative slope
    const d = regimeTable(2000, 1120);
    const r = trainModel(d.matrix, d.labels, d.columns, { gbdt: { trees: 20, maxDepth: 3 }, calibration: 'platt' });
    const h = r.artifact.header;
    expect(h.calibration).toEqual({ method: 'none' });
    expect(h.calibrationSelection).toMatchObject({ requested: 'platt', fitted: 'platt', kept: 'none' });
    expect(r.warnings.some((w) => /ranks its 280 validation rows backwards/.test(w))).toBe(true);
    expect(r.warnings.some((w) => /platt calibration came out with slope -.*kept none/.test(w))).toBe(true);
    saveArtifact(join(dir, 'm'), r.artifact);
    expect(loadArtifact(join(dir, 'm')).header.warnings).toEqual(r.warnings);
  });

  it('reports raw and calibrated test metrics and the number of distinct calibrated scores', () => {
    const d = regimeTable(3000);
    const r = trainModel(d.matrix, d.labels, d.columns, { gbdt: { trees: 20, maxDepth: 3 }, calibration: 'isotonic' });
    const h = r.artifact.header;
    expect(h.calibration.method).toBe('isotonic');
    expect(r.testRaw?.rocAuc).toBeGreaterThan(0.7);
    expect(h.metrics.testRaw).toEqual(r.testRaw);
    // isotonic ties scores: the served score has fewer distinct values than rows and its AUC differs from raw
    const distinct = h.distinctCalibratedScores;
    expect(distinct?.test).toBeGreaterThan(1);
    expect(distinct?.test).toBeLessThan(r.rows.test);
    expect(distinct?.validation).toBeLessThan(r.rows.validation);
    expect(r.test?.rocAuc).not.toBe(r.testRaw?.rocAuc);
  });
});
