import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { compileExpressionJs, compileExpressionSql, expressionRefs, parseExpression } from './transform-expression.js';

const EXPRESSIONS = [
  'a.x + a.y * 2.5 - 1',
  'a.x / a.y',
  'log(a.x) - log(a.y + 1)',
  'sqrt(abs(a.x)) * -a.y',
  'min(a.x, a.y) + max(a.x, 0.001)',
  'log(max(a.x, a.y) / (a.x * a.x + 1e-3))',
  '-(a.x - a.y) / (1 + abs(a.y))',
];

/** Inputs that stress every pinned semantic: zeros, negatives, NaN, huge and tiny values. */
function randomInputs(rng: Rng, n: number): Float32Array[] {
  const special = [0, -0, 1, -1, Number.NaN, 3.4e38, -3.4e38, 1e-30, 0.5];
  const col = () =>
    Float32Array.from({ length: n }, () =>
      rng.next() < 0.2 ? (special[rng.int(special.length)] as number) : (rng.next() - 0.3) * 10 ** (rng.int(12) - 4),
    );
  return [col(), col()];
}

// The batch form runs in DuckDB over a whole column; the online form runs per row in JS: outputs must be identical.
// (The test reaches DuckDB directly because the SQL text itself is under test.)
describe('transform parity: batch (DuckDB) vs online (JS)', () => {
  it('gives bit-identical float32 outputs on random inputs', async () => {
    const rng = new Rng(42);
    const n = 2000;
    const [xs, ys] = randomInputs(rng, n) as [Float32Array, Float32Array];
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    try {
      await conn.run('CREATE TABLE t (i INTEGER, x FLOAT, y FLOAT)');
      const app = await conn.createAppender('t');
      for (let i = 0; i < n; i++) {
        app.appendInteger(i);
        app.appendFloat(xs[i] as number);
        app.appendFloat(ys[i] as number);
        app.endRow();
      }
      app.flushSync();
      app.closeSync();
      for (const src of EXPRESSIONS) {
        const expr = parseExpression(src);
        const refs = expressionRefs(expr);
        const sql = compileExpressionSql(expr, (ref) => (ref === 'a.x' ? 'x' : 'y'));
        const r = await conn.runAndReadAll(`SELECT ${sql} FROM t ORDER BY i`);
        const batch = r.getRows().map((row) => (row[0] === null ? Number.NaN : Number(row[0])));
        const fn = compileExpressionJs(expr);
        let mismatches = 0;
        const first: string[] = [];
        for (let i = 0; i < n; i++) {
          const inputs = refs.map((ref) => (ref === 'a.x' ? (xs[i] as number) : (ys[i] as number)));
          const online = fn(inputs);
          const same =
            Object.is(online, batch[i]) || (Number.isNaN(online) && Number.isNaN(batch[i])) || online === batch[i];
          if (!same) {
            mismatches++;
            if (first.length < 3) first.push(`x=${xs[i]} y=${ys[i]} online=${online} batch=${batch[i]}`);
          }
        }
        expect(mismatches, `${src}: ${first.join('; ')}`).toBe(0);
      }
    } finally {
      conn.closeSync();
      inst.closeSync();
    }
  });
});
