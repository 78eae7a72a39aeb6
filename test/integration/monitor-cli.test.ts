import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../../src/cli/test-io.js';
import { Rng } from '../../src/core/index.js';

const dir = mkdtempSync(join(tmpdir(), 'adnova-monitor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeCsv(name: string, header: string, rows: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${[header, ...rows].join('\n')}\n`);
  return path;
}

function window(seed: number, rows: number, opts: { unitChange?: boolean; mix?: boolean } = {}): string[] {
  const rng = new Rng(seed);
  const out: string[] = [];
  for (let i = 0; i < rows; i++) {
    const age = Math.round(40 + 12 * rng.normal());
    const spend = Math.exp(rng.normal()) * (opts.unitChange ? 100 : 1);
    const channel = rng.next() < (opts.mix ? 0.3 : 0.6) ? 'email' : rng.next() < 0.5 ? 'push' : 'in_app';
    const visits = rng.next() < 0.1 ? '' : String(rng.int(8));
    out.push(`u${seed}_${i},${age},${spend.toFixed(3)},${channel},${visits}`);
  }
  return out;
}

const HEADER = 'user_id,age,spend,channel,visits';
const ref = writeCsv('ref.csv', HEADER, window(1, 4000));
const same = writeCsv('same.csv', HEADER, window(2, 3000));
const drifted = writeCsv('drifted.csv', HEADER, window(3, 3000, { unitChange: true, mix: true }));

describe('adnova monitor drift', () => {
  it('prints the JSON report in the documented format', async () => {
    const refNoId = writeCsv(
      'ref-noid.csv',
      'age,spend,channel,visits',
      window(1, 4000).map((l) => l.split(',').slice(1).join(',')),
    );
    const curNoId = writeCsv(
      'cur-noid.csv',
      'age,spend,channel,visits',
      window(3, 3000, { unitChange: true, mix: true }).map((l) => l.split(',').slice(1).join(',')),
    );
    const { code, out } = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      refNoId,
      '--current',
      curNoId,
      '--json',
    ]);
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(Object.keys(report)).toEqual(['dataset', 'features']);
    expect(Object.keys(report.dataset)).toEqual([
      'rowsReference',
      'rowsCurrent',
      'driftedShare',
      'weightedDriftedShare',
      'drifted',
      'qualityAlarms',
    ]);
    expect(report.dataset.rowsReference).toBe(4000);
    expect(report.dataset.rowsCurrent).toBe(3000);
    const byName = Object.fromEntries(report.features.map((f: { name: string }) => [f.name, f]));
    expect(Object.keys(byName).sort()).toEqual(['age', 'channel', 'spend', 'visits']);
    for (const f of report.features) {
      expect(Object.keys(f)).toEqual([
        'name',
        'kind',
        'nullShareReference',
        'nullShareCurrent',
        'method',
        'score',
        'threshold',
        'pvalue',
        'rank',
        'drifted',
        'stats',
        'quality',
        'alarm',
      ]);
      expect(Object.keys(f.quality)).toEqual(['outOfRangeShare', 'unseenCategoryShare', 'unseenCategories', 'issues']);
      expect(Object.keys(f.stats)).toEqual([
        'ksStatistic',
        'ksPvalue',
        'wassersteinNorm',
        'psi',
        'jsDistance',
        'chi2Statistic',
        'chi2Pvalue',
        'linf',
      ]);
    }
    expect(byName['spend'].drifted).toBe(true);
    expect(byName['spend'].method).toBe('wasserstein');
    expect(byName['spend'].stats.chi2Statistic).toBeNull();
    expect(byName['channel'].kind).toBe('categorical');
    expect(byName['channel'].method).toBe('jensenshannon');
    expect(byName['channel'].drifted).toBe(true);
    expect(byName['channel'].stats.ksStatistic).toBeNull();
    expect(byName['age'].drifted).toBe(false);
    expect(byName['visits'].nullShareCurrent).toBeGreaterThan(0.05);
    expect(byName['visits'].drifted).toBe(false);
    // spend x100: most values above the reference max; visits' 10% nulls are as in the reference
    expect(byName['spend'].quality.outOfRangeShare).toBeGreaterThan(0.5);
    expect(byName['spend'].quality.issues[0]).toMatch(/of values outside the reference range/);
    expect(byName['spend'].alarm).toBe(true);
    expect(byName['visits'].quality.issues).toEqual([]);
    expect(byName['age'].alarm).toBe(false);
    expect(report.dataset.qualityAlarms).toBe(1);
    expect(
      report.features
        .slice(0, 2)
        .map((f: { name: string }) => f.name)
        .sort(),
    ).toEqual(['channel', 'spend']);
  });

  it('writes --out and a self-contained --html report with a sortable table and histograms', async () => {
    const out = join(dir, 'report.json');
    const html = join(dir, 'report.html');
    const r = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      ref,
      '--current',
      drifted,
      '--out',
      out,
      '--html',
      html,
      '--categorical',
      'user_id',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/dataset/);
    expect(JSON.parse(readFileSync(out, 'utf8')).features.length).toBe(5);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    expect((page.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(4);
    expect(page).toMatch(/addEventListener\('click'/);
  });

  it('stores a reference profile and compares against it', async () => {
    const profile = join(dir, 'ref-profile.json');
    const p = await runCliCaptured(['monitor', 'profile', '--data', ref, '--out', profile, '--json']);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.out).features).toBe(5);
    const none = await runCliCaptured([
      'monitor',
      'drift',
      '--reference-profile',
      profile,
      '--current',
      same,
      '--json',
    ]);
    expect(none.code).toBe(0);
    const noneReport = JSON.parse(none.out);
    expect(
      noneReport.features.filter((f: { drifted: boolean; name: string }) => f.drifted && f.name !== 'user_id'),
    ).toEqual([]);
    const yes = await runCliCaptured([
      'monitor',
      'drift',
      '--reference-profile',
      profile,
      '--current',
      drifted,
      '--json',
    ]);
    const names = JSON.parse(yes.out)
      .features.filter((f: { drifted: boolean }) => f.drifted)
      .map((f: { name: string }) => f.name);
    expect(names).toContain('spend');
    expect(names).toContain('channel');
  });

  it('learns thresholds from reference chunks', async () => {
    const r = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      ref,
      '--current',
      same,
      '--learn-thresholds',
      '--chunk-rows',
      '500',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const feats = JSON.parse(r.out).features.filter((f: { name: string }) => f.name !== 'user_id');
    expect(feats.every((f: { method: string }) => f.method === 'wasserstein' || f.method === 'jensenshannon')).toBe(
      true,
    );
    expect(feats.filter((f: { drifted: boolean }) => f.drifted)).toEqual([]);
  });

  it('learns per-day thresholds with --chunk-col for clustered rows (sends come in campaigns)', async () => {
    // each day's rows come from a handful of campaigns, each with one channel: days differ far more than
    // independent rows would, and quiet days (fewer campaigns) more than busy ones
    const rng = new Rng(21);
    const day = (d: number): string[] => {
      const out: string[] = [];
      const campaigns = d % 7 >= 5 ? 4 : 10;
      for (let c = 0; c < campaigns; c++) {
        const channel = ['email', 'push', 'in_app'][rng.next() < 0.5 ? 0 : rng.next() < 0.6 ? 1 : 2];
        const size = 60 + rng.int(80);
        for (let i = 0; i < size; i++) out.push(`2026-03-${String(2 + d).padStart(2, '0')},${channel},${rng.int(5)}`);
      }
      return out;
    };
    const header = 'date,channel,opens';
    const reference = writeCsv('clustered-ref.csv', header, Array.from({ length: 14 }, (_, d) => day(d)).flat());
    const today = writeCsv('clustered-today.csv', header, day(19)); // a quiet day: 4 campaigns
    const defaults = await runCliCaptured(['monitor', 'drift', '--reference', reference, '--current', today, '--json']);
    expect(defaults.code).toBe(0);
    const plain = JSON.parse(defaults.out);
    const byName = Object.fromEntries(plain.features.map((f: { name: string }) => [f.name, f]));
    // compared as a feature, the date is all new (later) values; the channel mix of one day drifts against independent-row noise
    expect(byName['date'].quality.outOfRangeShare).toBe(1); // read as a date: epoch ms
    expect(byName['channel'].drifted).toBe(true);
    const learned = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      reference,
      '--current',
      today,
      '--learn-thresholds',
      '--chunk-col',
      'date',
      '--json',
    ]);
    expect(learned.code).toBe(0);
    const report = JSON.parse(learned.out);
    expect(report.features.map((f: { name: string }) => f.name).sort()).toEqual(['channel', 'opens']);
    const channel = report.features.find((f: { name: string }) => f.name === 'channel');
    // the learned threshold sits above a single day's JS distance from the fortnight
    expect(channel.threshold).toBeGreaterThan(channel.score);
    expect(channel.drifted).toBe(false);
    // the same through a stored profile: the chunk column is remembered and skipped in current files
    const profilePath = join(dir, 'clustered-profile.json');
    const p = await runCliCaptured([
      'monitor',
      'profile',
      '--data',
      reference,
      '--out',
      profilePath,
      '--learn-thresholds',
      '--chunk-col',
      'date',
      '--json',
    ]);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.out).learnedThresholds).toBe(2);
    const viaProfile = await runCliCaptured([
      'monitor',
      'drift',
      '--reference-profile',
      profilePath,
      '--current',
      today,
      '--json',
    ]);
    expect(viaProfile.code).toBe(0);
    expect(
      JSON.parse(viaProfile.out).features.find((f: { name: string }) => f.name === 'channel').threshold,
    ).toBeCloseTo(channel.threshold, 12);
    const missing = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      reference,
      '--current',
      today,
      '--learn-thresholds',
      '--chunk-col',
      'day',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--chunk-col: the reference has no column "day"; columns are date, channel, opens/);
    // a column with a value per row (a timestamp) would make one-row chunks: refused, with what to use instead
    const stamped = writeCsv(
      'stamped.csv',
      'ts,channel',
      Array.from({ length: 400 }, (_, i) => `${1_772_409_600_000 + i * 1000},${i % 3 === 0 ? 'email' : 'push'}`),
    );
    const perRow = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      stamped,
      '--current',
      stamped,
      '--learn-thresholds',
      '--chunk-col',
      'ts',
    ]);
    expect(perRow.code).toBe(2);
    expect(perRow.err).toMatch(/400 chunks of median 1 rows; chunks need at least 20 rows \(a timestamp/);
  });

  it('rejects files with different columns, a numeric column that became text, and an empty file', async () => {
    const otherCols = writeCsv('other.csv', 'user_id,age,spend,country', ['a,1,2,fr']);
    const r1 = await runCliCaptured(['monitor', 'drift', '--reference', ref, '--current', otherCols]);
    expect(r1.code).toBe(2);
    expect(r1.err).toMatch(/same columns/);
    expect(r1.err).toMatch(/missing from .*channel, visits/);
    expect(r1.err).toMatch(/only in .*country/);
    const textAge = writeCsv('text-age.csv', HEADER, ['a,forty,1.0,email,1', 'b,thirty,2.0,push,2']);
    const r2 = await runCliCaptured(['monitor', 'drift', '--reference', ref, '--current', textAge]);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/"age" is numeric in .* but text in /);
    const empty = writeCsv('empty.csv', '', []).replace(/$/, '');
    writeFileSync(empty, '');
    const r3 = await runCliCaptured(['monitor', 'drift', '--reference', ref, '--current', empty]);
    expect(r3.code).toBe(2);
    expect(r3.err).toMatch(/empty/);
    const headerOnly = writeCsv('header-only.csv', HEADER, []);
    const r4 = await runCliCaptured(['monitor', 'drift', '--reference', ref, '--current', headerOnly]);
    expect(r4.code).toBe(2);
    expect(r4.err).toMatch(/no data rows/);
    const r5 = await runCliCaptured(['monitor', 'drift', '--current', same]);
    expect(r5.code).toBe(2);
    expect(r5.err).toMatch(/needs a reference: --reference FILE, --reference-profile FILE, or --model DIR/);
    const r6 = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      ref,
      '--reference-profile',
      ref,
      '--current',
      same,
    ]);
    expect(r6.code).toBe(2);
    expect(r6.err).toMatch(/one of --reference FILE or --reference-profile FILE, not both/);
  });
});

