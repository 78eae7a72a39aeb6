/**
 * Decision benchmarks (issue 17, "Speed"), on the real code paths of src/decision:
 *   npx tsx bench/decision.ts [--quick] [--users 10000000] [--batch-users 1000000] [--decisions 10000]
 *                             [--skip-retrieval] [--skip-online] [--skip-batch] [--runs N]
 *
 * 1. Retrieval: one campaign with 5 targeting rules (countries, platforms, age bands, segments, active within 14
 *    days) and 3 suppressions (a suppression list, deleted tombstones, the global control group), plus consent, over
 *    `--users` users (10M) with realistic densities, through `retrieve` on the SegmentIndex's roaring bitmaps.
 *    Median of `--runs` (21) after warm-up. Baseline, in the same run: the same expression as a word-wise AND over
 *    plain dense bitsets (one Uint32Array per attribute value, 1.25 MB each at 10M users).
 * 2. Online: `decide` for 1 user x 50 campaigns (userIds: [u]), features in a MemoryOnlineStore behind the
 *    FeatureStore (200 features, 2 views), 100 trees of depth 6 per goal model: p50/p99 over `--decisions` (10K)
 *    decisions after 1K warm-up ones. Baseline: the same 50 campaigns scored by `predictRow` alone on one feature
 *    vector (the scoring floor of a decision).
 * 3. Batch: `decide` for one campaign over `--batch-users` candidates (1M), the same 200 features and model,
 *    desired audience 100K: wall time of the complete ranked audience (every candidate with an outcome and rank),
 *    split as `decide` reports it (retrieval, feature read, scoring, policy). Median of `--runs` (3). Baseline:
 *    the compiled kernel alone over the same 1M x 200 input, in the same run.
 * Prints the machine line, then one markdown table row per figure.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashId, MS_PER_DAY, Rng } from '../src/core/index.js';
import {
  type Campaign,
  candidateReason,
  decide,
  INDEX_KEYS,
  inControlGroup,
  type ModelResolver,
  onlineFeatureSource,
  parseCampaignSpec,
  retrieve,
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
const quantile = (sorted: Float64Array, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits });
const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));

const AT = Date.UTC(2026, 2, 10, 9);
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'BR', 'IN', 'CA', 'AU', 'ES', 'IT', 'MX', 'NL', 'SE', 'PL', 'JP', 'KR'];
const COUNTRY_CODES = [...COUNTRIES, 'TR', 'ZA', 'AR', 'NG']; // 20 values
const PLATFORMS = ['ios', 'android', 'web'] as const;
const AGE_BANDS = ['18-24', '25-34', '35-44', '45-54', '55-64', '65+'] as const;
const CHANNELS = ['email', 'push', 'in_app'] as const;
/** Segment name and share of users in it. */
const SEGMENTS: ReadonlyArray<readonly [string, number]> = [
  ['high_value', 0.1],
  ['cart_abandoner', 0.06],
  ['new_user', 0.08],
  ['lapsed', 0.3],
];
const CONTROL_SHARE = 0.05;

function row(label: string, value: string, baseline: string, note: string): void {
  console.log(`| ${label} | ${value} | ${baseline} | ${note} |`);
}

function campaignSpec(id: string, extra: Record<string, unknown> = {}): Campaign {
  return parseCampaignSpec({
    id,
    advertiserId: 'a1',
    channel: 'email',
    goal: 'open',
    vertical: 'apparel',
    desiredAudienceSize: 100_000,
    schedule: { launch: AT },
    ...extra,
  });
}

/** Draws an index from cumulative weights. */
function pick(cum: Float64Array, u: number): number {
  let i = 0;
  while (i < cum.length - 1 && u >= (cum[i] as number)) i++;
  return i;
}

function cumulative(weights: readonly number[]): Float64Array {
  const total = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  return Float64Array.from(weights, (w) => {
    acc += w / total;
    return acc;
  });
}

