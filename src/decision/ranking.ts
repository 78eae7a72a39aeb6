/**
 * Orders of candidate rows on typed arrays: a stable LSD radix sort by 32-bit keys, and the keys that make a
 * Float64 sort descending. Ranking 1M candidates by (score, tie hash, row) with `Uint32Array.sort(comparator)`
 * measured ~1 s on this machine; the radix sort does it in six counting passes.
 */

/** Below this many rows a comparator sort on the same keys is cheaper than the 65,536-bucket passes. */
const RADIX_MIN_ROWS = 2048;
const DIGITS = 1 << 16;

/**
 * Sorts `order` (row numbers) in place by `keys[0][row]`, then `keys[1][row]`, ... (unsigned, ascending), ties by
 * the rows' order in `order` (stable). Each key array is indexed by row.
 */
export function sortRowsByKeys(order: Uint32Array, keys: readonly Uint32Array[]): Uint32Array {
  const n = order.length;
  if (n < RADIX_MIN_ROWS) {
    const rows = order.slice();
    const pos = new Uint32Array(n);
    for (let i = 0; i < n; i++) pos[i] = i;
    pos.sort((a, b) => {
      const ra = rows[a] as number;
      const rb = rows[b] as number;
      for (const k of keys) {
        const d = (k[ra] as number) - (k[rb] as number);
        if (d !== 0) return d;
      }
      return a - b;
    });
    for (let i = 0; i < n; i++) order[i] = rows[pos[i] as number] as number;
    return order;
  }
  let src: Uint32Array = order;
  let dst: Uint32Array = new Uint32Array(n);
  const count = new Uint32Array(DIGITS);
  for (let k = keys.length - 1; k >= 0; k--) {
    const key = keys[k] as Uint32Array;
    for (let shift = 0; shift <= 16; shift += 16) {
      count.fill(0);
      for (let i = 0; i < n; i++) {
        const d = ((key[src[i] as number] as number) >>> shift) & 0xffff;
        count[d] = (count[d] as number) + 1;
      }
      if (count[((key[src[0] as number] as number) >>> shift) & 0xffff] === n) continue; // one digit: no move
      let sum = 0;
      for (let d = 0; d < DIGITS; d++) {
        const c = count[d] as number;
        count[d] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const row = src[i] as number;
        const d = ((key[row] as number) >>> shift) & 0xffff;
        const at = count[d] as number;
        count[d] = at + 1;
        dst[at] = row;
      }
      const t = src;
      src = dst;
      dst = t;
    }
  }
  if (src !== order) order.set(src);
  return order;
}

/**
 * Keys (high word, low word) under which the values sort descending, as a comparator `b - a` would order them:
 * -0 ties with 0, and NaN counts as `nanAs`.
 */
export function descendingKeys(values: ArrayLike<number>, nanAs: number): [Uint32Array, Uint32Array] {
  const n = values.length;
  const f = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    f[i] = Number.isNaN(v) ? nanAs : v + 0; // -0 + 0 is +0
  }
  const words = new Uint32Array(f.buffer);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const h = words[2 * i + 1] as number;
    const l = words[2 * i] as number;
    // ascending order of the IEEE bits is (negative: all bits flipped, else sign bit set); descending is its inverse
    if (h & 0x80000000) {
      hi[i] = h;
      lo[i] = l;
    } else {
      hi[i] = ~(h | 0x80000000) >>> 0;
      lo[i] = ~l >>> 0;
    }
  }
  return [hi, lo];
}
