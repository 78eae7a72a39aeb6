import { InvalidInputError } from '../core/errors.js';
import type { Tree } from './tree-ensemble.js';

const MAGIC = 0x544e4441; // "ADNT" little-endian
const CODEC_VERSION = 1;

/**
 * Compact binary form of the trees (little-endian): magic, version, tree count, then per tree
 * nodeCount, catWordCount and the node arrays (left, right, feature i32; threshold f32; binThreshold,
 * defaultLeft, catSetLeft u8; catOffset, catLength i32; value f64; gain, cover f32) and the category words (u32).
 */
export function encodeTrees(trees: readonly Tree[]): Uint8Array {
  let size = 12;
  for (const t of trees) size += 8 + t.left.length * (4 * 3 + 4 + 3 + 4 * 2 + 8 + 4 * 2) + t.catWords.length * 4;
  const buf = new ArrayBuffer(size);
  const dv = new DataView(buf);
  let o = 0;
  const u32 = (v: number): void => {
    dv.setUint32(o, v, true);
    o += 4;
  };
  u32(MAGIC);
  u32(CODEC_VERSION);
  u32(trees.length);
  for (const t of trees) {
    const n = t.left.length;
    u32(n);
    u32(t.catWords.length);
    for (const a of [t.left, t.right, t.feature])
      for (let i = 0; i < n; i++, o += 4) dv.setInt32(o, a[i] as number, true);
    for (let i = 0; i < n; i++, o += 4) dv.setFloat32(o, t.threshold[i] as number, true);
    for (const a of [t.binThreshold, t.defaultLeft, t.catSetLeft])
      for (let i = 0; i < n; i++, o += 1) dv.setUint8(o, a[i] as number);
    for (const a of [t.catOffset, t.catLength])
      for (let i = 0; i < n; i++, o += 4) dv.setInt32(o, a[i] as number, true);
    for (let i = 0; i < n; i++, o += 8) dv.setFloat64(o, t.value[i] as number, true);
    for (const a of [t.gain, t.cover]) for (let i = 0; i < n; i++, o += 4) dv.setFloat32(o, a[i] as number, true);
    for (let i = 0; i < t.catWords.length; i++, o += 4) dv.setUint32(o, t.catWords[i] as number, true);
  }
  return new Uint8Array(buf);
}

export function decodeTrees(bytes: Uint8Array): Tree[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const need = (k: number): void => {
    if (o + k > bytes.byteLength) throw new InvalidInputError(`tree file is truncated at byte ${o} (needs ${k} more)`);
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(o, true);
    o += 4;
    return v;
  };
  if (u32() !== MAGIC) throw new InvalidInputError('tree file does not start with the ADNT magic');
  const version = u32();
  if (version !== CODEC_VERSION)
    throw new InvalidInputError(`tree file version is ${version}, this build reads ${CODEC_VERSION}`);
  const count = u32();
  const trees: Tree[] = [];
  for (let k = 0; k < count; k++) {
    const n = u32();
    const w = u32();
    need(n * (4 * 3 + 4 + 3 + 4 * 2 + 8 + 4 * 2) + w * 4);
    const i32 = (): Int32Array => {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++, o += 4) a[i] = dv.getInt32(o, true);
      return a;
    };
    const f32 = (): Float32Array => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++, o += 4) a[i] = dv.getFloat32(o, true);
      return a;
    };
    const u8 = (): Uint8Array => {
      const a = new Uint8Array(n);
      for (let i = 0; i < n; i++, o += 1) a[i] = dv.getUint8(o);
      return a;
    };
    const left = i32();
    const right = i32();
    const feature = i32();
    const threshold = f32();
    const binThreshold = u8();
    const defaultLeft = u8();
    const catSetLeft = u8();
    const catOffset = i32();
    const catLength = i32();
    const value = new Float64Array(n);
    for (let i = 0; i < n; i++, o += 8) value[i] = dv.getFloat64(o, true);
    const gain = f32();
    const cover = f32();
    const catWords = new Uint32Array(w);
    for (let i = 0; i < w; i++, o += 4) catWords[i] = dv.getUint32(o, true);
    for (let i = 0; i < n; i++) {
      const l = left[i] as number;
      if (l >= n || (right[i] as number) >= n || (l >= 0 && (right[i] as number) < 0)) {
        throw new InvalidInputError(`tree ${k} node ${i} has children out of range`);
      }
    }
    trees.push({
      left,
      right,
      feature,
      threshold,
      binThreshold,
      defaultLeft,
      catOffset,
      catLength,
      catSetLeft,
      catWords,
      value,
      gain,
      cover,
    });
  }
  return trees;
}