/** Members of each value of a per-user code array (ascending dense ids), skipping code 255. */
function membersByCode(codes: Uint8Array, values: number): Uint32Array[] {
  const counts = new Uint32Array(values);
  for (let d = 0; d < codes.length; d++) {
    const c = codes[d] as number;
    if (c < values) counts[c] = (counts[c] as number) + 1;
  }
  const out = Array.from(counts, (c) => new Uint32Array(c));
  const at = new Uint32Array(values);
  for (let d = 0; d < codes.length; d++) {
    const c = codes[d] as number;
    if (c >= values) continue;
    const k = at[c] as number;
    at[c] = k + 1;
    (out[c] as Uint32Array)[k] = d;
  }
  return out;
}

interface Population {
  index: SegmentIndex;
  /** Dense bitsets of the same sets, by index key (the baseline). */
  bitsets: Map<string, Uint32Array>;
  controlGroup: ReturnType<typeof newBitmapOf>;
  controlBits: Uint32Array;
}

function newBitmapOf(members: Uint32Array) {
  const index = new SegmentIndex();
  index.set('x', members);
  return index.bitmap('x');
}

/**
 * `n` users: country (20 values, long-tailed), platform (3), age band (6), consent per channel (~60%), segments,
 * last activity (exponential, mean 10 days), 1% deleted (tombstones), 3% on the `unsubscribed` list, 5% in the global
 * control group (the decision's hash of the user id).
 */
function population(n: number): Population {
  const rng = new Rng(17);
  const index = new SegmentIndex();
  const bitsets = new Map<string, Uint32Array>();
  const words = (n + 31) >>> 5;
  const put = (key: string, members: Uint32Array) => {
    index.set(key, members);
    const bits = new Uint32Array(words);
    for (const d of members) bits[d >>> 5] = (bits[d >>> 5] as number) | (1 << (d & 31));
    bitsets.set(key, bits);
  };
  const deleted = new Uint8Array(n);
  for (let d = 0; d < n; d++) deleted[d] = rng.next() < 0.01 ? 1 : 0;
  const codes = new Uint8Array(n);
  const alive = (fill: (d: number) => number) => {
    for (let d = 0; d < n; d++) codes[d] = deleted[d] ? 255 : fill(d);
    return codes;
  };
  const byValue = (keys: readonly string[], weights: readonly number[]) => {
    const cum = cumulative(weights);
    membersByCode(
      alive(() => pick(cum, rng.next())),
      keys.length,
    ).forEach((m, i) => {
      put(keys[i] as string, m);
    });
  };
  put(
    INDEX_KEYS.users,
    (
      membersByCode(
        alive(() => 0),
        1,
      )[0] as Uint32Array
    ).slice(),
  );
  put(INDEX_KEYS.deleted, membersByCode(deleted, 2)[1] as Uint32Array);
  byValue(
    COUNTRY_CODES.map(INDEX_KEYS.country),
    COUNTRY_CODES.map((_, i) => 1 / (i + 1)),
  );
  byValue(PLATFORMS.map(INDEX_KEYS.platform), [0.45, 0.45, 0.1]);
  byValue(AGE_BANDS.map(INDEX_KEYS.ageBand), [0.14, 0.26, 0.22, 0.17, 0.12, 0.09]);
  for (const ch of CHANNELS)
    put(
      INDEX_KEYS.consent(ch),
      membersByCode(
        alive(() => (rng.next() < 0.6 ? 0 : 1)),
        1,
      )[0] as Uint32Array,
    );
  for (const [name, share] of SEGMENTS)
    put(
      INDEX_KEYS.segment(name),
      membersByCode(
        alive(() => (rng.next() < share ? 0 : 1)),
        1,
      )[0] as Uint32Array,
    );
  put(
    INDEX_KEYS.list('unsubscribed'),
    membersByCode(
      alive(() => (rng.next() < 0.03 ? 0 : 1)),
      1,
    )[0] as Uint32Array,
  );
  const dayStart = Math.floor(AT / MS_PER_DAY) * MS_PER_DAY;
  for (let d = 0; d < n; d++)
    if (!deleted[d]) index.touch(d, dayStart - Math.floor(-Math.log(1 - rng.next()) * 10 * MS_PER_DAY));
  const control = membersByCode(
    alive((d) => (inControlGroup(`u${d}`, CONTROL_SHARE) ? 0 : 1)),
    1,
  )[0] as Uint32Array;
  const controlBits = new Uint32Array(words);
  for (const d of control) controlBits[d >>> 5] = (controlBits[d >>> 5] as number) | (1 << (d & 31));
  return { index, bitsets, controlGroup: newBitmapOf(control), controlBits };
}

