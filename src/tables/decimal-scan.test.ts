import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { CellReader } from './cells.js';
import { DecimalPrefix, plainDecimal } from './decimal-scan.js';

const digits = (rng: Rng, n: number): string => Array.from({ length: n }, () => String(rng.int(10))).join('');

/** A decimal string of random shape: sign, 0-20 integer digits, a fraction, an exponent. */
function randomDecimal(rng: Rng): string {
  const sign = ['', '', '-', '+'][rng.int(4)] as string;
  const int = digits(rng, rng.int(rng.next() < 0.2 ? 21 : 8));
  const frac = rng.next() < 0.7 ? `.${digits(rng, rng.int(rng.next() < 0.2 ? 21 : 8))}` : '';
  const exp =
    rng.next() < 0.3
      ? `${rng.next() < 0.5 ? 'e' : 'E'}${['', '-', '+'][rng.int(3)]}${digits(rng, 1 + rng.int(3))}`
      : '';
  return `${sign}${int}${frac}${exp}`;
}

describe('plain decimals read from the characters', () => {
  it('give the bit-identical double of Number() or NaN (then Number() is asked), on 200K random strings', () => {
    const rng = new Rng(3);
    let handled = 0;
    let wide = 0;
    for (let k = 0; k < 200_000; k++) {
      const s = randomDecimal(rng);
      const v = plainDecimal(s, 0, s.length);
      if (Number.isNaN(v)) continue;
      handled++;
      if (s.replace(/[-+.]|e.*$/gi, '').replace(/^0+/, '').length > 15) wide++;
      if (!Object.is(v, Number(s))) expect({ s, v }).toEqual({ s, v: Number(s) });
    }
    // most strings are in the exact range, and digits past 15 (below 2^53) are read too
    expect(handled).toBeGreaterThan(100_000);
    expect(wide).toBeGreaterThan(100);
  });

  it('hands back what it cannot do exactly: 2^53 and more, 17 significant digits, large exponents', () => {
    for (const s of [
      '9007199254740993',
      '12345678901234567',
      '0.12345678901234567',
      '1.7976931348623157e308',
      '2.2250738585072014e-308',
      '5e-324',
      '1e23',
      '1e-23',
      '123456789012345678901234567890',
    ])
      expect([s, plainDecimal(s, 0, s.length)]).toEqual([s, Number.NaN]);
    for (const s of ['9007199254740991', '0.1', '1.1', '+.5', '5.', '-0', '-0.0', '1e-5', '1E+22', '0e999', '007'])
      expect([s, Object.is(plainDecimal(s, 0, s.length), Number(s))]).toEqual([s, true]);
  });

  it('is NaN for what is not a plain decimal (the cell rule decides those)', () => {
    for (const s of ['', '.', '-', '+', 'e5', '1e', '1e+', '1.2.3', ' 1', '1 ', '0x10', '1_000', 'inf', 'NaN', '1,5'])
      expect([s, plainDecimal(s, 0, s.length)]).toEqual([s, Number.NaN]);
  });

  it('stops after the number, so a scan knows where the cell ends', () => {
    const p = new DecimalPrefix();
    const line = '12.5,-3e2;x,1e,7';
    expect(p.read(line, 0, line.length)).toBe(12.5);
    expect(p.stop).toBe(4);
    expect(p.read(line, 5, line.length)).toBe(-300);
    expect(p.stop).toBe(9);
    expect(p.read(line, 10, line.length)).toBeNaN();
    expect(p.stop).toBe(10);
    p.read(line, 12, line.length);
    expect(p.stop).toBe(13); // "1" then "e" without digits: not part of the number
  });

  it('reads the same value and stop from the bytes as from the characters, inside a line, on 100K strings', () => {
    const rng = new Rng(11);
    const chars = new DecimalPrefix();
    const bytes = new DecimalPrefix();
    let numbers = 0;
    for (let k = 0; k < 100_000; k++) {
      const tail = [',', '', 'x', 'e', 'e+', '.5', ' '][rng.int(7)] as string;
      const line = `a,${randomDecimal(rng)}${tail},b`;
      const buf = Buffer.from(line, 'latin1');
      const end = rng.next() < 0.3 ? line.length - 2 : line.length;
      const a = chars.read(line, 2, end);
      const b = bytes.readBytes(buf, 2, end);
      if (!Number.isNaN(a)) numbers++;
      if (!Object.is(a, b) || chars.stop !== bytes.stop)
        expect({ line, end, v: b, stop: bytes.stop }).toEqual({ line, end, v: a, stop: chars.stop });
    }
    expect(numbers).toBeGreaterThan(40_000);
  });

  it('gives way to a missing-value token that is itself a number', () => {
    const cells = new CellReader(['', '-999']);
    expect(cells.plainNumberAtBytes(Buffer.from('-999'), 0, 4)).toBeNaN();
    expect(new CellReader().plainNumberAtBytes(Buffer.from('-999'), 0, 4)).toBe(-999);
    expect(cells.plainNumberAt('-999', 0, 4)).toBeNaN();
    expect(cells.number('-999')).toBeNaN();
    expect(new CellReader().plainNumberAt('-999', 0, 4)).toBe(-999);
  });
});
