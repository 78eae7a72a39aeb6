import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../core/errors.js';
import { finiteNumber, nonNegativeInt, openFraction, positiveInt, share } from './options.js';

const refused = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('CLI option values', () => {
  it('a missing option stays undefined for every parser', () => {
    for (const p of [positiveInt, nonNegativeInt, finiteNumber, share, openFraction])
      expect(p('x', undefined)).toBeUndefined();
  });

  it('integers are decimal digits only, named with the flag and what came', () => {
    expect(positiveInt('trees', '100')).toBe(100);
    expect(positiveInt('trees', ' 7 ')).toBe(7);
    expect(nonNegativeInt('seed', '0')).toBe(0);
    for (const text of ['0', '-1', '1.5', '1e3', '0x10', '', ' ', 'ten', '9007199254740993'])
      expect(refused(() => positiveInt('trees', text))).toBe(`--trees expects a positive integer, got "${text}"`);
    for (const text of ['-1', '2.0', 'Infinity'])
      expect(refused(() => nonNegativeInt('seed', text))).toBe(`--seed expects a non-negative integer, got "${text}"`);
  });

  it('numbers, shares and open fractions keep their bounds', () => {
    expect(finiteNumber('speed', '-2.5')).toBe(-2.5);
    expect(finiteNumber('speed', '1e3')).toBe(1000);
    expect(refused(() => finiteNumber('speed', 'Infinity'))).toBe('--speed expects a number, got "Infinity"');
    expect(refused(() => finiteNumber('speed', ''))).toBe('--speed expects a number, got ""');
    expect(share('drift-share', '0')).toBe(0);
    expect(share('drift-share', '1')).toBe(1);
    expect(refused(() => share('drift-share', '1.01'))).toBe('--drift-share expects a number in [0, 1], got "1.01"');
    expect(refused(() => share('drift-share', 'NaN'))).toMatch(/in \[0, 1\]/);
    expect(openFraction('train-fraction', '0.5')).toBe(0.5);
    for (const text of ['0', '1', '-0.1'])
      expect(refused(() => openFraction('train-fraction', text))).toBe(
        `--train-fraction expects a number strictly between 0 and 1, got "${text}"`,
      );
  });
});
