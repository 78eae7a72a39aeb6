import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { FeatureStore, worldDefinitionsPath } from '../features/index.js';
import { generateWorld } from '../world/index.js';
import { fakeTerminal, runCliCaptured } from './test-io.js';

// Each long command draws its bar on a terminal and clears it; without a terminal (tests, CI, pipes) or with --json
// nothing is drawn and the output is the same.

const CLEAR_LINE = '\x1b[2K';
let root: string;
let csv: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'adnova-progress-'));
  const rng = new Rng(8);
  const lines = ['days,opens,channel,clicked'];
  for (let r = 0; r < 3000; r++) {
    const days = rng.int(60);
    const opens = rng.int(10);
    const ch = ['email', 'push', 'in_app'][rng.int(3)] as string;
    const z = -0.5 - 0.05 * days + 0.3 * opens + (ch === 'push' ? 0.7 : 0);
    lines.push(`${days},${opens},${ch},${rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0}`);
  }
  csv = join(root, 'data.csv');
  writeFileSync(csv, `${lines.join('\n')}\n`);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Timings differ from run to run; everything else must not. */
const untimed = (text: string): string => text.replace(/\d+ ms/g, 'N ms');

async function expectBar(args: readonly string[], label: string, final: RegExp): Promise<void> {
  const terminal = fakeTerminal();
  const withBar = await runCliCaptured(args, terminal);
  expect(withBar.code, withBar.err).toBe(0);
  const drawn = terminal.text();
  expect(drawn).toContain(`${label} [`);
  expect(drawn).toMatch(final);
  expect(drawn.endsWith(CLEAR_LINE), JSON.stringify(drawn.slice(-40))).toBe(true);
  const plain = await runCliCaptured(args);
  expect(plain.code).toBe(0);
  expect(untimed(plain.out)).toBe(untimed(withBar.out));
  expect(plain.err).toBe(withBar.err);
  const json = fakeTerminal();
  expect((await runCliCaptured([...args, '--json'], json)).code).toBe(0);
  expect(json.text()).toBe('');
}

describe('progress bars of the long commands', () => {
  it('model train: one step per tree; model score: bytes of the CSV', async () => {
    const model = join(root, 'm');
    const train = ['model', 'train', '--data', csv, '--label', 'clicked', '--out', model, '--trees', '25'];
    await expectBar(train, 'train (trees)', /100% \| 25\/25/);
    const kB = (readFileSync(csv).length / 1e3).toFixed(1);
    await expectBar(
      ['model', 'score', '--model', model, '--data', csv, '--out', join(root, 'scored.csv')],
      'score',
      new RegExp(`100% \\| ${kB} kB/${kB} kB`),
    );
    // refit: the second fit's trees count after the first's
    await expectBar([...train, '--refit'], 'train (trees)', /100% \| 50\/50/);
  });

  it('monitor drift: steps for the tables read and the column groups compared', async () => {
    await expectBar(['monitor', 'drift', '--reference', csv, '--current', csv], 'drift (steps)', /100% \| 3\/3/);
    await expectBar(
      ['monitor', 'drift', '--model', join(root, 'm'), '--current', csv],
      'drift (steps)',
      /100% \| 3\/3/,
    );
  });

  it('features training-set: one step per point-in-time stage', async () => {
    const world = join(root, 'world');
    await generateWorld({ outDir: world, users: 200, days: 3, seed: 2, features: 16 });
    const labels = join(root, 'labels.parquet');
    const helper = await FeatureStore.open({ dir: join(root, 'helper') });
    try {
      await helper.offline.execute(
        `COPY (SELECT user_id, send_ts AS ts, hour(epoch_ms(send_ts)) AS hour_of_day, send_id FROM read_parquet('${join(world, 'sends.parquet')}')) TO '${labels}' (FORMAT parquet)`,
      );
    } finally {
      await helper.close();
    }
    const store = join(root, 'store');
    const f = (...a: string[]) => ['features', ...a, '--store', store];
    expect((await runCliCaptured(f('apply', '--file', worldDefinitionsPath()))).code).toBe(0);
    expect((await runCliCaptured(f('import', '--view', 'user_batch', '--source-root', world))).code).toBe(0);
    await expectBar(
      f('training-set', '--labels', labels, '--service', 'audience_scoring', '--out', join(root, 'ts.parquet')),
      'training set (stages)',
      /100% \| (\d+)\/\1 /,
    );
  }, 120_000);
});
