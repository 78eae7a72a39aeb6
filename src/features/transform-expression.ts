import { FeatureDefinitionError } from './errors.js';

/**
 * On-demand transforms are written as small arithmetic expressions over other features (`view.feature`) so one
 * definition compiles to both executions: a JS function (online) and a DuckDB SQL expression (training sets).
 * Semantics are pinned so both agree bit for bit after rounding to float32: arithmetic in float64, division by
 * zero and log of a non-positive number give NaN, min/max propagate NaN (DuckDB orders NaN last, JS does not),
 * results beyond float32 range round to +-max or +-Infinity as Math.fround does.
 */
export type Expr =
  | { readonly kind: 'num'; readonly value: number; readonly text: string }
  | { readonly kind: 'ref'; readonly ref: string }
  | { readonly kind: 'neg'; readonly arg: Expr }
  | { readonly kind: 'bin'; readonly op: '+' | '-' | '*' | '/'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'call'; readonly fn: ExprFunction; readonly args: readonly Expr[] };

export const EXPR_FUNCTIONS = { abs: 1, sqrt: 1, log: 1, min: 2, max: 2 } as const;
export type ExprFunction = keyof typeof EXPR_FUNCTIONS;

type Token = { t: 'num'; v: string } | { t: 'id'; v: string } | { t: 'op'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const num = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num) {
      out.push({ t: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    if ('+-*/(),'.includes(ch)) {
      out.push({ t: 'op', v: ch });
      i++;
      continue;
    }
    throw new FeatureDefinitionError(`transform expression "${src}": unexpected character "${ch}" at ${i}`);
  }
  return out;
}

/** Parses `log(user_stats.clicks_7d + 1) / max(user_stats.sends_7d, 1)` into an AST. */
export function parseExpression(src: string): Expr {
  const tokens = tokenize(src);
  let pos = 0;
  const fail = (what: string): never => {
    throw new FeatureDefinitionError(`transform expression "${src}": ${what}`);
  };
  const peek = (): Token | undefined => tokens[pos];
  const expectOp = (v: string): void => {
    const tok = tokens[pos];
    if (tok?.t !== 'op' || tok.v !== v) fail(`expected "${v}" but found ${tok ? `"${tok.v}"` : 'the end'}`);
    pos++;
  };
  const primary = (): Expr => {
    const tok = tokens[pos++];
    if (tok === undefined) return fail('unexpected end');
    if (tok.t === 'num') return { kind: 'num', value: Number(tok.v), text: tok.v };
    if (tok.t === 'op' && tok.v === '(') {
      const e = additive();
      expectOp(')');
      return e;
    }
    if (tok.t === 'op' && tok.v === '-') return { kind: 'neg', arg: primary() };
    if (tok.t === 'id') {
      const next = peek();
      if (next?.t === 'op' && next.v === '(') {
        if (!(tok.v in EXPR_FUNCTIONS))
          fail(`unknown function "${tok.v}"; expected one of ${Object.keys(EXPR_FUNCTIONS).join(', ')}`);
        const fn = tok.v as ExprFunction;
        pos++;
        const args: Expr[] = [additive()];
        while (peek()?.t === 'op' && peek()?.v === ',') {
          pos++;
          args.push(additive());
        }
        expectOp(')');
        if (args.length !== EXPR_FUNCTIONS[fn])
          fail(`${fn} takes ${EXPR_FUNCTIONS[fn]} argument(s), got ${args.length}`);
        return { kind: 'call', fn, args };
      }
      if (!tok.v.includes('.')) fail(`reference "${tok.v}" must be view.feature`);
      return { kind: 'ref', ref: tok.v };
    }
    return fail(`unexpected "${tok.v}"`);
  };
  const multiplicative = (): Expr => {
    let left = primary();
    for (let tok = peek(); tok?.t === 'op' && (tok.v === '*' || tok.v === '/'); tok = peek()) {
      pos++;
      left = { kind: 'bin', op: tok.v as '*' | '/', left, right: primary() };
    }
    return left;
  };
  const additive = (): Expr => {
    let left = multiplicative();
    for (let tok = peek(); tok?.t === 'op' && (tok.v === '+' || tok.v === '-'); tok = peek()) {
      pos++;
      left = { kind: 'bin', op: tok.v as '+' | '-', left, right: multiplicative() };
    }
    return left;
  };
  if (tokens.length === 0) fail('empty expression');
  const root = additive();
  if (pos !== tokens.length) fail(`unexpected "${tokens[pos]?.v}" after the end of the expression`);
  return root;
}

/** Every `view.feature` the expression reads, in first-use order. */
export function expressionRefs(e: Expr, out: string[] = []): string[] {
  switch (e.kind) {
    case 'ref':
      if (!out.includes(e.ref)) out.push(e.ref);
      break;
    case 'neg':
      expressionRefs(e.arg, out);
      break;
    case 'bin':
      expressionRefs(e.left, out);
      expressionRefs(e.right, out);
      break;
    case 'call':
      for (const a of e.args) expressionRefs(a, out);
      break;
    case 'num':
      break;
  }
  return out;
}

/** Online form: a function of the referenced values (in `expressionRefs` order), float64 in, float32-rounded out. */
export function compileExpressionJs(e: Expr): (inputs: ArrayLike<number>) => number {
  const refs = expressionRefs(e);
  const build = (n: Expr): ((x: ArrayLike<number>) => number) => {
    switch (n.kind) {
      case 'num': {
        const v = n.value;
        return () => v;
      }
      case 'ref': {
        const i = refs.indexOf(n.ref);
        return (x) => x[i] as number;
      }
      case 'neg': {
        const a = build(n.arg);
        return (x) => -a(x);
      }
      case 'bin': {
        const l = build(n.left);
        const r = build(n.right);
        if (n.op === '+') return (x) => l(x) + r(x);
        if (n.op === '-') return (x) => l(x) - r(x);
        if (n.op === '*') return (x) => l(x) * r(x);
        return (x) => {
          const d = r(x);
          return d === 0 ? Number.NaN : l(x) / d;
        };
      }
      case 'call': {
        const [a, b] = n.args.map(build) as [(x: ArrayLike<number>) => number, (x: ArrayLike<number>) => number];
        switch (n.fn) {
          case 'abs':
            return (x) => Math.abs(a(x));
          case 'sqrt':
            return (x) => {
              const v = a(x);
              return v < 0 ? Number.NaN : Math.sqrt(v);
            };
          case 'log':
            return (x) => {
              const v = a(x);
              return v <= 0 ? Number.NaN : Math.log(v);
            };
          case 'min':
            return (x) => {
              const u = a(x);
              const v = b(x);
              return Number.isNaN(u) || Number.isNaN(v) ? Number.NaN : u < v ? u : v;
            };
          case 'max':
            return (x) => {
              const u = a(x);
              const v = b(x);
              return Number.isNaN(u) || Number.isNaN(v) ? Number.NaN : u > v ? u : v;
            };
        }
      }
    }
  };
  const f = build(e);
  return (inputs) => Math.fround(f(inputs));
}

const NAN_SQL = "'NaN'::DOUBLE";

/** Batch form: a DuckDB expression; `refSql` maps each `view.feature` to a SQL expression for its value. */
export function compileExpressionSql(e: Expr, refSql: (ref: string) => string): string {
  const s = (n: Expr): string => {
    switch (n.kind) {
      case 'num':
        return `(${n.text}::DOUBLE)`;
      case 'ref':
        return `CAST(${refSql(n.ref)} AS DOUBLE)`;
      case 'neg':
        return `(-${s(n.arg)})`;
      case 'bin':
        if (n.op === '/') {
          const d = s(n.right);
          return `(CASE WHEN ${d} = 0 THEN ${NAN_SQL} ELSE ${s(n.left)} / ${d} END)`;
        }
        return `(${s(n.left)} ${n.op} ${s(n.right)})`;
      case 'call': {
        const [a, b] = n.args.map(s) as [string, string];
        switch (n.fn) {
          case 'abs':
            return `abs(${a})`;
          // DuckDB orders NaN above every number, so guard NaN explicitly to match IEEE comparisons in JS
          case 'sqrt':
            return `(CASE WHEN isnan(${a}) OR ${a} >= 0 THEN sqrt(${a}) ELSE ${NAN_SQL} END)`;
          case 'log':
            return `(CASE WHEN isnan(${a}) THEN ${NAN_SQL} WHEN ${a} > 0 THEN ln(${a}) ELSE ${NAN_SQL} END)`;
          case 'min':
            return `(CASE WHEN isnan(${a}) OR isnan(${b}) THEN ${NAN_SQL} ELSE least(${a}, ${b}) END)`;
          case 'max':
            return `(CASE WHEN isnan(${a}) OR isnan(${b}) THEN ${NAN_SQL} ELSE greatest(${a}, ${b}) END)`;
        }
      }
    }
  };
  return toFloat32Sql(s(e));
}

// DuckDB refuses to cast doubles beyond FLOAT range; JS Math.fround rounds them (to +-max or +-Infinity).
const F32_MAX = '3.4028234663852886e38';
const F32_OVERFLOW = '3.4028235677973366e38'; // max + half an ulp: from here on, round-to-nearest gives Infinity

function toFloat32Sql(v: string): string {
  return (
    `(CASE WHEN isnan(${v}) THEN 'NaN'::FLOAT WHEN ${v} >= ${F32_OVERFLOW} THEN 'inf'::FLOAT WHEN ${v} <= -${F32_OVERFLOW} THEN '-inf'::FLOAT ` +
    `WHEN ${v} > ${F32_MAX} THEN ${F32_MAX}::FLOAT WHEN ${v} < -${F32_MAX} THEN -${F32_MAX}::FLOAT ELSE CAST(${v} AS FLOAT) END)`
  );
}
