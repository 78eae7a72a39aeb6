import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError, NotFoundError, Rng } from '../core/index.js';
import { loadArtifact, saveArtifact } from './artifact.js';
import { ModelRegistry } from './model-registry.js';
import { compileModel } from './scoring/compiled-model.js';
import { trainModel } from './train-pipeline.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'adnova-model-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function dataset(n = 3000, seed = 1) {
  const rng = new Rng(seed);
  const values = new Float32Array(n * 3);
  const labels = new Uint8Array(n);
  const channel: string[] = [];
  for (let r = 0; r < n; r++) {
    const a = rng.normal();
    const c = rng.int(3);
    values[r] = a;
    values[n + r] = rng.next() < 0.2 ? Number.NaN : rng.normal();
    values[2 * n + r] = c;
    channel.push(['email', 'push', 'in-app'][c] as string);
    labels[r] = rng.next() < 1 / (1 + Math.exp(-(1.5 * a + (c === 1 ? 1 : -1)))) ? 1 : 0;
  }
  const columns = [
    { name: 'a', kind: 'numeric' as const },
    { name: 'b', kind: 'numeric' as const },
    { name: 'channel', kind: 'categorical' as const, vocabulary: ['email', 'push', 'in-app'] },
  ];
  return { matrix: { rows: n, columns: columns.map((c) => c.name), values }, labels, columns, channel };
}

describe('trainModel + artifact', () => {
  it('writes an artifact that reloads and scores identically, with metrics, importance and a reference profile', () => {
    const d = dataset();
    const result = trainModel(d.matrix, d.labels, d.columns, {
      gbdt: { trees: 30, maxDepth: 4 },
      calibration: 'isotonic',
      segments: { channel: d.channel },
    });
    const out = join(dir, 'm1');
    saveArtifact(out, result.artifact);
    const loaded = loadArtifact(out);
    const h = loaded.header;
    expect(h.format).toBe('adnova-model');
    expect(h.formatVersion).toBe(1);
    expect(h.columns.map((c) => c.name)).toEqual(['a', 'b', 'channel']);
    expect(h.trees?.count).toBe(30);
    expect(h.calibration.method).toBe('isotonic');
    expect(h.calibrationEffect?.after.logLoss).toBeLessThanOrEqual(
      (h.calibrationEffect?.before.logLoss as number) + 1e-9,
    );
    expect(h.metrics.test?.rocAuc).toBeGreaterThan(0.75);
    expect(Object.keys(h.metrics.bySegment?.['channel'] ?? {}).sort()).toEqual(['email', 'in-app', 'push']);
    expect(h.importance[0]?.feature).toBe('a');
    expect(h.training?.dataHash).toMatch(/^[0-9a-f]{64}$/);
    const profile = h.referenceProfile;
    expect(profile?.rows).toBe(result.rows.train);
    expect(profile?.features[1]?.nullShare).toBeGreaterThan(0.15);
    expect(profile?.features[2]?.categories?.map((c) => c.label).sort()).toEqual(['email', 'in-app', 'push']);
    const shareSum = (profile?.features[0]?.binShares ?? []).reduce((s, v) => s + v, 0);
    expect(shareSum).toBeCloseTo(1, 9);
    expect(profile?.score.shares.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 9);
    // identical scores before and after the round trip
    const before = compileModel(result.artifact).predict(d.matrix);
    const after = compileModel(loaded).predict(d.matrix);
    expect(Array.from(after)).toEqual(Array.from(before));
    // predictRow = batch
    const row = new Float32Array([
      d.matrix.values[0] as number,
      d.matrix.values[3000] as number,
      d.matrix.values[6000] as number,
    ]);
    expect(compileModel(loaded).predictRow(row)).toBeCloseTo(before[0] as number, 12);
  });

  it('a logistic-regression baseline goes through the same interfaces', () => {
    const d = dataset();
    const result = trainModel(d.matrix, d.labels, d.columns, {
      algorithm: 'logistic-regression',
      calibration: 'platt',
    });
    const out = join(dir, 'lr');
    saveArtifact(out, result.artifact);
    const loaded = loadArtifact(out);
    expect(loaded.header.modelKind).toBe('logistic-regression');
    expect(loaded.header.metrics.test?.rocAuc).toBeGreaterThan(0.75);
    const m = compileModel(loaded);
    expect(m.predictRow([2, 0, 1])).toBeGreaterThan(m.predictRow([-2, 0, 0]));
  });

  it('refuses a tampered tree file and a missing artifact', () => {
    const d = dataset(500);
    const out = join(dir, 'm2');
    saveArtifact(out, trainModel(d.matrix, d.labels, d.columns, { gbdt: { trees: 3 } }).artifact);
    const bytes = readFileSync(join(out, 'trees.bin'));
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
    writeFileSync(join(out, 'trees.bin'), bytes);
    expect(() => loadArtifact(out)).toThrow(/sha256/);
    expect(() => loadArtifact(join(dir, 'nope'))).toThrow(NotFoundError);
  });

  it('splits temporally when times are given: the test rows are the latest', () => {
    const d = dataset(1000);
    const time = Float64Array.from({ length: 1000 }, (_, i) => 1_700_000_000_000 + ((i * 7919) % 1000) * 60_000);
    const result = trainModel(d.matrix, d.labels, d.columns, { gbdt: { trees: 3 }, time, testFraction: 0.25 });
    const w = result.artifact.header.training?.window;
    expect(w).not.toBeNull();
    // training window ends before the last quarter of the timeline
    expect(Date.parse(w?.to as string)).toBeLessThan(1_700_000_000_000 + 750 * 60_000);
  });
});