const RETRIEVAL_CAMPAIGN = () =>
  campaignSpec('c-retrieval', {
    targeting: {
      countries: ['US', 'GB', 'DE', 'FR', 'CA'],
      platforms: ['ios', 'android'],
      ageBands: ['25-34', '35-44', '45-54'],
      segments: ['high_value', 'cart_abandoner', 'new_user'],
      activeWithinDays: 14,
    },
    suppressionLists: ['unsubscribed'],
  });

/** The baseline: the campaign's expression word by word over dense bitsets, result in `out`; returns its count. */
function bitsetRetrieve(p: Population, active: Uint32Array, out: Uint32Array): number {
  const b = (k: string) => p.bitsets.get(k) as Uint32Array;
  const many = (keys: readonly string[]) =>
    keys.map(b) as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  const [c0, c1, c2, c3, c4] = many(['US', 'GB', 'DE', 'FR', 'CA'].map(INDEX_KEYS.country));
  const p0 = b(INDEX_KEYS.platform('ios'));
  const p1 = b(INDEX_KEYS.platform('android'));
  const [a0, a1, a2] = many(['25-34', '35-44', '45-54'].map(INDEX_KEYS.ageBand));
  const [s0, s1, s2] = many(['high_value', 'cart_abandoner', 'new_user'].map(INDEX_KEYS.segment));
  const users = b(INDEX_KEYS.users);
  const consent = b(INDEX_KEYS.consent('email'));
  const deleted = b(INDEX_KEYS.deleted);
  const unsub = b(INDEX_KEYS.list('unsubscribed'));
  const control = p.controlBits;
  let count = 0;
  for (let w = 0; w < out.length; w++) {
    let x =
      (users[w] as number) &
      (consent[w] as number) &
      ((c0[w] as number) | (c1[w] as number) | (c2[w] as number) | (c3[w] as number) | (c4[w] as number)) &
      ((p0[w] as number) | (p1[w] as number)) &
      ((a0[w] as number) | (a1[w] as number) | (a2[w] as number)) &
      ((s0[w] as number) | (s1[w] as number) | (s2[w] as number)) &
      (active[w] as number) &
      ~(deleted[w] as number) &
      ~(unsub[w] as number) &
      ~(control[w] as number);
    out[w] = x;
    // popcount
    x -= (x >>> 1) & 0x55555555;
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    count += (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
  }
  return count;
}

function benchRetrieval(): void {
  const n = num('users', quick ? 1_000_000 : 10_000_000);
  const runs = num('runs', 21);
  const t0 = performance.now();
  const p = population(n);
  const buildS = (performance.now() - t0) / 1000;
  const c = RETRIEVAL_CAMPAIGN();
  const ctx = { atMs: AT, controlGroup: p.controlGroup };
  // the first call of the day builds the "active within 14 days" bitmap from the last-activity array
  const tCold = performance.now();
  const first = retrieve(c, p.index, ctx);
  const coldMs = performance.now() - tCold;
  const activeBits = new Uint32Array((n + 31) >>> 5);
  for (const d of p.index.activeWithin(14, AT).toUint32Array())
    activeBits[d >>> 5] = (activeBits[d >>> 5] as number) | (1 << (d & 31));
  const out = new Uint32Array((n + 31) >>> 5);
  const baseCount = bitsetRetrieve(p, activeBits, out);
  if (baseCount !== first.candidates.size)
    throw new Error(`baseline found ${baseCount} candidates, retrieve ${first.candidates.size}`);
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const baseTimes: number[] = [];
  for (let k = 0; k < runs + 3; k++) {
    let t = performance.now();
    const cpu = process.cpuUsage();
    const r = retrieve(c, p.index, ctx);
    const a = performance.now() - t;
    const used = process.cpuUsage(cpu);
    if (k >= 3) cpuTimes.push((used.user + used.system) / 1000);
    t = performance.now();
    bitsetRetrieve(p, activeBits, out);
    const b = performance.now() - t;
    if (r.candidates.size !== baseCount) throw new Error('retrieval changed between runs');
    if (k >= 3) {
      times.push(a);
      baseTimes.push(b);
    }
  }
  const med = median(times);
  const baseMed = median(baseTimes);
  row(
    `retrieval, ${fmt(n / 1e6)}M users, 5 targeting rules + consent, 3 suppressions (${fmt(first.candidates.size)} candidates), ms`,
    ms(med),
    `bitset AND ${ms(baseMed)} ms`,
    `${(med / baseMed).toFixed(2)}x baseline; process CPU ${ms(median(cpuTimes))} ms per call; target <= 10 ms (aim 2); first call of the day ${ms(coldMs)} ms (builds the active-within bitmap); index ${(p.index.sizeInBytes() / 1e6).toFixed(0)} MB portable, built in ${buildS.toFixed(1)} s`,
  );
}

// ---- online and batch: a 200-feature service in a MemoryOnlineStore, 100 trees of depth 6 per model ----

const VIEWS = 2;
const PER_VIEW = 100;

function featureDefs() {
  const views = Array.from({ length: VIEWS }, (_, v) =>
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

/** 100 complete trees of depth 6 over the service's 200 columns (random splits: cost depends on shape only). */
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
  const artifact = importedModelArtifact({
    source: 'xgboost-json',
    columns,
    categorical: columns.map(() => false),
    ensemble: { numFeatures: columns.length, baseMargin: -2, trees },
  });
  return scoringModelOf(id, goal, artifact);
}

interface Deployment {
  store: FeatureStore;
  index: SegmentIndex;
  models: ModelResolver;
  byGoal: Map<string, ScoringModel>;
  dir: string;
}

/** `n` users u0..u{n-1} in the index and in the online store (200 random features each, fresh). */
async function deployment(n: number): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'adnova-decision-bench-'));
  const store = await FeatureStore.open({ dir, online: new MemoryOnlineStore(), threads: 1 });
  const defs = featureDefs();
  store.apply(defs);
  const rng = new Rng(5);
  const chunk = 50_000;
  for (const v of defs.views) {
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      const ids = Array.from({ length: m }, (_, i) => `u${start + i}`);
      const ts = new Float64Array(m).fill(AT - 3_600_000);
      const values = new Float32Array(m * PER_VIEW);
      for (let i = 0; i < values.length; i++) values[i] = rng.next();
      await store.online.write(
        { storageKey: storageKeyOf(v), width: PER_VIEW, ttlMs: ttlMsOf(v) },
        { entityIds: ids, eventTs: ts, createdTs: ts, values },
      );
    }
  }
  const index = new SegmentIndex();
  const codes = [...PLATFORMS];
  for (let d = 0; d < n; d++)
    index.upsertUser(`u${d}`, {
      country: COUNTRY_CODES[d % 7] as string,
      platform: codes[d % 3] as string,
      consent: { email: true, push: d % 5 !== 0, in_app: true },
      lastActiveTs: AT - (d % 20) * MS_PER_DAY,
    });
  const columns = [...store.layout('scoring').columns];
  const byGoal = new Map(['open', 'click', 'convert'].map((g, i) => [g, randomModel(`m-${g}`, g, columns, 11 + i)]));
  const models: ModelResolver = { forCampaign: (c) => byGoal.get(c.goal) as ScoringModel };
  return { store, index, models, byGoal, dir };
}