describe('adnova monitor estimate and skew', () => {
  it('estimates AUC/precision/recall with bands and compares with matured labels', async () => {
    const rng = new Rng(9);
    const rows: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const s = 1 / (1 + Math.exp(-(1.5 * rng.normal() - 1)));
      const y = i % 7 === 0 ? '' : rng.next() < s ? '1' : '0';
      rows.push(`${s.toFixed(6)},${y}`);
    }
    const data = writeCsv('scores.csv', 'score,label', rows);
    const r = await runCliCaptured([
      'monitor',
      'estimate',
      '--data',
      data,
      '--score-col',
      'score',
      '--label-col',
      'label',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.out);
    expect(e.rows).toBe(4000);
    expect(e.labeledRows).toBe(4000 - Math.ceil(4000 / 7));
    expect(Math.abs(e.rocAuc.realized - e.rocAuc.estimated)).toBeLessThan(0.03);
    expect(e.rocAuc.upper - e.rocAuc.lower).toBeCloseTo(6 * e.rocAuc.standardError, 12);
    expect(e.conceptDrift).toBe(false);
    const bad = await runCliCaptured(['monitor', 'estimate', '--data', data, '--score-col', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/"nope" is not a column/);
  });

  it('reports per-feature mismatch rates of served vs recomputed rows', async () => {
    const left = writeCsv('served.csv', 'user_id,age,spend,channel', [
      'a,30,1.0000001,email',
      'b,40,2.5,push',
      'c,50,3.0,email',
      'd,60,,push',
    ]);
    const right = writeCsv('offline.csv', 'user_id,age,spend,channel', [
      'b,41,2.5,push',
      'a,30,1.0,email',
      'c,50,3.0,in_app',
      'e,1,1,email',
    ]);
    const r = await runCliCaptured(['monitor', 'skew', '--left', left, '--right', right, '--key', 'user_id', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.joined).toBe(3);
    expect(s.onlyLeft).toBe(1);
    expect(s.onlyRight).toBe(1);
    const byName = Object.fromEntries(s.features.map((f: { name: string }) => [f.name, f]));
    expect(byName['age'].mismatches).toBe(1);
    expect(byName['spend'].mismatches).toBe(0);
    expect(byName['channel'].mismatchRate).toBeCloseTo(1 / 3, 12);
  });
});

describe('adnova monitor profile --learn-thresholds', () => {
  it('stores learned thresholds in the profile and uses them against it', async () => {
    const profile = join(dir, 'ref-profile-learned.json');
    const p = await runCliCaptured([
      'monitor',
      'profile',
      '--data',
      ref,
      '--out',
      profile,
      '--learn-thresholds',
      '--chunk-rows',
      '500',
      '--categorical',
      'user_id',
      '--json',
    ]);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.out).learnedThresholds).toBe(5);
    const r = await runCliCaptured([
      'monitor',
      'drift',
      '--reference-profile',
      profile,
      '--current',
      drifted,
      '--categorical',
      'user_id',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const feats = JSON.parse(r.out).features;
    expect(feats.every((f: { method: string }) => f.method === 'wasserstein' || f.method === 'jensenshannon')).toBe(
      true,
    );
    const spend = feats.find((f: { name: string }) => f.name === 'spend');
    expect(spend.drifted).toBe(true);
    expect(spend.threshold).toBeGreaterThan(0);
    expect(spend.threshold).not.toBe(0.1);
    const missing = await runCliCaptured(['monitor', 'profile', '--data', ref, '--out', profile, '--learn-thresholds']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--chunk-rows/);
  });
});

describe('adnova monitor drift --multivariate and --model', () => {
  it('adds the domain classifier result and weights the verdict by importance', async () => {
    const { mkdirSync } = await import('node:fs');
    const modelDir = join(dir, 'model');
    mkdirSync(modelDir, { recursive: true });
    writeFileSync(join(modelDir, 'importance.json'), JSON.stringify({ spend: 8, age: 1, channel: 1, visits: 1 }));
    const strip = (rows: string[]): string[] => rows.map((l) => l.split(',').slice(1).join(','));
    const refNoId = writeCsv('ref-noid-mv.csv', 'age,spend,channel,visits', strip(window(1, 4000)));
    const curNoId = writeCsv(
      'cur-noid-mv.csv',
      'age,spend,channel,visits',
      strip(window(3, 3000, { unitChange: true, mix: true })),
    );
    const r = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      refNoId,
      '--current',
      curNoId,
      '--model',
      modelDir,
      '--multivariate',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.multivariate.method).toBe('domain_classifier');
    expect(report.multivariate.auc).toBeGreaterThan(0.9);
    expect(report.multivariate.features[0].name).toBe('spend');
    expect(report.dataset.driftedShare).toBeCloseTo(0.5, 12);
    expect(report.dataset.weightedDriftedShare).toBeCloseTo(9 / 11, 12);
    const bad = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      refNoId,
      '--current',
      curNoId,
      '--importance',
      join(dir, 'nope.json'),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/does not exist/);
  });
});