describe('ModelRegistry', () => {
  it('versions models and tracks champion, challenger and rollback per goal', () => {
    const d = dataset(800);
    const reg = new ModelRegistry(join(dir, 'registry'));
    const a = trainModel(d.matrix, d.labels, d.columns, { gbdt: { trees: 3 } }).artifact;
    const v1 = reg.register(a, 'clicker', 'click');
    const v2 = reg.register(a, 'clicker', 'click');
    expect([v1.id, v2.id]).toEqual(['clicker@v1', 'clicker@v2']);
    reg.promote(v1.id);
    reg.promote(v2.id, 'challenger');
    expect(reg.list().map((e) => e.role)).toEqual(['champion', 'challenger']);
    expect(reg.promote(v2.id).previous).toBe(v1.id);
    expect(reg.current('click')?.id).toBe(v2.id);
    expect(reg.current('click', 'challenger')).toBeNull();
    expect(reg.rollback('click')).toEqual({ goal: 'click', from: v2.id, to: v1.id });
    expect(reg.current('click')?.id).toBe(v1.id);
    expect(() => reg.rollback('click')).toThrow(InvalidInputError);
    expect(() => reg.promote('clicker@v9')).toThrow(NotFoundError);
    expect(reg.load(v2.id).trees.length).toBe(3);
  });

  it('keeps a fallback per goal beside the champion, untouched by promotions and rollbacks', () => {
    const d = dataset(800);
    const reg = new ModelRegistry(join(dir, 'registry-fallback'));
    const a = trainModel(d.matrix, d.labels, d.columns, { gbdt: { trees: 2 } }).artifact;
    const champ = reg.register(a, 'opener', 'open');
    const batch = reg.register(a, 'opener-batch', 'open');
    reg.promote(champ.id);
    expect(reg.current('open', 'fallback')).toBeNull();
    expect(reg.promote(batch.id, 'fallback').previous).toBeNull();
    expect(reg.list().map((e) => e.role)).toEqual(['champion', 'fallback']);
    const next = reg.register(a, 'opener', 'open');
    reg.promote(next.id);
    expect(reg.current('open', 'fallback')?.id).toBe(batch.id);
    reg.rollback('open');
    expect(reg.current('open')?.id).toBe(champ.id);
    expect(reg.current('open', 'fallback')?.id).toBe(batch.id);
  });
});
