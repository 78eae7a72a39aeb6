import { describe, expect, it } from 'vitest';
import { FeatureDefinitionError } from './errors.js';
import { compileExpressionJs, expressionRefs, parseExpression } from './transform-expression.js';

const evalJs = (src: string, x: number, y: number) => {
  const e = parseExpression(src);
  const refs = expressionRefs(e);
  return compileExpressionJs(e)(refs.map((r) => (r === 'a.x' ? x : y)));
};

describe('transform expressions', () => {
  it('follows arithmetic precedence and associativity', () => {
    expect(evalJs('a.x + a.y * 2', 1, 3)).toBe(7);
    expect(evalJs('(a.x + a.y) * 2', 1, 3)).toBe(8);
    expect(evalJs('a.x - a.y - 1', 10, 3)).toBe(6);
    expect(evalJs('a.x / a.y / 2', 12, 3)).toBe(2);
    expect(evalJs('-a.x - -a.y', 2, 5)).toBe(3);
    expect(evalJs('max(a.x, a.y) - min(a.x, 2.5e0)', 1, 4)).toBe(3);
  });
  it('pins the edge semantics', () => {
    expect(evalJs('a.x / a.y', 1, 0)).toBeNaN();
    expect(evalJs('log(a.x)', 0, 0)).toBeNaN();
    expect(evalJs('sqrt(a.x)', -1, 0)).toBeNaN();
    expect(evalJs('min(a.x, a.y)', Number.NaN, 1)).toBeNaN();
    expect(evalJs('a.x * a.y', 3e38, 10)).toBe(Number.POSITIVE_INFINITY);
    expect(evalJs('a.x', 0.1, 0)).toBe(Math.fround(0.1));
  });
  it('lists references once, in first-use order', () => {
    expect(expressionRefs(parseExpression('a.y + log(a.x) * a.y'))).toEqual(['a.y', 'a.x']);
  });
  it('rejects malformed expressions with the reason', () => {
    expect(() => parseExpression('a.x +')).toThrow(FeatureDefinitionError);
    for (const [src, why] of [
      ['a.x +', /unexpected end/],
      ['foo(a.x)', /unknown function "foo"/],
      ['min(a.x)', /min takes 2 argument/],
      ['x + 1', /must be view.feature/],
      ['a.x $ 2', /unexpected character "\$"/],
      ['a.x a.y', /unexpected "a.y"/],
      ['', /empty expression/],
    ] as const)
      expect(() => parseExpression(src)).toThrow(why);
  });
});
