/**
 * Audience benchmarks (issue 18, "Speed and scale"), on the real code paths of src/audience over an in-memory
 * deployment (MemoryOnlineStore behind the FeatureStore, 200 features in 2 views, 100 trees of depth 6 per goal):
 *   npx tsx bench/audience.ts [--quick] [--users 1000000] [--runs 3] [--campaigns 100] [--campaign-users 50000]
 *                             [--changed 1000]
 *
 * 1. Launch: `AudienceService.build` of one campaign over `--users` candidates (1M) to a stored audience of 100K
 *    (decision, then the version written: every candidate's score, outcome and rank, the member bitmap). Median of
 *    `--runs` after a warm-up. Baseline, same run: `decide` alone (no store).
 * 2. Refresh: `--campaigns` live audiences of `--campaign-users` candidates each (one segment each), `--changed`
 *    users whose features were rewritten, refreshed against all of them: wall time, users re-scored per changed
 *    user, and the cost per live audience. Baseline: rebuilding the same audiences.
 * Prints the machine line, then one markdown table row per figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AudienceService, FileAudienceStore } from '../src/audience/index.js';
import { ManualClock, MS_PER_DAY, Rng } from '../src/core/index.js';
import {
  type Campaign,
  decide,
  type ModelResolver,
  onlineFeatureSource,
  parseCampaignSpec,
  type ScoringModel,
  SegmentIndex,
  scoringModelOf,
} from '../src/decision/index.js';
import {
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  FeatureStore,
  MemoryOnlineStore,
  ReadBuffers,
  storageKeyOf,
  ttlMsOf,
} from '../src/features/index.js';
import { importedModelArtifact } from '../src/model/index.js';
import { type Tree, TreeBuilder } from '../src/model/tree-ensemble.js';
import { cliArgs, machineLine, median } from './lib.js';

const { flag, num } = cliArgs();
const quick = flag('quick');
const AT = Date.UTC(2026, 2, 10, 9);
const PER_VIEW = 100;
const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits });
const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
const cpuMs = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1000;
};
function row(label: string, value: string, baseline: string, note: string): void {
  console.log(`| ${label} | ${value} | ${baseline} | ${note} |`);
}

function featureDefs() {
  const views = [0, 1].map((v) =>
    defineFeatureView({
      name: `v${v}`,
      entity: 'user',
      ttlSeconds: 7 * 86_400,
      features: Array.from({ length: PER_VIEW }, (_, k) => ({ name: `f${k}` })),
    }),
  );
  return defineFeatures({
    entities: [defineEntity({ name: 'user' })],
    views,
    services: [
      defineFeatureService({
        name: 'scoring',
        features: views.flatMap((v) => v.features.map((f) => `${v.name}.${f.name}`)),
      }),
    ],
  });
}

function randomModel(id: string, goal: string, columns: readonly string[], seed: number): ScoringModel {
  const rng = new Rng(seed);
  const trees: Tree[] = [];
  for (let t = 0; t < 100; t++) {
    const b = new TreeBuilder();
    const grow = (level: number): number => {
      const node = b.addLeaf(0.05 * rng.normal(), 1);
      if (level === 6) return node;
      b.setNumericSplit(node, rng.int(columns.length), Math.fround(rng.next()), 1, rng.next() < 0.5, 1);
      const left = grow(level + 1);
      b.setChildren(node, left, grow(level + 1));
      return node;
    };
    grow(0);
    trees.push(b.finish());
  }
  return scoringModelOf(
    id,
    goal,
    importedModelArtifact({
      source: 'xgboost-json',
      columns,
      categorical: columns.map(() => false),
      ensemble: { numFeatures: columns.length, baseMargin: -2, trees },
    }),
  );
}

const n = num('users', quick ? 100_000 : 1_000_000);
const runs = num('runs', quick ? 1 : 3);
const nCampaigns = num('campaigns', quick ? 10 : 100);
const perCampaign = Math.min(n, num('campaign-users', quick ? 10_000 : 50_000));
const changedN = num('changed', 1000);

const dir = mkdtempSync(join(tmpdir(), 'adnova-audience-bench-'));
const store = await FeatureStore.open({ dir: join(dir, 'features'), online: new MemoryOnlineStore(), threads: 1 });
const defs = featureDefs();
store.apply(defs);
const rng = new Rng(5);
async function writeFeatures(ids: string[], ts: number): Promise<void> {
  for (const v of defs.views) {
    const values = new Float32Array(ids.length * PER_VIEW);
    for (let i = 0; i < values.length; i++) values[i] = rng.next();
    await store.online.write(
      { storageKey: storageKeyOf(v), width: PER_VIEW, ttlMs: ttlMsOf(v) },
      {
        entityIds: ids,
        eventTs: new Float64Array(ids.length).fill(ts),
        createdTs: new Float64Array(ids.length).fill(ts),
        values,
      },
    );
  }
}
for (let start = 0; start < n; start += 50_000)
  await writeFeatures(
    Array.from({ length: Math.min(50_000, n - start) }, (_, i) => `u${start + i}`),
    AT - 3_600_000,
  );
const index = new SegmentIndex();
for (let d = 0; d < n; d++)
  index.upsertUser(`u${d}`, {
    consent: { email: true, push: true, in_app: true },
    segments: { [`s${Math.floor(d / perCampaign) % Math.max(1, Math.floor(n / perCampaign))}`]: true },
    lastActiveTs: AT - (d % 20) * MS_PER_DAY,
  });
const columns = [...store.layout('scoring').columns];
const byGoal = new Map(['open', 'click', 'convert'].map((g, i) => [g, randomModel(`m-${g}`, g, columns, 11 + i)]));
const models: ModelResolver = { forCampaign: (c) => byGoal.get(c.goal) as ScoringModel };
const campaigns = new Map<string, Campaign>();
const spec = (id: string, extra: Record<string, unknown>) =>
  parseCampaignSpec({
    id,
    advertiserId: 'a1',
    channel: 'email',
    goal: 'open',
    vertical: 'apparel',
    desiredAudienceSize: 100_000,
    holdoutShare: 0.05,
    explorationShare: 0.05,
    schedule: { launch: AT - 3_600_000 },
    ...extra,
  });
const clock = new ManualClock(AT);
const readBuffers = new ReadBuffers();
const deployment = {
  layout: { root: dir, audiences: join(dir, 'audiences') },
  manifest: { controlShare: 0.05 },
  index,
  clock,
  campaigns: {
    get: async (id: string) => campaigns.get(id) ?? null,
    getOrThrow: async (id: string) => campaigns.get(id) as Campaign,
  },
  deps: () => ({
    index,
    features: onlineFeatureSource(store, 'scoring'),
    models,
    controlShare: 0.05,
    readBuffers,
  }),
};
const service = new AudienceService({
  deployment,
  store: new FileAudienceStore(join(dir, 'audiences'), { clock, keepVersions: 2 }),
});

console.log(machineLine());
console.log('\n| figure | value | baseline (same run) | notes |');
console.log('|---|---|---|---|');

// 1. launch
const launch = spec('launch', {});
campaigns.set(launch.id, launch);
const walls: number[] = [];
const cpus: number[] = [];
const decideCpu: number[] = [];
const decideOnly: number[] = [];
const storeMs: number[] = [];
let members = 0;
let candidates = 0;
for (let k = 0; k < runs + 1; k++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await decide([launch], deployment.deps(), { atMs: AT, commit: false });
  const dOnly = performance.now() - t0;
  const dCpu = cpuMs(c0);
  const c1 = process.cpuUsage();
  const b = await service.build(launch.id, { atMs: AT });
  const bCpu = cpuMs(c1);
  if (k === 0) continue;
  cpus.push(bCpu);
  decideCpu.push(dCpu);
  decideOnly.push(dOnly);
  walls.push(b.timingsMs.total);
  storeMs.push(b.timingsMs.store);
  members = b.summary.members;
  candidates = b.summary.candidates;
}
row(
  `launch: build over ${fmt(candidates)} candidates to a stored audience of ${fmt(members)} (200 features in memory, 100 trees of depth 6), ms`,
  ms(median(walls)),
  `decide alone ${ms(median(decideOnly))} ms`,
  `process CPU ${ms(median(cpus))} ms (decide alone ${ms(median(decideCpu))}); store write ${ms(median(storeMs))} ms wall; ${(median(walls) / median(decideOnly)).toFixed(2)}x decide; target <= 3,000 ms on one core`,
);

// 2. refresh over many live audiences
const segments = Math.max(1, Math.floor(n / perCampaign));
const live: string[] = [];
const tb = performance.now();
const cb = process.cpuUsage();
for (let k = 0; k < nCampaigns; k++) {
  const c = spec(`live-${k}`, {
    goal: ['open', 'click', 'convert'][k % 3],
    desiredAudienceSize: Math.round(perCampaign / 10),
    targeting: { segments: [`s${k % segments}`] },
  });
  campaigns.set(c.id, c);
  await service.build(c.id, { atMs: AT });
  live.push(c.id);
}
const rebuildMs = performance.now() - tb;
const rebuildCpu = cpuMs(cb);
const changed = Array.from({ length: changedN }, () => `u${rng.int(n)}`);
const refreshes: number[] = [];
const refreshCpu: number[] = [];
let rescored = 0;
let touched = 0;
let versions = 0;
for (let k = 0; k < runs; k++) {
  clock.advance(1000);
  await writeFeatures(changed, clock.now());
  const c0 = process.cpuUsage();
  const r = await service.refresh(
    changed.map((userId) => ({ userId, eventTs: clock.now() })),
    { atMs: clock.now(), campaignIds: live },
  );
  refreshCpu.push(cpuMs(c0));
  refreshes.push(r.timingsMs);
  rescored = r.rescored;
  touched = r.campaigns.filter((c) => c.changedUsers > 0).length;
  versions = r.campaigns.filter((c) => c.version !== null).length;
}
const refreshMs = median(refreshes);
row(
  `refresh: ${fmt(changedN)} changed users against ${nCampaigns} live audiences of ${fmt(perCampaign)} candidates, ms`,
  ms(refreshMs),
  `rebuilding them ${ms(rebuildMs)} ms (CPU ${ms(rebuildCpu)})`,
  `process CPU ${ms(median(refreshCpu))} ms; ${fmt(rescored)} re-scored (${(rescored / changedN).toFixed(2)} per changed user), ${touched} audiences touched, ${versions} new versions; ${ms(refreshMs / nCampaigns)} ms per live audience; ${(rebuildMs / refreshMs).toFixed(1)}x faster than rebuilding`,
);
await store.close();
rmSync(dir, { recursive: true, force: true });