async function benchOnline(dep: Deployment): Promise<void> {
  const decisions = num('decisions', quick ? 2_000 : 10_000);
  const goals = ['open', 'click', 'convert'];
  const channels = [...CHANNELS];
  const campaigns = Array.from({ length: 50 }, (_, k) =>
    campaignSpec(`c${k}`, {
      channel: channels[k % 3],
      goal: goals[k % 3],
      desiredAudienceSize: 1000,
      holdoutShare: 0.05,
      explorationShare: 0.05,
      minScore: 0.01,
      targeting: {
        countries: COUNTRY_CODES.slice(0, 3 + (k % 5)),
        ...(k % 4 === 0 ? { platforms: ['ios', 'android'] } : {}),
        ...(k % 3 === 0 ? { activeWithinDays: 14 } : {}),
        ...(k % 5 === 0 ? { features: ['v0.f3 > 0.2'] } : {}),
      },
    }),
  );
  const deps = {
    index: dep.index,
    features: onlineFeatureSource(dep.store, 'scoring'),
    models: dep.models,
    controlShare: CONTROL_SHARE,
  };
  const users = dep.index.users.size;
  const userAt = (i: number) => `u${(i * 7919) % users}`;
  let sink = 0;
  for (let i = 0; i < 1000; i++)
    sink += (await decide(campaigns, deps, { atMs: AT, userIds: [userAt(i)], commit: false })).campaigns.length;
  const t = new Float64Array(decisions);
  const cpuT = new Float64Array(decisions);
  let members = 0;
  for (let i = 0; i < decisions; i++) {
    const s = performance.now();
    const cpu = process.cpuUsage();
    const r = await decide(campaigns, deps, { atMs: AT, userIds: [userAt(i + 1000)], commit: false });
    t[i] = performance.now() - s;
    const used = process.cpuUsage(cpu);
    cpuT[i] = (used.user + used.system) / 1000;
    for (const d of r.campaigns) members += d.members.length;
  }
  t.sort();
  cpuT.sort();
  // baseline: the scoring floor, 50 predictRow calls on one feature vector
  const vec = Float32Array.from({ length: 200 }, (_, i) => (i * 0.37) % 1);
  const models = campaigns.map((c) => dep.models.forCampaign(c).model);
  const tb = new Float64Array(decisions);
  for (let i = 0; i < decisions; i++) {
    const s = performance.now();
    for (const m of models) sink += m.predictRow(vec);
    tb[i] = performance.now() - s;
  }
  tb.sort();
  row(
    `online decision, 1 user x 50 campaigns, 200 features in memory, 100 trees of depth 6, p50 / p99 ms (${fmt(decisions)} decisions)`,
    `${quantile(t, 0.5).toFixed(3)} / ${quantile(t, 0.99).toFixed(3)}`,
    `50 x predictRow ${quantile(tb, 0.5).toFixed(3)} / ${quantile(tb, 0.99).toFixed(3)}`,
    `process CPU per decision p50 ${quantile(cpuT, 0.5).toFixed(3)} / p99 ${quantile(cpuT, 0.99).toFixed(3)} ms (wall minus waiting for a core); target p99 <= 2 ms; ${(members / decisions).toFixed(1)} campaigns chose the user on average${sink === 42 ? '' : ''}`,
  );
}