describe("adnova monitor drift --model DIR (against the model artifact's training profile)", () => {
  it("bins current rows with the model's training bins, weights by its importance and adds prediction drift", async () => {
    const labelled = (seed: number, rows: number, opts: { unitChange?: boolean; mix?: boolean } = {}): string[] => {
      const rng = new Rng(seed + 100);
      return window(seed, rows, opts).map((l) => {
        const [, age, spend, channel, visits] = l.split(',');
        const p = 1 / (1 + Math.exp(-(Math.log(Number(spend)) + (channel === 'email' ? 0.5 : -0.5))));
        return `${age},${spend},${channel},${visits},${rng.next() < p ? 1 : 0}`;
      });
    };
    const header = 'age,spend,channel,visits,converted';
    const train = writeCsv('model-train.csv', header, labelled(1, 4000));
    const modelDir = join(dir, 'model-artifact');
    const t = await runCliCaptured([
      'model',
      'train',
      '--data',
      train,
      '--label',
      'converted',
      '--out',
      modelDir,
      '--trees',
      '20',
      '--json',
    ]);
    expect(t.code, t.err).toBe(0);
    const same = writeCsv('model-same.csv', header, labelled(2, 3000));
    const moved = writeCsv('model-moved.csv', header, labelled(3, 3000, { unitChange: true, mix: true }));
    const quiet = await runCliCaptured(['monitor', 'drift', '--model', modelDir, '--current', same, '--json']);
    expect(quiet.code, quiet.err).toBe(0);
    const q = JSON.parse(quiet.out);
    expect(q.features.map((f: { name: string }) => f.name).sort()).toEqual(['age', 'channel', 'spend', 'visits']);
    expect(q.features.filter((f: { alarm: boolean }) => f.alarm)).toEqual([]);
    expect(q.prediction.drifted).toBe(false);
    expect(q.features.find((f: { name: string }) => f.name === 'spend')).toMatchObject({
      kind: 'numeric',
      binned: true,
      stats: { ksStatistic: null, wassersteinNorm: null },
    });
    const loud = await runCliCaptured(['monitor', 'drift', '--model', modelDir, '--current', moved, '--json']);
    expect(loud.code, loud.err).toBe(0);
    const l = JSON.parse(loud.out);
    const byName = Object.fromEntries(l.features.map((f: { name: string }) => [f.name, f]));
    expect(byName['spend'].drifted).toBe(true);
    expect(byName['channel'].drifted).toBe(true);
    expect(byName['age'].drifted).toBe(false);
    expect(l.prediction.drifted).toBe(true);
    // spend carries most of the model's gain: the weighted share exceeds the plain one
    expect(l.dataset.weightedDriftedShare).toBeGreaterThan(l.dataset.driftedShare);
    // a small window takes the chi-square branch; bins empty on both sides (most score bins) must not blind it
    const small = writeCsv('model-moved-small.csv', header, labelled(4, 400, { unitChange: true, mix: true }));
    const s = JSON.parse(
      (await runCliCaptured(['monitor', 'drift', '--model', modelDir, '--current', small, '--json'])).out,
    );
    const smallByName = Object.fromEntries(s.features.map((f: { name: string }) => [f.name, f]));
    expect(smallByName['spend'].method).toBe('chi2');
    expect(smallByName['spend'].drifted).toBe(true);
    expect(s.prediction.method).toBe('chi2');
    expect(s.prediction.drifted).toBe(true);
    const missing = writeCsv('model-missing.csv', 'age,channel', ['30,email']);
    const bad = await runCliCaptured(['monitor', 'drift', '--model', modelDir, '--current', missing]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/spend/);
    const noRef = await runCliCaptured(['monitor', 'drift', '--current', same]);
    expect(noRef.code).toBe(2);
    expect(noRef.err).toMatch(/--reference FILE, --reference-profile FILE, or --model DIR/);
  });
});

