import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, MS_PER_DAY } from '../core/index.js';
import { parseDefinitions } from './definitions-file.js';
import { FeatureStore } from './feature-store.js';
import { MemoryOnlineStore } from './memory-online-store.js';

const T0 = Date.UTC(2026, 2, 2);

const definitions = (features: string) => `
entities: [{ name: user, joinKey: user_id }]
views:
  - name: nightly
    entity: user
    ttlSeconds: 864000
    source: { kind: batch, path: snap.csv, format: csv, eventTsColumn: event_ts, createdTsColumn: created_ts }
    features:
${features}
services:
  - name: s
    features: [nightly.score, nightly.score_3d, nightly.score_max_3d]
`;

const FEATURES = `      - { name: score }
      - { name: score_3d, aggregation: { op: mean, column: score, window: 3d } }
      - { name: score_max_3d, aggregation: { op: max, column: score, window: 3d } }`;

describe('batch views aggregating their own snapshots', () => {
  let dir: string;
  let store: FeatureStore;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-snapshot-agg-'));
    // one snapshot a day for 5 days; u2 misses day 2; scores 1..5 (u1) and 10, 20, _, 40, 50 (u2)
    const rows = ['user_id,event_ts,created_ts,score'];
    for (let d = 0; d < 5; d++) {
      const ts = T0 + d * MS_PER_DAY;
      rows.push(`u1,${ts},${ts + 3_600_000},${d + 1}`);
      if (d !== 2) rows.push(`u2,${ts},${ts + 3_600_000},${10 * (d + 1)}`);
    }
    writeFileSync(join(dir, 'snap.csv'), `${rows.join('\n')}\n`);
    store = await FeatureStore.open({
      dir: join(dir, 'store'),
      clock: new ManualClock(T0 + 10 * MS_PER_DAY),
      online: new MemoryOnlineStore(),
    });
    store.apply(parseDefinitions(definitions(FEATURES), 'yaml'));
    await store.importSource('nightly', dir);
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives each snapshot the mean and max over the entity snapshots of (t - window, t], point in time', async () => {
    const at = async (day: number) => {
      const m = await store.readPointInTime('s', ['u1', 'u2'], T0 + day * MS_PER_DAY + 2 * 3_600_000);
      const col = (c: number) => [m.values[c * 2] as number, m.values[c * 2 + 1] as number];
      return { score: col(0), mean: col(1), max: col(2) };
    };
    // day 0: only the day's own snapshot
    expect(await at(0)).toEqual({ score: [1, 10], mean: [1, 10], max: [1, 10] });
    // day 3: days 1..3 (the day-0 snapshot is exactly 3 days old: out); u2 has days 1 and 3
    expect(await at(3)).toEqual({ score: [4, 40], mean: [3, 30], max: [4, 40] });
    // day 4: days 2..4; u2 has days 3 and 4
    expect(await at(4)).toEqual({ score: [5, 50], mean: [4, 45], max: [5, 50] });
  });

  it('refuses what a snapshot aggregation cannot be, naming the feature', () => {
    const bad = (f: string) => () => parseDefinitions(definitions(`${FEATURES}\n${f}`), 'yaml');
    expect(bad('      - { name: n, aggregation: { op: count, window: 3d } }')).toThrow(
      /view nightly.n: a batch view aggregates its snapshots by mean, sum, min, max, got "count"/,
    );
    expect(
      bad('      - { name: w, aggregation: { op: mean, column: score, window: 3d, where: { channel: [email] } } }'),
    ).toThrow(/view nightly.w: a batch view's aggregation takes no where filter/);
    expect(bad('      - { name: x, aggregation: { op: mean, window: 3d } }')).toThrow(
      /view nightly.x: aggregation mean needs a column/,
    );
  });
});
