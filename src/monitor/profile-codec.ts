/**
 * Compact JSON form of a DatasetProfile: typed arrays as base64 of their little-endian bytes, HLL registers
 * sparse when few are set. Parsing validates the shape and says what was expected.
 */
import { InvalidInputError } from '../core/index.js';
import { HLL_PRECISION } from './hyperloglog.js';
import type { KllSketch } from './kll-sketch.js';
import { type DatasetProfile, type FeatureProfile, type LearnedThreshold, PROFILE_FORMAT } from './profile.js';

const f64ToB64 = (a: Float64Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
function b64ToF64(s: string): Float64Array {
  const buf = Buffer.from(s, 'base64');
  const out = new Float64Array(buf.byteLength / 8);
  new Uint8Array(out.buffer).set(buf);
  return out;
}
const num = (x: number): number | null => (Number.isFinite(x) ? x : null);
const unnum = (x: unknown): number => (typeof x === 'number' ? x : Number.NaN);

function encodeHll(r: Uint8Array): string | number[] {
  const sparse: number[] = [];
  for (let i = 0; i < r.length; i++) if (r[i]) sparse.push(i, r[i] as number);
  return sparse.length < r.length / 2 ? sparse : Buffer.from(r).toString('base64');
}
function decodeHll(x: unknown): Uint8Array {
  const out = new Uint8Array(1 << HLL_PRECISION);
  if (typeof x === 'string') out.set(Buffer.from(x, 'base64'));
  else if (Array.isArray(x)) for (let i = 0; i + 1 < x.length; i += 2) out[x[i] as number] = x[i + 1] as number;
  else throw new InvalidInputError('profile: hll must be a base64 string or a sparse [index, value, ...] array');
  return out;
}

function encodeFeature(f: FeatureProfile): Record<string, unknown> {
  if (f.kind === 'numeric') {
    return {
      kind: f.kind,
      name: f.name,
      count: f.count,
      nulls: f.nulls,
      min: num(f.min),
      max: num(f.max),
      mean: num(f.mean),
      m2: f.m2,
      edges: Array.from(f.edges),
      bins: Array.from(f.binCounts),
      kll: {
        k: f.sketch.k,
        n: f.sketch.n,
        min: num(f.sketch.min),
        max: num(f.sketch.max),
        levels: f.sketch.levels.map(f64ToB64),
      },
      hll: encodeHll(f.hll),
      ...(f.exactValues ? { exact: f64ToB64(f.exactValues) } : {}),
    };
  }
  return {
    kind: f.kind,
    name: f.name,
    count: f.count,
    nulls: f.nulls,
    categories: f.categories,
    counts: Array.from(f.counts),
    other: f.otherCount,
    hll: encodeHll(f.hll),
  };
}

export function serializeProfile(p: DatasetProfile): string {
  return JSON.stringify({
    format: p.format,
    rows: p.rows,
    ...(p.thresholds ? { thresholds: p.thresholds } : {}),
    ...(p.chunkColumn ? { chunkColumn: p.chunkColumn } : {}),
    features: p.features.map(encodeFeature),
  });
}

function decodeFeature(x: Record<string, unknown>, i: number): FeatureProfile {
  const where = `profile feature #${i}`;
  if (typeof x['name'] !== 'string') throw new InvalidInputError(`${where}: expected a string "name"`);
  const name = x['name'];
  if (x['kind'] === 'numeric') {
    const kll = x['kll'] as Record<string, unknown> | undefined;
    if (!kll || !Array.isArray(kll['levels'])) throw new InvalidInputError(`${where} (${name}): missing kll sketch`);
    const sketch: KllSketch = {
      k: Number(kll['k']),
      n: Number(kll['n']),
      min: unnum(kll['min']),
      max: unnum(kll['max']),
      levels: (kll['levels'] as string[]).map(b64ToF64),
    };
    return {
      kind: 'numeric',
      name,
      count: Number(x['count']),
      nulls: Number(x['nulls']),
      min: unnum(x['min']),
      max: unnum(x['max']),
      mean: unnum(x['mean']),
      m2: Number(x['m2']),
      edges: Float64Array.from(x['edges'] as number[]),
      binCounts: Float64Array.from(x['bins'] as number[]),
      sketch,
      hll: decodeHll(x['hll']),
      ...(typeof x['exact'] === 'string' ? { exactValues: b64ToF64(x['exact']) } : {}),
    };
  }
  if (x['kind'] === 'categorical') {
    return {
      kind: 'categorical',
      name,
      count: Number(x['count']),
      nulls: Number(x['nulls']),
      categories: x['categories'] as string[],
      counts: Float64Array.from(x['counts'] as number[]),
      otherCount: Number(x['other']),
      hll: decodeHll(x['hll']),
    };
  }
  throw new InvalidInputError(`${where} (${name}): kind must be "numeric" or "categorical", got ${String(x['kind'])}`);
}

export function parseProfile(text: string, source = 'profile'): DatasetProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`${source}: expected JSON, could not parse it`, { cause: err });
  }
  const o = raw as Record<string, unknown>;
  if (!o || o['format'] !== PROFILE_FORMAT || !Array.isArray(o['features'])) {
    throw new InvalidInputError(`${source}: expected a profile with format "${PROFILE_FORMAT}" and a features array`);
  }
  return {
    format: PROFILE_FORMAT,
    rows: Number(o['rows']),
    features: (o['features'] as Record<string, unknown>[]).map(decodeFeature),
    ...(o['thresholds'] ? { thresholds: o['thresholds'] as Record<string, LearnedThreshold> } : {}),
    ...(typeof o['chunkColumn'] === 'string' ? { chunkColumn: o['chunkColumn'] } : {}),
  };
}
