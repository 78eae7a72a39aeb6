/**
 * Plain decimal numbers read straight from a string's characters, bit-identical to `Number()`: the cell rule's
 * common case without slicing the cell out of its line. Only what is exact in one IEEE operation is done here
 * (Clinger's fast path): the digits as an integer below 2^53 (every step of reading them is then exact), times or
 * divided by an exact power of ten up to 1e22, one correctly rounded operation, as `Number()` rounds. Anything else
 * (17 significant digits, a large exponent) gives NaN and the caller goes to `Number()` through the cell rule.
 */

const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * The value of `text[start, end)` when it is `[+-]?(digits[.digits]|.digits)([eE][+-]?digits)?` within the exact
 * range, else NaN (also for an empty span and for anything with spaces, letters, digits of 2^53 or more, or a
 * large exponent).
 */
export function plainDecimal(text: string, start: number, end: number): number {
  const scan = new DecimalPrefix();
  const v = scan.read(text, start, end);
  return scan.stop === end ? v : Number.NaN;
}

/**
 * Reads the plain decimal at the start of `text[start, limit)` and says where it stopped, so a caller scanning a line
 * learns the number and the end of its cell in one pass (the cell is the number when `stop` is at the separator).
 */
export class DecimalPrefix {
  /** Index of the first character after the number read by the last `read` (start when there was none). */
  stop = 0;

  /** The number at text[start..stop) when exact (see above), else NaN; `stop` is set either way. */
  read(text: string, start: number, limit: number): number {
    let i = start;
    this.stop = start;
    if (i >= limit) return Number.NaN;
    let c = text.charCodeAt(i);
    const neg = c === 45;
    if (neg || c === 43) i++;
    let mant = 0;
    const intStart = i;
    for (; i < limit; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d >>> 0 > 9) break;
      mant = mant * 10 + d;
    }
    let nd = i - intStart;
    let scale = 0;
    if (i < limit && text.charCodeAt(i) === 46) {
      const fracStart = ++i;
      for (; i < limit; i++) {
        const d = text.charCodeAt(i) - 48;
        if (d >>> 0 > 9) break;
        mant = mant * 10 + d;
      }
      scale = fracStart - i;
      nd -= scale;
    }
    if (nd === 0) return Number.NaN;
    this.stop = i;
    if (i < limit && (text.charCodeAt(i) | 32) === 101) {
      // e or E: part of the number only when digits follow
      let k = i + 1;
      c = k < limit ? text.charCodeAt(k) : 0;
      const expNeg = c === 45;
      if (expNeg || c === 43) k++;
      let exp = 0;
      const first = k;
      for (; k < limit; k++) {
        const d = text.charCodeAt(k) - 48;
        if (d >>> 0 > 9) break;
        if (exp < 10_000) exp = exp * 10 + d;
      }
      if (k === first) return Number.NaN;
      this.stop = k;
      scale += expNeg ? -exp : exp;
    }
    // below 2^53 the double is the digits' exact integer; above it, it is at least 2^53 (rounding is monotonic)
    if (mant > Number.MAX_SAFE_INTEGER) return Number.NaN;
    let v: number;
    if (mant === 0) v = 0;
    else if (scale === 0) v = mant;
    else if (scale > 0 && scale <= 22) v = mant * (POW10[scale] as number);
    else if (scale < 0 && scale >= -22) v = mant / (POW10[-scale] as number);
    else return Number.NaN;
    return neg ? -v : v;
  }

  /**
   * `read` on bytes: the same digits, the same operations and so the same value (and `stop`) for ASCII text, read
   * straight from a file's bytes without decoding them into a string first.
   */
  readBytes(bytes: Uint8Array, start: number, limit: number): number {
    let i = start;
    this.stop = start;
    if (i >= limit) return Number.NaN;
    let c = bytes[i] as number;
    const neg = c === 45;
    if (neg || c === 43) i++;
    let mant = 0;
    const intStart = i;
    for (; i < limit; i++) {
      const d = (bytes[i] as number) - 48;
      if (d >>> 0 > 9) break;
      mant = mant * 10 + d;
    }
    let nd = i - intStart;
    let scale = 0;
    if (i < limit && bytes[i] === 46) {
      const fracStart = ++i;
      for (; i < limit; i++) {
        const d = (bytes[i] as number) - 48;
        if (d >>> 0 > 9) break;
        mant = mant * 10 + d;
      }
      scale = fracStart - i;
      nd -= scale;
    }
    if (nd === 0) return Number.NaN;
    this.stop = i;
    if (i < limit && ((bytes[i] as number) | 32) === 101) {
      let k = i + 1;
      c = k < limit ? (bytes[k] as number) : 0;
      const expNeg = c === 45;
      if (expNeg || c === 43) k++;
      let exp = 0;
      const first = k;
      for (; k < limit; k++) {
        const d = (bytes[k] as number) - 48;
        if (d >>> 0 > 9) break;
        if (exp < 10_000) exp = exp * 10 + d;
      }
      if (k === first) return Number.NaN;
      this.stop = k;
      scale += expNeg ? -exp : exp;
    }
    if (mant > Number.MAX_SAFE_INTEGER) return Number.NaN;
    let v: number;
    if (mant === 0) v = 0;
    else if (scale === 0) v = mant;
    else if (scale > 0 && scale <= 22) v = mant * (POW10[scale] as number);
    else if (scale < 0 && scale >= -22) v = mant / (POW10[-scale] as number);
    else return Number.NaN;
    return neg ? -v : v;
  }
}
