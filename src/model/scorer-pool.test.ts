import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../cli/test-io.js';
import { InvalidInputError, Rng } from '../core/index.js';
import { binColumnMajor } from './binning.js';
import { trainGbdt } from './gbdt-trainer.js';
import type { FeatureKind, ModelMatrix } from './model-matrix.js';
import { SCORER_POOL_MIN_ROWS, ScorerPool, ScorerPoolError } from './scorer-pool.js';
import { compileModel } from './scoring/compiled-model.js';
import { CompiledScorer } from './scoring/compiled-scorer.js';
import { trainModel } from './train-pipeline.js';
import { type Tree, TreeBuilder, type TreeEnsemble } from './tree-ensemble.js';

/** Numeric columns with missing values, a categorical column (codes 0..11), a column of small integer codes. */
function data(n: number, seed: number): { m: ModelMatrix; y: Uint8Array; kinds: FeatureKind[] } {
  const rng = new Rng(seed);
  const values = new Float32Array(n * 4);
  const y = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const a = rng.normal();
    const c = rng.int(12);
    values[r] = rng.next() < 0.1 ? Number.NaN : a;
    values[n + r] = rng.normal();
    values[2 * n + r] = c;
    values[3 * n + r] = rng.next() < 0.3 ? Number.NaN : rng.int(5);
    const z = a - 0.5 * (values[n + r] as number) + (c % 3 === 0 ? 1 : -0.5);
    y[r] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return {
    m: { rows: n, columns: ['a', 'b', 'c', 'd'], values },
    y,
    kinds: ['numeric', 'numeric', 'categorical', 'numeric'],
  };
}

/** Rows whose Float64 bit patterns differ (NaN payloads and the sign of zero included). */
function bitDiffs(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  const x = new BigUint64Array(Float64Array.from(a).buffer);
  const y = new BigUint64Array(Float64Array.from(b).buffer);
  let d = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) d++;
  return d;
}

/** The same matrix in a SharedArrayBuffer, `pad` values in (a view with a byte offset). */
function sharedCopy<T extends Float32Array | Uint8Array>(a: T, pad: number): T {
  const Ctor = a.constructor as new (buf: SharedArrayBuffer, offset: number, length: number) => T;
  const out = new Ctor(
    new SharedArrayBuffer((a.length + pad) * a.BYTES_PER_ELEMENT),
    pad * a.BYTES_PER_ELEMENT,
    a.length,
  );
  out.set(a as never);
  return out;
}

/** A categorical split with a code >= 30 (the scorer's fallback kernel) between numeric splits. */
function wideCategoryTree(): Tree {
  const b = new TreeBuilder();
  for (let i = 0; i < 5; i++) b.addLeaf(0, 1);
  b.setNumericSplit(0, 0, 0, 0, true, 1);
  b.setChildren(0, 1, 2);
  b.setCategoricalSplit(1, 2, [3, 40], false, true, 1);
  b.setChildren(1, 3, 4);
  b.value[2] = 0.125;
  b.value[3] = -0.0625;
  b.value[4] = 0.03125;
  return b.finish();
}

