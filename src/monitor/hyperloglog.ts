/**
 * HyperLogLog distinct counter (2^11 registers, ~2.3% standard error). Merge is a register-wise max, so it is
 * exactly associative and commutative. Values are hashed from their float64 bits (numeric) or UTF-16 code units
 * (categorical) with a murmur3 finalizer.
 */
export const HLL_PRECISION = 11;
const M = 1 << HLL_PRECISION;
const ALPHA = 0.7213 / (1 + 1.079 / M);

export function emptyHll(): Uint8Array {
  return new Uint8Array(M);
}

function fmix32(h0: number): number {
  let h = h0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);

export function hashNumber(x: number): number {
  scratch[0] = x === 0 ? 0 : x; // -0 and 0 are one value
  return fmix32((scratchWords[0] as number) ^ fmix32((scratchWords[1] as number) ^ 0x9e3779b9));
}

export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h >>> 0);
}

export function hllAdd(registers: Uint8Array, hash: number): void {
  const idx = hash >>> (32 - HLL_PRECISION);
  const rest = (hash << HLL_PRECISION) >>> 0;
  const rank = rest === 0 ? 32 - HLL_PRECISION + 1 : Math.clz32(rest) + 1;
  if (rank > (registers[idx] as number)) registers[idx] = rank;
}

export function hllMerge(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(M);
  for (let i = 0; i < M; i++) out[i] = Math.max(a[i] as number, b[i] as number);
  return out;
}

export function hllEstimate(registers: Uint8Array): number {
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < M; i++) {
    const r = registers[i] as number;
    sum += 2 ** -r;
    if (r === 0) zeros++;
  }
  const raw = (ALPHA * M * M) / sum;
  if (raw <= 2.5 * M && zeros > 0) return Math.round(M * Math.log(M / zeros));
  return Math.round(raw);
}
