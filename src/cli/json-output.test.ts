import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { FeatureStore, worldDefinitionsPath } from '../features/index.js';
import { generateWorld } from '../world/index.js';
import { nonCamelKeys } from './json-keys.js';
import { runCliCaptured } from './test-io.js';

// Every command's --json output, run on a small World and small CSV files, checked key by key. Keys that are data
// (names chosen by the user or found in the data) are listed per command, as paths:
// - world generate/import `rows`, world info `tables`: table names; world info `params` (the simulation's or the
//   importer's parameters, passed through as given), `vocabularies` (column name -> its values, in the data's own
//   snake_case naming) and `stats` (figures named after data values: defect kinds, Hillstrom segments);
// - features describe `offlineRows`: view versions (`v1`); stream backfill `rows`: view names;
// - model eval/describe `bySegment`: segment column -> segment value -> metrics;
// - audience evaluate `models`, `byChannel`, `byGoal`: goal and channel names.
// `adnova stream run` (it needs Redis or NATS) is checked the same way in test/integration/stream-run-cli.test.ts,
// `adnova demo` in cli.test.ts.
const DATASETS = process.env['ADNOVA_DATASETS'] ?? join(import.meta.dirname, '../../../shared/datasets');

let root: string;
let worldDir: string;
let storeDir: string;
let labels: string;
let csvRef: string;
let csvCur: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'adnova-json-keys-'));
  worldDir = join(root, 'world');
  storeDir = join(root, 'features');
  await generateWorld({ outDir: worldDir, users: 300, days: 4, seed: 3, features: 16 });
  labels = join(root, 'labels.parquet');
  const helper = await FeatureStore.open({ dir: join(root, 'helper') });
  try {
    await helper.offline.execute(
      `COPY (SELECT user_id, send_ts AS ts, hour(epoch_ms(send_ts)) AS hour_of_day, send_id FROM read_parquet('${join(worldDir, 'sends.parquet')}')) TO '${labels}' (FORMAT parquet)`,
    );
  } finally {
    await helper.close();
  }
  const rng = new Rng(4);
  const table = (shift: number): string => {
    const lines = ['user_id,days_since_open,opens_30d,channel,clicked,p_true'];
    for (let r = 0; r < 2500; r++) {
      const days = rng.int(60) + shift * 20;
      const opens = rng.int(10);
      const ch = ['email', 'push', 'in_app'][rng.int(3)] as string;
      const z = -0.5 - 0.05 * days + 0.3 * opens + (ch === 'push' ? 0.7 : 0);
      const p = 1 / (1 + Math.exp(-z));
      lines.push(`u${r},${days},${opens},${ch},${rng.next() < p ? 1 : 0},${p.toFixed(4)}`);
    }
    return `${lines.join('\n')}\n`;
  };
  csvRef = join(root, 'ref.csv');
  csvCur = join(root, 'cur.csv');
  writeFileSync(csvRef, table(0));
  writeFileSync(csvCur, table(1));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function json(args: readonly string[]): Promise<unknown> {
  const r = await runCliCaptured([...args, '--json']);
  expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
  return JSON.parse(r.out) as unknown;
}

const violations: Record<string, string[]> = {};
function check(name: string, value: unknown, dataPaths: readonly string[] = []): void {
  const bad = nonCamelKeys(value, dataPaths);
  if (bad.length > 0) violations[name] = bad;
}