describe('ScorerPool', () => {
  const train = data(4000, 1);
  const fresh = data(3001, 2);
  const model = trainGbdt(train.m, train.y, { trees: 30, maxDepth: 5 }, { featureKinds: train.kinds });
  const scorer = new CompiledScorer(model.ensemble, { bins: model.bins });
  const binned = binColumnMajor(model.bins, fresh.m);
  let pool: ScorerPool;

  beforeAll(async () => {
    // three workers on 3001 rows: ranges of 1000, 1000 and 1001 rows; minRows 0 sends every batch to them
    pool = new ScorerPool(model.ensemble, { threads: 3, minRows: 0, bins: model.bins });
    await pool.ready();
  });
  afterAll(async () => {
    await pool.close();
  });

  it('gives margins and probabilities bit-identical to CompiledScorer on the calling thread (categorical model)', async () => {
    expect(scorer.usesWebAssembly).toBe(true);
    expect(bitDiffs(await pool.predictMargin(fresh.m), scorer.predictMargin(fresh.m))).toBe(0);
    expect(bitDiffs(await pool.predict(fresh.m), scorer.predict(fresh.m))).toBe(0);
    expect(bitDiffs(await pool.predictRaw(fresh.m), scorer.predict(fresh.m))).toBe(0);
  });

  it('gives pre-binned margins bit-identical to CompiledScorer', async () => {
    const want = scorer.predictBinnedMargin(binned, fresh.m.rows);
    expect(bitDiffs(await pool.predictBinnedMargin(binned, fresh.m.rows), want)).toBe(0);
    const shared = sharedCopy(binned, 3);
    expect(bitDiffs(await pool.predictBinnedMargin(shared, fresh.m.rows), want)).toBe(0);
  });

  it('reads shared input in place and writes into the given output, shared or not', async () => {
    const want = scorer.predictMargin(fresh.m);
    const values = sharedCopy(fresh.m.values, 5);
    const sharedOut = new Float64Array(new SharedArrayBuffer(8 * (fresh.m.rows + 2)), 16, fresh.m.rows);
    const got = await pool.predictMargin({ rows: fresh.m.rows, values }, sharedOut);
    expect(got).toBe(sharedOut);
    expect(bitDiffs(got, want)).toBe(0);
    const plainOut = new Float64Array(fresh.m.rows);
    expect(await pool.predictMargin(fresh.m, plainOut)).toBe(plainOut);
    expect(bitDiffs(plainOut, want)).toBe(0);
  });

  it('handles fewer rows than workers, no rows, and batches that overlap in time', async () => {
    const two = data(2, 5).m;
    expect(bitDiffs(await pool.predictMargin(two), scorer.predictMargin(two))).toBe(0);
    expect((await pool.predictMargin({ rows: 0, values: new Float32Array(0) })).length).toBe(0);
    const other = data(2500, 6).m;
    const [a, b] = await Promise.all([pool.predictMargin(fresh.m), pool.predictMargin(other)]);
    expect(bitDiffs(a, scorer.predictMargin(fresh.m))).toBe(0);
    expect(bitDiffs(b, scorer.predictMargin(other))).toBe(0);
  });

  it('hands out more chunks than workers (20,001 rows: five chunks for three workers), plain and shared', async () => {
    const big = data(20_001, 7).m;
    const want = scorer.predictMargin(big);
    expect(bitDiffs(await pool.predictMargin(big), want)).toBe(0);
    expect(bitDiffs(await pool.predictMargin({ rows: big.rows, values: sharedCopy(big.values, 1) }), want)).toBe(0);
    const bigBins = binColumnMajor(model.bins, big);
    expect(
      bitDiffs(await pool.predictBinnedMargin(bigBins, big.rows), scorer.predictBinnedMargin(bigBins, big.rows)),
    ).toBe(0);
  });

  it('scores small batches on the calling thread with the same results', async () => {
    const local = new ScorerPool(model.ensemble, { threads: 1, bins: model.bins });
    try {
      expect(local.minRows).toBeGreaterThan(fresh.m.rows);
      // a worker that would die on its next job is never asked: the batch stays on this thread
      local.crashWorkerOnNextJob(0);
      expect(bitDiffs(await local.predictMargin(fresh.m), scorer.predictMargin(fresh.m))).toBe(0);
      expect(
        bitDiffs(
          await local.predictBinnedMargin(binned, fresh.m.rows),
          scorer.predictBinnedMargin(binned, fresh.m.rows),
        ),
      ).toBe(0);
    } finally {
      await local.close();
    }
  });

  it('matches models the WebAssembly kernel does not take, and the JavaScript kernels', async () => {
    const e: TreeEnsemble = {
      numFeatures: 4,
      baseMargin: -0.25,
      trees: [...model.ensemble.trees.slice(0, 5), wideCategoryTree(), ...model.ensemble.trees.slice(5, 10)],
    };
    const ref = new CompiledScorer(e);
    expect(ref.usesWebAssembly).toBe(false);
    const deep = trainGbdt(train.m, train.y, {
      trees: 8,
      growth: 'leafwise',
      maxLeaves: 64,
      maxDepth: 0,
      minChildWeight: 0.1,
    });
    const pools = [
      new ScorerPool(e, { threads: 2, minRows: 0 }),
      new ScorerPool(model.ensemble, { threads: 2, minRows: 0, bins: model.bins, webAssembly: false }),
      // trees past depth 10 keep the pointer layout
      new ScorerPool(deep.ensemble, { threads: 2, minRows: 0 }),
    ];
    try {
      expect(bitDiffs(await (pools[0] as ScorerPool).predictMargin(fresh.m), ref.predictMargin(fresh.m))).toBe(0);
      const js = pools[1] as ScorerPool;
      expect(bitDiffs(await js.predictMargin(fresh.m), scorer.predictMargin(fresh.m))).toBe(0);
      expect(
        bitDiffs(await js.predictBinnedMargin(binned, fresh.m.rows), scorer.predictBinnedMargin(binned, fresh.m.rows)),
      ).toBe(0);
      const deepRef = new CompiledScorer(deep.ensemble);
      expect(bitDiffs(await (pools[2] as ScorerPool).predict(fresh.m), deepRef.predict(fresh.m))).toBe(0);
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
  });

  it('applies an artifact calibration exactly as CompiledModel.predict', async () => {
    for (const calibration of ['isotonic', 'platt'] as const) {
      const { artifact } = trainModel(
        train.m,
        train.y,
        [
          { name: 'a', kind: 'numeric' },
          { name: 'b', kind: 'numeric' },
          { name: 'c', kind: 'categorical' },
          { name: 'd', kind: 'numeric' },
        ],
        { gbdt: { trees: 20, maxDepth: 4 }, calibration },
      );
      expect(artifact.header.calibration.method).toBe(calibration);
      const compiled = compileModel(artifact);
      const p = ScorerPool.fromArtifact(artifact, { threads: 2, minRows: 0 });
      try {
        expect(bitDiffs(await p.predict(fresh.m), compiled.predict(fresh.m))).toBe(0);
        expect(bitDiffs(await p.predictRaw(fresh.m), compiled.predictRaw(fresh.m))).toBe(0);
        expect(bitDiffs(await p.predictMargin(fresh.m), compiled.predictMargin(fresh.m))).toBe(0);
      } finally {
        await p.close();
      }
    }
  });

  it('rejects bad input with InvalidInputError and leaves the pool usable', async () => {
    await expect(pool.predictMargin({ rows: 10, values: new Float32Array(39) })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(pool.predictMargin(fresh.m, new Float64Array(10))).rejects.toBeInstanceOf(InvalidInputError);
    await expect(pool.predictBinnedMargin(binned, fresh.m.rows + 1)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(pool.predictMargin({ rows: -1, values: new Float32Array(0) })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    const noBins = new ScorerPool(model.ensemble, { threads: 1, minRows: 0 });
    await expect(noBins.predictBinnedMargin(binned, fresh.m.rows)).rejects.toBeInstanceOf(InvalidInputError);
    await noBins.close();
    expect(() => new ScorerPool(model.ensemble, { threads: 0 })).toThrow(InvalidInputError);
    expect(() => new ScorerPool(model.ensemble, { chunksPerThread: 0.5 })).toThrow(InvalidInputError);
    expect(bitDiffs(await pool.predictMargin(fresh.m), scorer.predictMargin(fresh.m))).toBe(0);
  });

  it('rejects with ScorerPoolError when a worker dies, and after close()', async () => {
    const p = new ScorerPool(model.ensemble, { threads: 2, minRows: 0 });
    await p.ready();
    p.crashWorkerOnNextJob(1);
    const err = await p.predictMargin(fresh.m).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerPoolError);
    expect((err as ScorerPoolError).code).toBe('SCORER_POOL_FAILED');
    expect((err as Error).message).toMatch(/worker 1 died/);
    // a failed pool refuses further batches, small or large
    await expect(p.predictMargin(fresh.m)).rejects.toBeInstanceOf(ScorerPoolError);
    await p.close();
    await p.close();
    await expect(p.predictMargin(fresh.m)).rejects.toBeInstanceOf(ScorerPoolError);

    const q = new ScorerPool(model.ensemble, { threads: 2, minRows: 0 });
    const inFlight = q.predictMargin(fresh.m);
    const queued = q.predictMargin(fresh.m);
    await q.close();
    await expect(inFlight).rejects.toBeInstanceOf(ScorerPoolError);
    await expect(queued).rejects.toBeInstanceOf(ScorerPoolError);
  });
});

describe('adnova model score --threads', () => {
  it('writes the same file on a pool of workers as on the main thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adnova-scorer-pool-'));
    try {
      const rows = SCORER_POOL_MIN_ROWS + 1001;
      const { m, y } = data(rows, 9);
      const lines = ['a,b,c,d,label'];
      const cell = (v: number): string => (Number.isNaN(v) ? '' : String(v));
      for (let r = 0; r < rows; r++) {
        const v = (f: number): number => m.values[f * rows + r] as number;
        lines.push(`${cell(v(0))},${cell(v(1))},ch${v(2)},${cell(v(3))},${y[r]}`);
      }
      const file = join(dir, 'data.csv');
      writeFileSync(file, `${lines.join('\n')}\n`);
      const model = join(dir, 'm');
      const t = await runCliCaptured([
        'model',
        'train',
        '--data',
        file,
        '--label',
        'label',
        '--out',
        model,
        '--trees',
        '20',
        '--max-depth',
        '4',
      ]);
      expect(t.code).toBe(0);
      const outs: string[] = [];
      for (const threads of ['1', '2']) {
        const out = join(dir, `scored-${threads}.csv`);
        const s = await runCliCaptured([
          'model',
          'score',
          '--model',
          model,
          '--data',
          file,
          '--out',
          out,
          '--threads',
          threads,
        ]);
        expect(s.err).toBe('');
        expect(s.code).toBe(0);
        outs.push(readFileSync(out, 'utf8'));
      }
      expect(outs[0]?.split('\n').length).toBe(rows + 2);
      expect(outs[1]).toBe(outs[0]);
      const bad = await runCliCaptured([
        'model',
        'score',
        '--model',
        model,
        '--data',
        file,
        '--out',
        join(dir, 'x.csv'),
        '--threads',
        '0',
      ]);
      expect(bad.code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
