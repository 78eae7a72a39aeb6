/**
 * Compact JSON form of a DatasetProfile: typed arrays as base64 of their little-endian bytes, HLL registers
 * sparse when few are set. Parsing validates the shape and says what was expected: a file that is not a profile at
 * all is bad input (InvalidInputError); one that claims the profile format but does not decode is a corrupt file
 * (CorruptProfileError, a failure rather than the user's mistake).
 */
import { InvalidInputError } from '../core/index.js';
import { CorruptProfileError } from './errors.js';
import { HLL_PRECISION } from './hyperloglog.js';
import type { KllSketch } from './kll-sketch.js';
import { type DatasetProfile, type FeatureProfile, type LearnedThreshold, PROFILE_FORMAT } from './profile.js';

const f64ToB64 = (a: Float64Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
function b64ToF64(s: unknown, where: string): Float64Array {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s))
    throw new CorruptProfileError(`${where}: expected base64 text, got ${describe(s)}`);
  const buf = Buffer.from(s, 'base64');
  if (buf.byteLength % 8 !== 0)
    throw new CorruptProfileError(`${where}: ${buf.byteLength} bytes is not a whole number of float64 values`);
  const out = new Float64Array(buf.byteLength / 8);
  new Uint8Array(out.buffer).set(buf);
  return out;
}
const num = (x: number): number | null => (Number.isFinite(x) ? x : null);
const unnum = (x: unknown): number => (typeof x === 'number' ? x : Number.NaN);
const describe = (x: unknown): string => {
  const t = JSON.stringify(x);
  return t === undefined ? String(x) : t.length > 40 ? `${t.slice(0, 40)}...` : t;
};

/** A count: a finite number >= 0. */
function count(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0)
    throw new CorruptProfileError(`${where}: expected a count (a number >= 0), got ${describe(x)}`);
  return x;
}

function numbers(x: unknown, where: string): Float64Array {
  if (!Array.isArray(x) || x.some((v) => typeof v !== 'number'))
    throw new CorruptProfileError(`${where}: expected an array of numbers, got ${describe(x)}`);
  return Float64Array.from(x as number[]);
}

function encodeHll(r: Uint8Array): string | number[] {
  const sparse: number[] = [];
  for (let i = 0; i < r.length; i++) if (r[i]) sparse.push(i, r[i] as number);
  return sparse.length < r.length / 2 ? sparse : Buffer.from(r).toString('base64');
}
function decodeHll(x: unknown, where: string): Uint8Array {
  const out = new Uint8Array(1 << HLL_PRECISION);
  if (typeof x === 'string') {
    const buf = Buffer.from(x, 'base64');
    if (buf.byteLength !== out.length)
      throw new CorruptProfileError(`${where}: hll has ${buf.byteLength} registers, expected ${out.length}`);
    out.set(buf);
  } else if (Array.isArray(x)) {
    for (let i = 0; i + 1 < x.length; i += 2) {
      const [at, v] = [x[i], x[i + 1]];
      if (!Number.isInteger(at) || at < 0 || at >= out.length || !Number.isInteger(v))
        throw new CorruptProfileError(`${where}: hll register ${describe(at)} = ${describe(v)} is out of range`);
      out[at] = v;
    }
  } else throw new CorruptProfileError(`${where}: hll must be a base64 string or a sparse [index, value, ...] array`);
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

function decodeFeature(x: Record<string, unknown>, i: number, source: string): FeatureProfile {
  let where = `${source}: feature #${i}`;
  if (!x || typeof x !== 'object' || typeof x['name'] !== 'string')
    throw new CorruptProfileError(`${where}: expected an object with a string "name"`);
  const name = x['name'];
  where = `${where} (${name})`;
  if (x['kind'] === 'numeric') {
    const kll = x['kll'] as Record<string, unknown> | undefined;
    if (!kll || !Array.isArray(kll['levels'])) throw new CorruptProfileError(`${where}: missing kll sketch`);
    const sketch: KllSketch = {
      k: count(kll['k'], `${where} kll.k`),
      n: count(kll['n'], `${where} kll.n`),
      min: unnum(kll['min']),
      max: unnum(kll['max']),
      levels: (kll['levels'] as unknown[]).map((l, j) => b64ToF64(l, `${where} kll level ${j}`)),
    };
    const edges = numbers(x['edges'], `${where} edges`);
    const binCounts = numbers(x['bins'], `${where} bins`);
    if (binCounts.length !== edges.length + 1)
      throw new CorruptProfileError(
        `${where}: ${binCounts.length} bin counts for ${edges.length} edges, expected ${edges.length + 1}`,
      );
    return {
      kind: 'numeric',
      name,
      count: count(x['count'], `${where} count`),
      nulls: count(x['nulls'], `${where} nulls`),
      min: unnum(x['min']),
      max: unnum(x['max']),
      mean: unnum(x['mean']),
      m2: count(x['m2'], `${where} m2`),
      edges,
      binCounts,
      sketch,
      hll: decodeHll(x['hll'], where),
      ...(x['exact'] !== undefined ? { exactValues: b64ToF64(x['exact'], `${where} exact values`) } : {}),
    };
  }
  if (x['kind'] === 'categorical') {
    const categories = x['categories'];
    if (!Array.isArray(categories) || categories.some((c) => typeof c !== 'string'))
      throw new CorruptProfileError(`${where}: expected "categories" as an array of strings`);
    const counts = numbers(x['counts'], `${where} counts`);
    if (counts.length !== categories.length)
      throw new CorruptProfileError(`${where}: ${counts.length} counts for ${categories.length} categories`);
    return {
      kind: 'categorical',
      name,
      count: count(x['count'], `${where} count`),
      nulls: count(x['nulls'], `${where} nulls`),
      categories: categories as string[],
      counts,
      otherCount: count(x['other'], `${where} other`),
      hll: decodeHll(x['hll'], where),
    };
  }
  throw new CorruptProfileError(`${where}: kind must be "numeric" or "categorical", got ${describe(x['kind'])}`);
}

export function parseProfile(text: string, source = 'profile'): DatasetProfile {
  // a file that names the profile format is meant to be a profile: if it does not decode, the file is damaged
  const claimsFormat = text.slice(0, 200).includes(`"${PROFILE_FORMAT}"`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    if (claimsFormat)
      throw new CorruptProfileError(`${source}: the profile is not valid JSON (truncated or damaged?)`, { cause: err });
    throw new InvalidInputError(
      `${source}: expected JSON (a profile with format "${PROFILE_FORMAT}"), got text that does not parse`,
      {
        cause: err,
      },
    );
  }
  const o = raw as Record<string, unknown>;
  if (!o || typeof o !== 'object' || o['format'] !== PROFILE_FORMAT) {
    throw new InvalidInputError(
      `${source}: expected a profile with format "${PROFILE_FORMAT}", got ${o && typeof o === 'object' ? `format ${describe(o['format'])}` : describe(o)}`,
    );
  }
  if (!Array.isArray(o['features'])) throw new CorruptProfileError(`${source}: the profile has no "features" array`);
  return {
    format: PROFILE_FORMAT,
    rows: count(o['rows'], `${source}: rows`),
    features: (o['features'] as Record<string, unknown>[]).map((f, i) => decodeFeature(f, i, source)),
    ...(o['thresholds'] ? { thresholds: o['thresholds'] as Record<string, LearnedThreshold> } : {}),
    ...(typeof o['chunkColumn'] === 'string' ? { chunkColumn: o['chunkColumn'] } : {}),
  };
}