describe('every --json output has camelCase keys', () => {
  it('version, config', async () => {
    check('version', await json(['version']));
    check('config show', await json(['config', 'show']));
    expect(violations).toEqual({});
  });

  it('world, features, stream', async () => {
    check(
      'world generate',
      await json(['world', 'generate', '--out', join(root, 'w2'), '--users', '50', '--days', '2', '--features', '16']),
      ['rows'],
    );
    check('world info', await json(['world', 'info', '--dir', worldDir]), [
      'tables',
      'params',
      'vocabularies',
      'stats',
    ]);
    // the importers on the first rows of the real files, when they are here
    for (const [source, file, rows] of [
      ['hillstrom', 'hillstrom/hillstrom.csv.gz', 400],
      ['online-retail', 'online-retail/online-retail.csv.gz', 3000],
    ] as const) {
      const path = join(DATASETS, file);
      if (!existsSync(path)) {
        console.warn(`[skip] world import ${source}: ${path} not found`);
        continue;
      }
      const slice = join(root, `${source}.csv`);
      const lines = gunzipSync(readFileSync(path))
        .toString('utf8')
        .split('\n', rows + 1);
      writeFileSync(slice, `${lines.join('\n')}\n`);
      const out = join(root, `import-${source}`);
      check(`world import ${source}`, await json(['world', 'import', source, '--file', slice, '--out', out]), ['rows']);
      check(`world info ${source}`, await json(['world', 'info', '--dir', out]), [
        'tables',
        'params',
        'vocabularies',
        'stats',
      ]);
    }
    const f = (...a: string[]) => ['features', ...a, '--store', storeDir];
    check('features apply', await json(f('apply', '--file', worldDefinitionsPath())));
    check('features list', await json(f('list')));
    check('features describe', await json(f('describe', 'user_batch')), ['offlineRows']);
    check('features import', await json(f('import', '--view', 'user_batch', '--source-root', worldDir)));
    check(
      'features training-set',
      await json(
        f('training-set', '--labels', labels, '--service', 'audience_scoring', '--out', join(root, 'ts.parquet')),
      ),
    );
    check('features materialize', await json(f('materialize', '--as-of', String(Date.UTC(2030, 0, 1)))));
    check(
      'features parity',
      await json(f('parity', '--service', 'audience_scoring', '--at', String(Date.UTC(2030, 0, 1)), '--sample', '50')),
    );
    check('features freshness', await json(f('freshness', '--at', String(Date.UTC(2030, 0, 1)))));
    check(
      'stream parity',
      await json(['stream', 'parity', '--world', worldDir, '--bus', 'memory', '--checkpoints', '2']),
    );
    check(
      'stream backfill',
      await json([
        'stream',
        'backfill',
        '--world',
        worldDir,
        '--store',
        join(root, 'bf'),
        '--definitions',
        worldDefinitionsPath(),
      ]),
      ['rows'],
    );
    expect(violations).toEqual({});
  }, 240_000);

  it('model, monitor', async () => {
    const m = join(root, 'model');
    const reg = join(root, 'registry');
    check(
      'model train',
      await json([
        'model',
        'train',
        '--data',
        csvRef,
        '--label',
        'clicked',
        '--exclude',
        'user_id,p_true',
        '--out',
        m,
        '--trees',
        '20',
        '--register',
        'clicks',
        '--registry',
        reg,
        '--segments',
        'channel',
      ]),
    );
    check(
      'model score',
      await json(['model', 'score', '--model', m, '--data', csvCur, '--out', join(root, 'scored.csv')]),
    );
    check(
      'model eval',
      await json(['model', 'eval', '--model', m, '--data', csvCur, '--label', 'clicked', '--segments', 'channel']),
      ['bySegment', 'bySegment.*'],
    );
    check('model describe', await json(['model', 'describe', '--model', m]), [
      'metrics.bySegment',
      'metrics.bySegment.*',
    ]);
    await json([
      'model',
      'train',
      '--data',
      csvCur,
      '--label',
      'clicked',
      '--exclude',
      'user_id,p_true',
      '--out',
      join(root, 'model2'),
      '--trees',
      '5',
      '--register',
      'clicks',
      '--registry',
      reg,
    ]);
    check('model list', await json(['model', 'list', '--registry', reg]));
    check('model promote', await json(['model', 'promote', 'clicks@v1', '--registry', reg]));
    await json(['model', 'promote', 'clicks@v2', '--registry', reg]);
    check('model rollback', await json(['model', 'rollback', 'default', '--registry', reg]));
    check(
      'model import',
      await json([
        'model',
        'import',
        '--format',
        'xgboost-json',
        '--file',
        join(import.meta.dirname, '../model/fixtures/xgboost-numeric.model.json'),
        '--out',
        join(root, 'imported'),
      ]),
    );
    const prof = join(root, 'profile.json');
    check('monitor profile', await json(['monitor', 'profile', '--data', csvRef, '--out', prof]));
    check(
      'monitor drift --reference',
      await json([
        'monitor',
        'drift',
        '--reference',
        csvRef,
        '--current',
        csvCur,
        '--exclude',
        'user_id',
        '--label-col',
        'clicked',
        '--multivariate',
      ]),
    );
    check(
      'monitor drift --reference-profile',
      await json(['monitor', 'drift', '--reference-profile', prof, '--current', csvCur]),
    );
    check('monitor drift --model', await json(['monitor', 'drift', '--model', m, '--current', csvCur]));
    check(
      'monitor estimate',
      await json(['monitor', 'estimate', '--data', csvCur, '--score-col', 'p_true', '--label-col', 'clicked']),
    );
    check('monitor skew', await json(['monitor', 'skew', '--left', csvRef, '--right', csvCur, '--key', 'user_id']));
    expect(violations).toEqual({});
  }, 240_000);

  it('campaign, audience', async () => {
    const reg = join(root, 'campaigns');
    check('campaign import', await json(['campaign', 'import', '--world', worldDir, '--registry', reg]));
    const list = (await json(['campaign', 'list', '--registry', reg])) as { campaigns: { id: string }[] };
    check('campaign list', list);
    const id = list.campaigns[0]?.id as string;
    check('campaign describe', await json(['campaign', 'describe', id, '--registry', reg]));
    check('campaign pause', await json(['campaign', 'pause', id, '--registry', reg]));
    check('campaign resume', await json(['campaign', 'resume', id, '--registry', reg]));
    const spec = join(root, 'campaign.json');
    // a spec as `campaign list` prints it, without the registry's own fields
    const { status: _status, version: _version, ...firstSpec } = list.campaigns[0] as Record<string, unknown>;
    writeFileSync(spec, JSON.stringify({ ...firstSpec, id: 'json-keys-campaign' }));
    check(
      'campaign create',
      await json(['campaign', 'create', '--file', spec, '--registry', join(root, 'campaigns2')]),
    );
    check(
      'audience evaluate',
      await json([
        'audience',
        'evaluate',
        '--world',
        worldDir,
        '--max-campaigns',
        '3',
        '--trees',
        '5',
        '--work-dir',
        join(root, 'eval'),
      ]),
      ['models', 'byChannel', 'byGoal'],
    );
    expect(violations).toEqual({});
  }, 240_000);
});

