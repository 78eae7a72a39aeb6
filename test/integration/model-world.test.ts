import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { capturingIo } from '../../src/cli/test-io.js';
import {
  buildDelayedLabels,
  buildFeatureColumns,
  matrixFromTable,
  readTable,
  selectRows,
  type Table,
  trainModel,
} from '../../src/model/index.js';
import { generateWorld } from '../../src/world/index.js';

const HILLSTROM = '/work/shared/datasets/hillstrom/hillstrom.csv.gz';

function texts(t: Table, name: string): (string | null)[] {
  return t.columns.find((c) => c.name === name)?.texts ?? [];
}
function numbers(t: Table, name: string): Float64Array {
  return t.columns.find((c) => c.name === name)?.numbers ?? new Float64Array(0);
}

describe('delayed labels on a simulated World (sends + outcomes)', () => {
  let dir: string;
  let endTs: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-model-world-'));
    const manifest = await generateWorld({ outDir: join(dir, 'w'), users: 600, days: 8, seed: 5, features: 16 });
    endTs = manifest.endTs;
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('labels mature sends, excludes or weights immature ones, and trains on campaign features', async () => {
    const sends = await readTable(join(dir, 'w', 'sends.parquet'));
    const outcomes = await readTable(join(dir, 'w', 'outcomes.parquet'));
    const sendIds = texts(sends, 'send_id') as string[];
    const sendTs = numbers(sends, 'send_ts');
    const oc = {
      sendId: texts(outcomes, 'send_id') as string[],
      kind: texts(outcomes, 'kind') as string[],
      outcomeTs: numbers(outcomes, 'outcome_ts'),
    };
    const window = 48 * 3_600_000;
    const excl = buildDelayedLabels({ sendId: sendIds, sendTs }, oc, { goal: 'open', asOfMs: endTs, windowMs: window });
    const weighted = buildDelayedLabels({ sendId: sendIds, sendTs }, oc, {
      goal: 'open',
      asOfMs: endTs,
      windowMs: window,
      immature: 'weight',
    });
    // every send of the last 48 h is immature
    let young = 0;
    for (const t of sendTs) if (t + window > endTs && t <= endTs) young++;
    expect(excl.immatureExcluded).toBe(young);
    expect(weighted.immatureKept).toBe(young);
    expect(excl.mature + young).toBe(weighted.rows.length);
    // kept immature sends: positives are final (weight 1); negatives weigh the chance their label is final,
    // so the youngest ones (younger than most open delays) weigh less than 1
    let discounted = 0;
    for (let k = 0; k < weighted.rows.length; k++) {
      const w = weighted.weights[k] as number;
      expect(w).toBeGreaterThanOrEqual(0);
      expect(w).toBeLessThanOrEqual(1);
      if (weighted.labels[k] === 1) expect(w).toBe(1);
      if (w < 1) discounted++;
    }
    expect(discounted).toBeGreaterThan(0);
    const positives = excl.labels.reduce((s, v) => s + v, 0);
    expect(positives).toBeGreaterThan(0);
    expect(positives).toBeLessThan(excl.labels.length);

    // campaign features from the send row (channel, vertical) plus hour of day
    const columns = buildFeatureColumns(
      { rows: sends.rows, columns: sends.columns.filter((c) => c.name === 'channel' || c.name === 'vertical') },
      new Set(),
    );
    const base = matrixFromTable(sends, columns);
    const hour = Float32Array.from(sendTs, (t) => new Date(t).getUTCHours());
    const values = new Float32Array(sends.rows * 3);
    values.set(base.values, 0);
    values.set(hour, sends.rows * 2);
    const all = { rows: sends.rows, columns: [...base.columns, 'hour'], values };
    const m = selectRows(all, excl.rows);
    const result = trainModel(m, excl.labels, [...columns, { name: 'hour', kind: 'numeric' }], {
      gbdt: { trees: 20, maxDepth: 3 },
      time: Float64Array.from(excl.rows, (r) => sendTs[r] as number),
    });
    expect(result.test?.rows).toBeGreaterThan(0);
    expect(Number.isFinite(result.test?.logLoss)).toBe(true);
    expect(Date.parse(result.artifact.header.training?.window?.to as string)).toBeLessThanOrEqual(endTs - window);
  });
});

describe.skipIf(!existsSync(HILLSTROM))(
  `generic CLI on the full real Hillstrom file${existsSync(HILLSTROM) ? '' : ` (skipped: ${HILLSTROM} not present)`}`,
  () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'adnova-model-hillstrom-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('trains on all 64,000 rows (gzip CSV) and scores them', async () => {
      const io = capturingIo();
      const out = join(dir, 'm');
      const code = await runCli(
        [
          'model',
          'train',
          '--data',
          HILLSTROM,
          '--label',
          'visit',
          '--exclude',
          'conversion,spend',
          '--out',
          out,
          '--trees',
          '30',
          '--max-depth',
          '4',
          '--segments',
          'channel',
          '--json',
        ],
        io,
      );
      expect(io.stderr()).toBe('');
      expect(code).toBe(0);
      const s = JSON.parse(io.stdout());
      expect(s.rows.train.count + s.rows.validation.count + s.rows.test.count).toBe(64_000);
      expect(s.categorical).toBe(4);
      expect(s.test.rocAuc).toBeGreaterThan(0.6);
      const scoreIo = capturingIo();
      expect(
        await runCli(
          ['model', 'score', '--model', out, '--data', HILLSTROM, '--out', join(dir, 'scored.parquet'), '--json'],
          scoreIo,
        ),
      ).toBe(0);
      expect(JSON.parse(scoreIo.stdout()).rows).toBe(64_000);
    });
  },
);