describe('issue 15: drift blind spots, label and excluded columns, readable output', () => {
  // training rows: `flag` is constant (0), `ch` has three categories, `y` is the label
  const rows = (seed: number, n: number, shift: boolean): string[] => {
    const rng = new Rng(seed);
    return Array.from({ length: n }, () => {
      const x = rng.normal();
      const flag = shift && rng.next() < 0.25 ? 1 + rng.int(3) : 0;
      const ch = shift && rng.next() < 0.1 ? 'zz' : (['a', 'b', 'c'][rng.int(3)] as string);
      const y = rng.next() < 1 / (1 + Math.exp(-x)) ? 1 : 0;
      return `${x.toFixed(4)},${flag},${ch},${y}`;
    });
  };
  const header = 'x,flag,ch,y';
  const train = writeCsv('i15-train.csv', header, rows(31, 4000, false));
  const moved = writeCsv('i15-moved.csv', header, rows(32, 3000, true));
  const modelDir = join(dir, 'i15-model');

  it('raises out-of-range and unseen-category alarms against every kind of reference', async () => {
    const t = await runCliCaptured([
      'model',
      'train',
      '--data',
      train,
      '--label',
      'y',
      '--out',
      modelDir,
      '--trees',
      '20',
    ]);
    expect(t.code, t.err).toBe(0);
    const profile = join(dir, 'i15-profile.json');
    expect((await runCliCaptured(['monitor', 'profile', '--data', train, '--out', profile])).code).toBe(0);
    const refs = [
      ['--model', modelDir],
      ['--reference', train, '--label-col', 'y'],
      ['--reference-profile', profile, '--label-col', 'y'],
    ];
    for (const ref of refs) {
      const r = await runCliCaptured(['monitor', 'drift', ...ref, '--current', moved, '--json']);
      expect(r.code, `${ref.join(' ')}: ${r.err}`).toBe(0);
      const report = JSON.parse(r.out);
      const byName = Object.fromEntries(report.features.map((f: { name: string }) => [f.name, f]));
      expect(Object.keys(byName).sort(), ref[0]).toEqual(['ch', 'flag', 'x']);
      // constant in training, other values in ~25% of current rows
      expect(byName['flag'].kind).toBe('numeric');
      expect(byName['flag'].alarm, ref[0]).toBe(true);
      expect(byName['flag'].quality.outOfRangeShare).toBeGreaterThan(0.2);
      expect(byName['flag'].quality.issues[0]).toMatch(/outside the reference range \[0, 0\]/);
      expect(byName['ch'].quality.unseenCategories, ref[0]).toEqual(['zz']);
      expect(byName['ch'].quality.issues.join(' ')).toMatch(/categories the reference never had \(zz\)/);
      expect(byName['x'].alarm, ref[0]).toBe(false);
      expect(report.label.column).toBe('y');
      expect(report.label.drifted).toBe(false);
    }
  });

  it('names the statistic and the kind of features compared on the model bins, in text and HTML, with prediction drift', async () => {
    const html = join(dir, 'i15-model.html');
    const r = await runCliCaptured(['monitor', 'drift', '--model', modelDir, '--current', moved, '--html', html]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\nx {28}numeric {5}jensenshannon on bins/);
    expect(r.out).toMatch(/\nflag {25}numeric .* QUALITY\n {30}data quality: .*outside the reference range \[0, 0\]/);
    expect(r.out).toMatch(/prediction drift \(model scores\):\nscore {24}numeric /);
    expect(r.out).toMatch(/label drift \("y", matured labels \d+ \/ 3000\): base rate/);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/<h2>Prediction drift \(model scores\)<\/h2>/);
    expect(page).toMatch(/<h2>Label drift<\/h2>/);
    const j = JSON.parse(
      (await runCliCaptured(['monitor', 'drift', '--model', modelDir, '--current', moved, '--json'])).out,
    );
    expect(j.prediction).toMatchObject({ name: 'score', kind: 'numeric', binned: true });
    expect(j.features.every((f: { binned?: boolean }) => f.binned === true)).toBe(true);
  });

  it('shows the ranking quantity and p-values, sorted by rank, in the text and the HTML', async () => {
    const html = join(dir, 'i15-rank.html');
    const r = await runCliCaptured(['monitor', 'drift', '--reference', ref, '--current', drifted, '--html', html]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    const head = lines.find((l) => l.startsWith('feature')) as string;
    expect(head).toMatch(/score +threshold +p-value +rank +verdict$/);
    const ranks = lines
      .filter((l) => /^(user_id|age|spend|channel|visits) /.test(l))
      .map((l) => Number(l.slice(head.indexOf('rank') - 4, head.indexOf('rank') + 4).trim()));
    expect(ranks.length).toBe(5);
    expect(ranks.every((x) => Number.isFinite(x))).toBe(true);
    expect([...ranks].sort((a, b) => b - a)).toEqual(ranks);
    const json = JSON.parse(
      (await runCliCaptured(['monitor', 'drift', '--reference', ref, '--current', drifted, '--json'])).out,
    );
    const age = json.features.find((f: { name: string }) => f.name === 'age');
    expect(age.pvalue).toBeCloseTo(age.stats.ksPvalue, 12);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/<th data-i="\d+" data-t="num" aria-sort="descending">rank ▼<\/th>/);
    expect(page).toMatch(/>p-value<\/th>/);
    // data-quality text sits on its own full-width row, not in a narrow cell
    expect(page).toMatch(/<tr class="qi"><td colspan="16">data quality: /);
  });

  it('--exclude skips columns and --label-col reports the label as label drift, not as a feature', async () => {
    const r = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      train,
      '--current',
      moved,
      '--exclude',
      'flag',
      '--label-col',
      'y',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.features.map((f: { name: string }) => f.name).sort()).toEqual(['ch', 'x']);
    expect(Object.keys(report.label)).toEqual([
      'column',
      'maturedReference',
      'maturedCurrent',
      'baseRateReference',
      'baseRateCurrent',
      'difference',
      'pvalue',
      'drifted',
    ]);
    expect(report.label.maturedReference).toBe(4000);
    // the label's base rate moved: half the current labels flipped to 1 (a leaky or relabelled column)
    const flipped = writeCsv(
      'i15-flipped.csv',
      header,
      rows(33, 3000, false).map((l, i) => (i % 2 === 0 ? l.replace(/,0$/, ',1') : l)),
    );
    const f = JSON.parse(
      (
        await runCliCaptured([
          'monitor',
          'drift',
          '--reference',
          train,
          '--current',
          flipped,
          '--label-col',
          'y',
          '--json',
        ])
      ).out,
    );
    expect(f.label.drifted).toBe(true);
    expect(f.label.baseRateCurrent - f.label.baseRateReference).toBeGreaterThan(0.15);
    expect(f.features.some((x: { name: string }) => x.name === 'y')).toBe(false);
    const typo = await runCliCaptured([
      'monitor',
      'drift',
      '--reference',
      train,
      '--current',
      moved,
      '--exclude',
      'flg',
    ]);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/--exclude "flg" is not a column of .*; columns are x, flag, ch, y/);
  });

  it('a corrupt stored profile is its own error (exit 1), a file that is not a profile is bad input (exit 2)', async () => {
    const good = readFileSync(join(dir, 'i15-profile.json'), 'utf8');
    const truncated = join(dir, 'i15-truncated.json');
    writeFileSync(truncated, good.slice(0, Math.floor(good.length / 2)));
    const r1 = await runCliCaptured(['monitor', 'drift', '--reference-profile', truncated, '--current', moved]);
    expect(r1.code).toBe(1);
    expect(r1.err).toMatch(/not valid JSON \(truncated or damaged\?\)/);
    const damaged = join(dir, 'i15-damaged.json');
    const parsed = JSON.parse(good);
    parsed.features[0].bins = [1, 2];
    writeFileSync(damaged, JSON.stringify(parsed));
    const r2 = await runCliCaptured(['monitor', 'drift', '--reference-profile', damaged, '--current', moved]);
    expect(r2.code).toBe(1);
    expect(r2.err).toMatch(/feature #0 \(x\): 2 bin counts for 9 edges, expected 10/);
    const r3 = await runCliCaptured(['monitor', 'drift', '--reference-profile', train, '--current', moved]);
    expect(r3.code).toBe(2);
    expect(r3.err).toMatch(/expected JSON \(a profile with format/);
  });
});