/** Runs a failing command with --json: stdout empty, stderr one `{ error: { code, message, details? } }` object. */
async function jsonError(args: readonly string[]): Promise<{ exit: number; code: string; message: string }> {
  const r = await runCliCaptured([...args, '--json']);
  expect(r.out, args.join(' ')).toBe('');
  const parsed = JSON.parse(r.err) as { error: { code: string; message: string; details?: unknown } };
  expect(Object.keys(parsed), args.join(' ')).toEqual(['error']);
  expect(
    Object.keys(parsed.error).filter((k) => k !== 'details'),
    args.join(' '),
  ).toEqual(['code', 'message']);
  expect(parsed.error.code).toMatch(/^[A-Z][A-Z0-9_]*$/);
  expect(parsed.error.message.length).toBeGreaterThan(0);
  expect(nonCamelKeys(parsed)).toEqual([]);
  return { exit: r.code, code: parsed.error.code, message: parsed.error.message };
}

describe('with --json every command group reports an error as one JSON object on stderr', () => {
  // exit 2: the user's input (usage, values, files); exit 1: a failure that is not the input's fault (corrupt state)
  let bad: string;
  beforeAll(async () => {
    bad = join(root, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'model.json'), '{ not json');
    writeFileSync(join(bad, 'spec.json'), '{ "channel": "fax" }');
    mkdirSync(join(bad, 'campaigns'));
    writeFileSync(join(bad, 'campaigns', 'campaigns.json'), '{ not json');
    // a profile that claims the format but whose sketch does not decode
    expect(
      (await runCliCaptured(['monitor', 'profile', '--data', csvRef, '--out', join(bad, 'profile.json')])).code,
    ).toBe(0);
    const profile = JSON.parse(readFileSync(join(bad, 'profile.json'), 'utf8')) as { features: { hll: unknown }[] };
    for (const f of profile.features) f.hll = 'AAAA'; // 3 registers
    writeFileSync(join(bad, 'profile.json'), JSON.stringify(profile));
  });

  it('world', async () => {
    expect(await jsonError(['world', 'generate', '--users', 'many', '--out', join(root, 'x')])).toEqual({
      exit: 2,
      code: 'INVALID_INPUT',
      message: '--users expects a non-negative integer, got "many"',
    });
    expect(await jsonError(['world', 'info', '--dir', join(root, 'nothing')])).toMatchObject({
      exit: 2,
      code: 'NOT_FOUND',
    });
  });

  it('features', async () => {
    expect(
      await jsonError([
        'features',
        'training-set',
        '--store',
        join(root, 'empty-store'),
        '--labels',
        labels,
        '--service',
        'nope',
        '--out',
        join(root, 'o.parquet'),
      ]),
    ).toMatchObject({ exit: 2, code: 'FEATURE_NOT_FOUND' });
    const store = join(root, 'corrupt-store');
    mkdirSync(store);
    writeFileSync(join(store, 'registry.json'), '{ not json');
    expect(await jsonError(['features', 'list', '--store', store])).toMatchObject({
      exit: 1,
      code: 'BACKEND_UNAVAILABLE',
    });
  });

  it('stream', async () => {
    expect(await jsonError(['stream', 'parity', '--world', worldDir, '--lateness', 'soon'])).toMatchObject({
      exit: 2,
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/^--lateness expects a duration/),
    });
    expect(await jsonError(['stream', 'run', '--bus', 'memory'])).toMatchObject({ exit: 2, code: 'INVALID_INPUT' });
    expect(await jsonError(['stream', 'backfill', '--store', join(root, 'bf2')])).toMatchObject({
      exit: 2,
      code: 'INVALID_INPUT',
    });
  });

  it('model', async () => {
    expect(
      await jsonError(['model', 'train', '--data', csvRef, '--label', 'nope', '--out', join(root, 'x')]),
    ).toMatchObject({
      exit: 2,
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/^label column "nope" is not in the data/),
    });
    expect(
      await jsonError([
        'model',
        'train',
        '--data',
        csvRef,
        '--label',
        'clicked',
        '--out',
        join(root, 'x'),
        '--trees',
        'many',
      ]),
    ).toMatchObject({ exit: 2, code: 'INVALID_INPUT' });
    expect(
      await jsonError(['model', 'score', '--model', bad, '--data', csvRef, '--out', join(root, 'x.csv')]),
    ).toMatchObject({ exit: 1, code: 'MODEL_ARTIFACT_INVALID' });
  });

  it('monitor', async () => {
    expect(await jsonError(['monitor', 'drift', '--current', csvRef])).toMatchObject({
      exit: 2,
      code: 'INVALID_INPUT',
    });
    expect(await jsonError(['monitor', 'estimate', '--data', csvRef, '--score-col', 'nope'])).toMatchObject({
      exit: 2,
      code: 'INVALID_INPUT',
    });
    expect(
      await jsonError(['monitor', 'drift', '--reference-profile', join(bad, 'profile.json'), '--current', csvRef]),
    ).toMatchObject({ exit: 1, code: 'MONITOR_PROFILE_CORRUPT' });
  });

  it('campaign, audience', async () => {
    expect(
      await jsonError(['campaign', 'create', '--file', join(bad, 'spec.json'), '--registry', join(root, 'c3')]),
    ).toMatchObject({
      exit: 2,
      code: 'CAMPAIGN_SPEC_INVALID',
      message: expect.stringContaining('channel: expected one of email, push, in_app (got "fax")'),
    });
    expect(await jsonError(['campaign', 'describe', 'nope', '--registry', join(bad, 'campaigns')])).toMatchObject({
      exit: 1,
      code: 'DECISION_INDEX_CORRUPT',
    });
    expect(await jsonError(['audience', 'evaluate', '--world', worldDir, '--train-fraction', '2'])).toMatchObject({
      exit: 2,
      code: 'INVALID_INPUT',
    });
  });
});