async function benchBatch(dep: Deployment): Promise<void> {
  const runs = num('runs', 3);
  const c = campaignSpec('c-batch', { desiredAudienceSize: 100_000, holdoutShare: 0.05, explorationShare: 0.05 });
  const deps = {
    index: dep.index,
    features: onlineFeatureSource(dep.store, 'scoring'),
    models: dep.models,
    controlShare: CONTROL_SHARE,
    readBuffers: new ReadBuffers(), // a launch job reuses its read memory (800 MB at 1M x 200)
  };
  const walls: number[] = [];
  const cpus: number[] = [];
  const splits: Record<string, number[]> = {};
  let last: Awaited<ReturnType<typeof decide>> | null = null;
  for (let k = 0; k < runs + 1; k++) {
    last = null; // let the previous result go before the next read
    const t = performance.now();
    const cpu = process.cpuUsage();
    const r = await decide([c], deps, { atMs: AT, commit: false });
    const wall = performance.now() - t;
    const used = process.cpuUsage(cpu);
    if (k === 0) continue; // warm-up
    walls.push(wall);
    cpus.push((used.user + used.system) / 1000);
    for (const [phase, v] of Object.entries(r.timingsMs ?? {})) (splits[phase] ??= []).push(v);
    last = r;
  }
  const d = (last as NonNullable<typeof last>).campaigns[0];
  if (!d) throw new Error('no decision');
  // baseline: the compiled kernel alone over the same candidates' 200 columns
  const model = dep.byGoal.get('open') as ScoringModel;
  const rows = d.userIds.length;
  const input = new Float32Array(rows * 200);
  for (let i = 0; i < input.length; i++) input[i] = (hashId(String(i % 9973)) % 1000) / 1000;
  const kernel: number[] = [];
  const kernelCpu: number[] = [];
  const out = new Float64Array(rows);
  for (let k = 0; k < runs; k++) {
    const t = performance.now();
    const cpu = process.cpuUsage();
    model.model.predict({ rows, values: input }, out);
    kernel.push(performance.now() - t);
    const used = process.cpuUsage(cpu);
    kernelCpu.push((used.user + used.system) / 1000);
  }
  // reasons: per user, on demand (members first, then users left out)
  const result = last as NonNullable<typeof last>;
  const sample = Math.min(20_000, rows);
  const tr = performance.now();
  let contributed = 0;
  for (let i = 0; i < sample; i++) {
    const row = i < d.members.length && i % 2 === 0 ? (d.members[i] as number) : (i * 7919) % rows;
    contributed += candidateReason(result, d, row).contributions.length;
  }
  const perReasonUs = ((performance.now() - tr) * 1000) / sample;
  const wall = median(walls);
  const split = Object.entries(splits)
    .map(([phase, v]) => `${phase} ${ms(median(v))}`)
    .join(', ');
  row(
    `batch audience, 1 campaign over ${fmt(rows)} candidates, 200 features, 100 trees of depth 6, audience ${fmt(d.members.length)}, ms`,
    ms(wall),
    `kernel alone ${ms(median(kernel))} ms`,
    `process CPU ${ms(median(cpus))} ms (kernel alone ${ms(median(kernelCpu))}); target <= 2,000 ms on one core; split (ms): ${split}; ${(wall / median(kernel)).toFixed(2)}x kernel`,
  );
  row(
    `reasons (score, rank, top 3 contributions, freshness), per user, on demand`,
    `${perReasonUs.toFixed(1)} us`,
    '',
    `${fmt(sample)} reasons (${(contributed / sample).toFixed(1)} contributions each); all ${fmt(rows)} candidates would take ${fmt((perReasonUs * rows) / 1e6, 1)} s`,
  );
}

console.log(machineLine());
console.log('\n| figure | value | baseline (same run) | notes |');
console.log('|---|---|---|---|');
if (!flag('skip-retrieval')) benchRetrieval();
if (!flag('skip-online') || !flag('skip-batch')) {
  const n = num('batch-users', quick ? 100_000 : 1_000_000);
  const dep = await deployment(n);
  try {
    if (!flag('skip-online')) await benchOnline(dep);
    if (!flag('skip-batch')) await benchBatch(dep);
  } finally {
    await dep.store.close();
    rmSync(dep.dir, { recursive: true, force: true });
  }
}
