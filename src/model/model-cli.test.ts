import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../cli/test-io.js';
import { Rng } from '../core/index.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'adnova-model-cli-'));
  // ';'-separated, quoted headers with spaces, a text column, a yes/no label, some empty cells
  const rng = new Rng(5);
  const lines = ['"days since open";"opens 30d";"channel";"clicked"'];
  for (let r = 0; r < 3000; r++) {
    const days = rng.int(60);
    const opens = rng.int(10);
    const ch = ['email', 'push', 'in-app'][rng.int(3)] as string;
    const z = -0.5 - 0.05 * days + 0.3 * opens + (ch === 'push' ? 0.7 : 0);
    const y = rng.next() < 1 / (1 + Math.exp(-z)) ? 'yes' : 'no';
    lines.push(`${rng.next() < 0.05 ? '' : days};${opens};${ch};${y}`);
  }
  writeFileSync(join(dir, 'train.csv'), `${lines.join('\n')}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('adnova model (generic CLI)', () => {
  it('train -> score -> eval on a CSV with a custom separator and quoted headers', async () => {
    const out = join(dir, 'm');
    const t = await runCliCaptured([
      'model',
      'train',
      '--data',
      join(dir, 'train.csv'),
      '--sep',
      ';',
      '--label',
      'clicked',
      '--out',
      out,
      '--trees',
      '40',
      '--max-depth',
      '4',
      '--segments',
      'channel',
      '--json',
    ]);
    expect(t.err).toBe('');
    expect(t.code).toBe(0);
    const summary = JSON.parse(t.out);
    expect(summary.features).toBe(3);
    expect(summary.categorical).toBe(1);
    expect(summary.rows.test).toEqual({ count: 900, firstRow: 2101, lastRow: 3000 });
    expect(summary.testRaw.rocAuc).toBeGreaterThan(0.7);
    expect(summary.test.rocAuc).toBeGreaterThan(0.7);
    expect(summary.trainingTimeMs).toBeGreaterThanOrEqual(0);

    const scored = join(dir, 'scored.csv');
    const s = await runCliCaptured([
      'model',
      'score',
      '--model',
      out,
      '--data',
      join(dir, 'train.csv'),
      '--sep',
      ';',
      '--out',
      scored,
    ]);
    expect(s.code).toBe(0);
    const lines = readFileSync(scored, 'utf8').trim().split('\n');
    expect(lines.length).toBe(3001);
    expect(lines[0]).toContain('score');
    const parquet = join(dir, 'scored.parquet');
    expect(
      (
        await runCliCaptured([
          'model',
          'score',
          '--model',
          out,
          '--data',
          join(dir, 'train.csv'),
          '--sep',
          ';',
          '--out',
          parquet,
        ])
      ).code,
    ).toBe(0);
    expect(existsSync(parquet)).toBe(true);

    const e = await runCliCaptured([
      'model',
      'eval',
      '--model',
      out,
      '--data',
      join(dir, 'train.csv'),
      '--sep',
      ';',
      '--label',
      'clicked',
      '--segments',
      'channel',
      '--json',
    ]);
    expect(e.code).toBe(0);
    const ev = JSON.parse(e.out);
    expect(ev.overall.rows).toBe(3000);
    expect(Object.keys(ev.bySegment.channel).sort()).toEqual(['email', 'in-app', 'push']);
    const text = await runCliCaptured([
      'model',
      'eval',
      '--model',
      out,
      '--data',
      join(dir, 'train.csv'),
      '--sep',
      ';',
      '--label',
      'clicked',
    ]);
    expect(text.out).toMatch(/ROC AUC 0\.\d{4}/);
    expect(text.out).toMatch(/top 10%/);
  });

  it('train --validation-fraction 0 --test-fraction 0 trains on every row and says there is no calibration', async () => {
    const out = join(dir, 'm-noval');
    const t = await runCliCaptured([
      'model',
      'train',
      '--data',
      join(dir, 'train.csv'),
      '--sep',
      ';',
      '--label',
      'clicked',
      '--out',
      out,
      '--trees',
      '10',
      '--test-fraction',
      '0',
      '--validation-fraction',
      '0',
    ]);
    expect(t.err).toBe('');
    expect(t.code).toBe(0);
    expect(t.out).toContain('trained gbdt (10 trees) on 3000 rows');
    expect(t.out).toContain('split by file order: train 3000 (rows 1-3000), validation 0, test 0');
    expect(t.out).toContain('calibration none (asked: auto)');
    expect(t.out).toContain(
      'warning: no validation rows (validation fraction 0): no early stopping and no calibration',
    );
    const d = await runCliCaptured(['model', 'describe', '--model', out]);
    expect(d.out).toContain('warning: no validation rows');
    const es = await runCliCaptured([
      'model',
      'train',
      '--data',
      join(dir, 'train.csv'),
      '--sep',
      ';',
      '--label',
      'clicked',
      '--out',
      join(dir, 'x'),
      '--validation-fraction',
      '0',
      '--early-stopping',
      '5',
    ]);
    expect(es.code).toBe(2);
    expect(es.err).toMatch(/early stopping \(5 rounds\) needs validation rows/);
    const j = await runCliCaptured([
      'model',
      'train',
      '--data',
      join(dir, 'train.csv'),
      '--sep',
      ';',
      '--label',
      'clicked',
      '--out',
      join(dir, 'y'),
      '--trees',
      '40',
      '--early-stopping',
      '3',
      '--refit',
      '--json',
    ]);
    expect(j.code).toBe(0);
    const s = JSON.parse(j.out);
    expect(s.split).toEqual({ by: 'row-order', testFraction: 0.3, validationFraction: 0.2, refit: true });
    expect(s.rows.train).toEqual({ count: 1680, firstRow: 1, lastRow: 1680 });
    expect(s.rows.validation).toEqual({ count: 420, firstRow: 1681, lastRow: 2100 });
    const help = await runCliCaptured(['model', 'train', '--help']);
    expect(help.out).toMatch(/--validation-fraction <f>/);
    expect(help.out).toMatch(/never trained on unless --refit/);
  });

  it('imports an XGBoost model and scores a file with it', async () => {
    const out = join(dir, 'xgb');
    const fixture = join(import.meta.dirname, 'fixtures', 'xgboost-numeric.model.json');
    const r = await runCliCaptured([
      'model',
      'import',
      '--format',
      'xgboost-json',
      '--file',
      fixture,
      '--out',
      out,
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).trees).toBe(25);
    const d = await runCliCaptured(['model', 'describe', '--model', out]);
    expect(d.out).toMatch(/xgboost-json, 25 trees/);
    expect((await runCliCaptured(['model', 'import', '--format', 'onnx', '--file', fixture, '--out', out])).code).toBe(
      2,
    );
  });

  it('registers, lists, promotes and rolls back', async () => {
    const registry = join(dir, 'registry');
    const data = join(dir, 'train.csv');
    for (let i = 0; i < 2; i++) {
      const t = await runCliCaptured([
        'model',
        'train',
        '--data',
        data,
        '--sep',
        ';',
        '--label',
        'clicked',
        '--out',
        join(dir, `r${i}`),
        '--trees',
        '5',
        '--register',
        'clicks',
        '--goal',
        'click',
        '--registry',
        registry,
      ]);
      expect(t.code).toBe(0);
    }
    expect((await runCliCaptured(['model', 'promote', 'clicks@v1', '--registry', registry])).code).toBe(0);
    expect((await runCliCaptured(['model', 'promote', 'clicks@v2', '--registry', registry])).out).toMatch(
      /was clicks@v1/,
    );
    const list = JSON.parse((await runCliCaptured(['model', 'list', '--registry', registry, '--json'])).out);
    expect(list.map((e: { role: string | null }) => e.role)).toEqual([null, 'champion']);
    expect((await runCliCaptured(['model', 'rollback', 'click', '--registry', registry])).out).toMatch(
      /clicks@v2 -> clicks@v1/,
    );
    expect((await runCliCaptured(['model', 'describe', 'clicks@v1', '--registry', registry])).out).toMatch(
      /gbdt, 5 trees/,
    );
    expect((await runCliCaptured(['model', 'promote', 'clicks@v7', '--registry', registry])).code).toBe(2);
  });

  describe('bad input exits 2 with a clear message', () => {
    const cases: Array<[string, () => string, string[], RegExp]> = [
      [
        'missing label column',
        () => join(dir, 'train.csv'),
        ['--sep', ';', '--label', 'converted'],
        /label column "converted" is not in the data; columns are: "days since open"/,
      ],
      [
        'a label with three values',
        () => {
          const f = join(dir, 'three.csv');
          writeFileSync(f, 'x,y\n1,0\n2,1\n3,2\n4,1\n');
          return f;
        },
        ['--label', 'y'],
        /label column "y" has 3 distinct values .*expected two/,
      ],
      [
        'an empty file',
        () => {
          const f = join(dir, 'empty.csv');
          writeFileSync(f, '');
          return f;
        },
        ['--label', 'y'],
        /is empty \(0 bytes\)/,
      ],
      [
        'a header without rows',
        () => {
          const f = join(dir, 'header.csv');
          writeFileSync(f, 'x,y\n');
          return f;
        },
        ['--label', 'y'],
        /no rows/,
      ],
      [
        'non-UTF-8 text',
        () => {
          const f = join(dir, 'latin1.csv');
          writeFileSync(f, Buffer.from([...Buffer.from('x,y\ncaf'), 0xe9, ...Buffer.from(',1\nabc,0\n')]));
          return f;
        },
        ['--label', 'y'],
        /not UTF-8/,
      ],
      [
        'a bad hyper-parameter',
        () => join(dir, 'train.csv'),
        ['--sep', ';', '--label', 'clicked', '--max-bins', '300'],
        /--max-bins must be an integer >= 2 and <= 255, got "300"/,
      ],
    ];
    for (const [name, file, args, message] of cases) {
      it(name, async () => {
        const r = await runCliCaptured(['model', 'train', '--data', file(), '--out', join(dir, 'bad'), ...args]);
        expect(r.code).toBe(2);
        expect(r.err).toMatch(message);
        expect(r.err).not.toMatch(/\n\s+at /); // no stack trace for input errors
      });
    }
  });
});
