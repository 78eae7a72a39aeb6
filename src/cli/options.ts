// Option values as the command line gives them (strings), checked once where they enter. Import-free but for the
// core errors module, so command files may import it at top level (see startup.test.ts).
import { InvalidInputError } from '../core/errors.js';

/** `flag` is the option's long name without its dashes; undefined (not given) stays undefined. */
type Parse = (flag: string, text: string | undefined) => number | undefined;

const bad = (flag: string, expected: string, text: string): never => {
  throw new InvalidInputError(`--${flag} expects ${expected}, got "${text}"`);
};

const parsed = (text: string): number => (text.trim() === '' ? Number.NaN : Number(text));
/** Decimal digits only: Number() would also take `1e3`, `0x10` and `1.0`. */
const integer = (text: string): number => (/^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN);

/** An integer >= 1. */
export const positiveInt: Parse = (flag, text) => {
  if (text === undefined) return undefined;
  const n = integer(text);
  return Number.isSafeInteger(n) && n >= 1 ? n : bad(flag, 'a positive integer', text);
};

/** An integer >= 0. */
export const nonNegativeInt: Parse = (flag, text) => {
  if (text === undefined) return undefined;
  const n = integer(text);
  return Number.isSafeInteger(n) && n >= 0 ? n : bad(flag, 'a non-negative integer', text);
};

/** Any finite number. */
export const finiteNumber: Parse = (flag, text) => {
  if (text === undefined) return undefined;
  const n = parsed(text);
  return Number.isFinite(n) ? n : bad(flag, 'a number', text);
};

/** A share in [0, 1]. */
export const share: Parse = (flag, text) => {
  if (text === undefined) return undefined;
  const n = parsed(text);
  return n >= 0 && n <= 1 ? n : bad(flag, 'a number in [0, 1]', text);
};

/** A fraction strictly between 0 and 1. */
export const openFraction: Parse = (flag, text) => {
  if (text === undefined) return undefined;
  const n = parsed(text);
  return n > 0 && n < 1 ? n : bad(flag, 'a number strictly between 0 and 1', text);
};