describe('issue 15: monitor estimate names what fired', () => {
  const scored = (seed: number, n: number, labelOf: (s: number, u: number) => string): string => {
    const rng = new Rng(seed);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = 1 / (1 + Math.exp(-(1.5 * rng.normal() - 1)));
      out.push(`${s.toFixed(6)},${labelOf(s, rng.next())}`);
    }
    return writeCsv(`i15-scored-${seed}.csv`, 'score,label', out);
  };

  it('says the positive rate fired when the realized AUC is inside its band', async () => {
    // labels 1.1x more often positive than the scores say, same ranking: the AUC holds, the positive rate does not
    const data = scored(41, 4000, (s, u) => (u < Math.min(1, 1.1 * s) ? '1' : '0'));
    const j = JSON.parse(
      (
        await runCliCaptured([
          'monitor',
          'estimate',
          '--data',
          data,
          '--score-col',
          'score',
          '--label-col',
          'label',
          '--json',
        ])
      ).out,
    );
    expect(j.rocAuc.alert).toBe(false);
    expect(j.positiveRate.alert).toBe(true);
    expect(j.conceptDrift).toBe(true);
    expect(j.conceptDriftMetrics).toEqual(['positiveRate']);
    const text = await runCliCaptured([
      'monitor',
      'estimate',
      '--data',
      data,
      '--score-col',
      'score',
      '--label-col',
      'label',
    ]);
    expect(text.out).toMatch(
      /concept drift \(roc_auc or pos_rate outside its band\): YES \(realized pos_rate 0\.\d{4} outside its band \[/,
    );
    expect(text.out).not.toMatch(/realized roc_auc .* outside its band/);
  });

  it('says why precision is undefined when no score reaches the threshold', async () => {
    const data = scored(42, 500, (_s, u) => (u < 0.2 ? '1' : '0'));
    const r = await runCliCaptured([
      'monitor',
      'estimate',
      '--data',
      data,
      '--score-col',
      'score',
      '--threshold',
      '0.999',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toMatch(/NaN/);
    expect(r.out).toMatch(/precision +undefined: no score reaches the threshold 0\.999 \(no predicted positives\)/);
    const j = JSON.parse(
      (
        await runCliCaptured([
          'monitor',
          'estimate',
          '--data',
          data,
          '--score-col',
          'score',
          '--threshold',
          '0.999',
          '--json',
        ])
      ).out,
    );
    expect(j.precision.estimated).toBeNull();
    expect(j.precision.undefinedReason).toMatch(/no score reaches the threshold/);
  });
});
