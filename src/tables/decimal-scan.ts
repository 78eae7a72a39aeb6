/**
 * Plain decimal numbers read straight from a string's characters, bit-identical to `Number()`: the cell rule's
 * common case without slicing the cell out of its line. Only what can be done exactly in one IEEE operation is done
 * here (Clinger's fast path: at most 15 significant digits, so the digits are an exact integer below 2^53, times or
 * divided by an exact power of ten up to 1e22, one correctly rounded step); anything else returns NaN and the caller
 * goes to `Number()` through the cell rule.
 */

const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Most significant digits read exactly: 10^15 < 2^53, so the digits are an exact double. */
export const EXACT_DIGITS = 15;

/**
 * The value of `text[start, end)` when it is `[+-]?(digits[.digits]|.digits)([eE][+-]?digits)?` within the exact
 * range, else NaN (also for an empty span and for anything with spaces, letters, more digits or a large exponent).
 */
export function plainDecimal(text: string, start: number, end: number): number {
  let i = start;
  if (i >= end) return Number.NaN;
  let c = text.charCodeAt(i);
  const neg = c === 45;
  if (neg || c === 43) i++;
  let mant = 0;
  let digits = 0;
  let scale = 0;
  let any = false;
  for (; i < end; i++) {
    c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    any = true;
    if (digits > 0 || c !== 48) {
      mant = mant * 10 + (c - 48);
      digits++;
    }
  }
  if (i < end && c === 46) {
    for (i++; i < end; i++) {
      c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      any = true;
      scale--;
      if (digits > 0 || c !== 48) {
        mant = mant * 10 + (c - 48);
        digits++;
      }
    }
  }
  if (!any || digits > EXACT_DIGITS) return Number.NaN;
  if (i < end) {
    if ((c | 32) !== 101) return Number.NaN; // e or E
    i++;
    if (i >= end) return Number.NaN;
    c = text.charCodeAt(i);
    const expNeg = c === 45;
    if (expNeg || c === 43) i++;
    if (i >= end) return Number.NaN;
    let exp = 0;
    for (; i < end; i++) {
      c = text.charCodeAt(i);
      if (c < 48 || c > 57) return Number.NaN;
      if (exp < 10_000) exp = exp * 10 + (c - 48);
    }
    scale += expNeg ? -exp : exp;
  }
  let v: number;
  if (mant === 0) v = 0;
  else if (scale === 0) v = mant;
  else if (scale > 0 && scale <= 22) v = mant * (POW10[scale] as number);
  else if (scale < 0 && scale >= -22) v = mant / (POW10[-scale] as number);
  else return Number.NaN;
  return neg ? -v : v;
}
