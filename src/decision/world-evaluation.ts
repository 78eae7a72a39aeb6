import { join } from 'node:path';
import { ManualClock, MS_PER_DAY } from '../core/index.js';
import { FeatureStore, loadDefinitionsFile, MemoryOnlineStore } from '../features/index.js';
import { buildSendTrainingSet, type GbdtParams, ModelRegistry, readTable, trainModel } from '../model/index.js';
import { readManifest, tableFiles, WorldOracle } from '../world/index.js';
import { CAMPAIGN_GOALS, type Campaign, type CampaignGoal, parseCampaignSpec } from './campaign.js';
import { decide } from './decide.js';
import { offlineFeatureSource } from './feature-sources.js';
import { MemoryCapLedger } from './policy.js';
import { RegistryModelResolver } from './scoring.js';
import { INDEX_KEYS } from './segment-index.js';
import {
  backfillWorldStreamViews,
  buildWorldSegmentIndex,
  hasWarehouseScores,
  WORLD_SCORING_SERVICE,
  worldCampaignSpecs,
  worldCrossFeatures,
} from './world-index.js';

export interface WorldEvaluationOptions {
  readonly worldDir: string;
  /** Scratch directory for the feature store and the models. */
  readonly workDir: string;
  /** The feature definitions (the World example by default). */
  readonly definitionsPath: string;
  /** Share of the World's days used for training; campaigns launched after are evaluated. Default 2/3. */
  readonly trainFraction?: number;
  readonly gbdt?: Partial<GbdtParams>;
  /** Evaluate at most this many campaigns (the earliest after the training period). */
  readonly maxCampaigns?: number;
  /** Messages per user, channel and day (the World's own cap). Default 3. */
  readonly capPerDay?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface CaptureFigures {
  readonly campaigns: number;
  readonly expectedOutcomes: { adnova: number; rule: number; random: number; oracle: number };
  /** (adnova - random) / (oracle - random): the share of the best possible gain over random that adnova gets. */
  readonly oracleCapture: number;
  readonly ruleCapture: number;
}

export interface WorldEvaluation extends CaptureFigures {
  readonly trainEndTs: number;
  readonly models: Readonly<Record<string, { id: string; testAuc: number | null; trainRows: number }>>;
  readonly byChannel: Readonly<Record<string, CaptureFigures>>;
  readonly byGoal: Readonly<Record<string, CaptureFigures>>;
  /**
   * Inverse-propensity estimate of adnova's expected outcomes from the World's logged exploration sends (uniform
   * among the users a campaign could reach), next to the oracle's value of the same audiences.
   */
  readonly ips: { estimate: number; ci95: [number, number]; oracle: number; loggedSends: number; matched: number };
}

interface Sums {
  campaigns: number;
  adnova: number;
  rule: number;
  random: number;
  oracle: number;
}

const emptySums = (): Sums => ({ campaigns: 0, adnova: 0, rule: 0, random: 0, oracle: 0 });
const capture = (a: number, base: number, best: number) => (best - base > 0 ? (a - base) / (best - base) : Number.NaN);

function figures(s: Sums): CaptureFigures {
  return {
    campaigns: s.campaigns,
    expectedOutcomes: { adnova: s.adnova, rule: s.rule, random: s.random, oracle: s.oracle },
    oracleCapture: capture(s.adnova, s.random, s.oracle),
    ruleCapture: capture(s.rule, s.random, s.oracle),
  };
}

/**
 * Send models see a few thousand sends with a few dozen conversions: shallow, strongly regularised trees. Measured
 * on the 3,000-user 12-day World (seed 7), capture within later campaigns' sends, depth 5 / lambda 1 / min child
 * weight 1 -> depth 3 / 10 / 10: open 0.51 -> 0.67, click 0.64 -> 0.79, convert 0.67 -> 0.85.
 */
export const WORLD_GBDT: Partial<GbdtParams> = { trees: 100, maxDepth: 3, lambda: 10, minChildWeight: 10 };

/**
 * A leaf's hessian mass is about the positives it holds when they are rare: at most 10, and no more than an eighth of
 * the training set's positives, so a small World's conversion model can still split.
 */
function minChildWeightFor(labels: Uint8Array): number {
  let positives = 0;
  for (const y of labels) positives += y;
  return Math.min(10, Math.max(1, positives / 8));
}

const lit = (p: string) => `'${p.replaceAll("'", "''")}'`;

/**
 * Judges adnova's decision by the World's truth: trains a model per goal on the first part of the World, then for
 * every campaign launched after it builds the audience at the campaign's size (features point in time at the
 * launch, caps shared across the day's campaigns) and sums the oracle's goal probabilities over it, against the
 * World's own rule-based selection, random eligible users, and the oracle's own top-k among the same eligible users.
 */
export async function evaluateOnWorld(opts: WorldEvaluationOptions): Promise<WorldEvaluation> {
  const manifest = readManifest(opts.worldDir);
  const days = Math.round((manifest.endTs - manifest.startTs) / MS_PER_DAY);
  const trainDays = Math.max(1, Math.min(days - 1, Math.round(days * (opts.trainFraction ?? 2 / 3))));
  const trainEndTs = manifest.startTs + trainDays * MS_PER_DAY;
  const store = await FeatureStore.open({
    dir: join(opts.workDir, 'features'),
    clock: new ManualClock(manifest.endTs),
    online: new MemoryOnlineStore(),
  });
  const oracle = await WorldOracle.open(opts.worldDir);
  try {
    // features: the batch snapshots, and the stream views evaluated every 6 hours by their batch twin
    store.apply(loadDefinitionsFile(opts.definitionsPath));
    await store.importSource('user_batch', opts.worldDir);
    if (hasWarehouseScores(manifest)) await store.importSource('user_warehouse', opts.worldDir);
    await backfillWorldStreamViews(store, opts.worldDir, manifest.endTs);

    // one model per goal, trained on the sends before the end of the training period (labels mature by then)
    const sendsPath = tableFiles(opts.worldDir, manifest, 'sends')[0] as string;
    const labels = join(opts.workDir, 'train-labels.parquet');
    await store.offline.execute(
      `COPY (SELECT user_id, send_ts AS ts, hour(epoch_ms(send_ts)) AS hour_of_day, send_id FROM read_parquet(${lit(sendsPath)}) WHERE send_ts < ${trainEndTs}) TO ${lit(labels)} (FORMAT parquet)`,
    );
    const tsPath = join(opts.workDir, 'train-set.parquet');
    await store.trainingSet({ service: WORLD_SCORING_SERVICE, labelsPath: labels, outPath: tsPath });
    const trainingSet = await readTable(tsPath);
    const sends = await readTable(sendsPath);
    const outcomes = await readTable(tableFiles(opts.worldDir, manifest, 'outcomes')[0] as string);
    const registry = new ModelRegistry(join(opts.workDir, 'models'));
    const crossFeatures = worldCrossFeatures();
    // the per-category views reach the model through the cross features only, and a campaign's vertical and goal
    // are constant within its ranking: as raw columns they took 12-20% of the trees' gain for nothing
    const exclude = [...crossFeatures.inputsOf('vertical_affinity'), 'vertical', 'goal'];
    const models: Record<string, { id: string; testAuc: number | null; trainRows: number }> = {};
    for (const goal of CAMPAIGN_GOALS) {
      // conversions take up to 14 days, longer than a short World's training period: young sends are kept with the
      // label seen so far, unweighted (with no mature send the delay weights are 0 for every negative: a constant model)
      const set = buildSendTrainingSet(trainingSet, sends, outcomes, {
        goal,
        asOfMs: trainEndTs,
        immature: 'weight',
        crossFeatures,
        exclude,
      });
      const trained = trainModel(set.matrix, set.labels, set.columns, {
        gbdt: { ...WORLD_GBDT, minChildWeight: minChildWeightFor(set.labels), ...opts.gbdt },
        time: set.time,
        name: `world-${goal}`,
        goal,
      });
      const entry = registry.register(trained.artifact, `world-${goal}`, goal);
      registry.promote(entry.id, 'champion');
      models[goal] = { id: entry.id, testAuc: trained.test?.rocAuc ?? null, trainRows: set.labels.length };
    }

    // the campaigns launched after training, by day
    const specs = (await worldCampaignSpecs(opts.worldDir)).filter((s) => Number(s.schedule.launch) >= trainEndTs);
    const campaigns: Campaign[] = specs
      .slice(0, opts.maxCampaigns ?? specs.length)
      .map((s, i) => parseCampaignSpec(s, `campaigns[${i}]`));
    const worldSends = await store.offline.query(
      `SELECT s.campaign_id, s.user_id, s.selection,
              EXISTS (SELECT 1 FROM read_parquet(${lit(tableFiles(opts.worldDir, manifest, 'outcomes')[0] as string)}) o
                      WHERE o.send_id = s.send_id AND o.kind = s.goal) AS hit
       FROM read_parquet(${lit(sendsPath)}) s WHERE s.send_ts >= ${trainEndTs}`,
    );
    const bySelection = new Map<string, { rule: string[]; explore: { user: string; hit: boolean }[] }>();
    for (const r of worldSends) {
      const key = String(r.campaign_id);
      let e = bySelection.get(key);
      if (!e) bySelection.set(key, (e = { rule: [], explore: [] }));
      if (r.selection === 'rule') e.rule.push(String(r.user_id));
      else if (r.selection === 'explore') e.explore.push({ user: String(r.user_id), hit: r.hit === true });
    }

    const features = offlineFeatureSource(store, WORLD_SCORING_SERVICE);
    const resolver = new RegistryModelResolver(registry, { crossFeatures });
    const ledger = new MemoryCapLedger();
    const cap = opts.capPerDay ?? 3;
    const caps = { email: cap, push: cap, in_app: cap };
    const total = emptySums();
    const byChannel = new Map<string, Sums>();
    const byGoal = new Map<CampaignGoal, Sums>();
    const ips = { estimate: 0, variance: 0, oracle: 0, loggedSends: 0, matched: 0 };
    let index: Awaited<ReturnType<typeof buildWorldSegmentIndex>> | null = null;
    let indexDay = Number.NaN;
    let done = 0;
    for (const c of campaigns) {
      const day = Math.floor(c.launchTs / MS_PER_DAY) * MS_PER_DAY;
      if (day !== indexDay || !index) {
        index = await buildWorldSegmentIndex(store.offline, opts.worldDir, day);
        indexDay = day;
      }
      const result = await decide(
        [c],
        { index, features, models: resolver, ledger, capsPerDay: caps },
        {
          atMs: c.launchTs,
        },
      );
      const d = result.campaigns[0];
      done++;
      opts.onProgress?.(done, campaigns.length);
      if (!d || d.userIds.length === 0 || d.members.length === 0) continue;
      // eligible: the candidates that could still receive a message on the campaign's channel today (the day's
      // earlier campaigns may have used a user's cap); random and the oracle's top-k choose among them too
      const memberRows = new Set<number>(d.members);
      const eligible: number[] = [];
      for (let r = 0; r < d.userIds.length; r++)
        if (memberRows.has(r) || ledger.count(d.userIds[r] as string, c.channel, c.launchTs) < cap) eligible.push(r);
      const pAll = await oracle.goalProbabilities(c, d.userIds);
      const p = Float64Array.from(eligible, (r) => pAll[r] as number);
      const k = d.members.length;
      let adnova = 0;
      for (const r of d.members) adnova += pAll[r] as number;
      let mean = 0;
      for (const v of p) mean += v;
      mean /= p.length;
      const sorted = Float64Array.from(p).sort().reverse();
      let best = 0;
      for (let i = 0; i < k; i++) best += sorted[i] as number;
      const logged = bySelection.get(c.id);
      const ruleUsers = logged?.rule ?? [];
      let rule = mean * k; // a campaign the World sent to nobody by its rules counts as random
      if (ruleUsers.length > 0) {
        const pr = await oracle.goalProbabilities(c, ruleUsers);
        let s = 0;
        for (const v of pr) s += v;
        rule = (s / pr.length) * k;
      }
      for (const sums of [
        total,
        byChannel.get(c.channel) ?? byChannel.set(c.channel, emptySums()).get(c.channel),
        byGoal.get(c.goal) ?? byGoal.set(c.goal, emptySums()).get(c.goal),
      ] as Sums[]) {
        sums.campaigns++;
        sums.adnova += adnova;
        sums.rule += rule;
        sums.random += mean * k;
        sums.oracle += best;
      }
      // IPS: the World's exploration sends are uniform over the users it could reach (consent, signed up)
      const explore = logged?.explore ?? [];
      if (explore.length > 0) {
        const pool = index.bitmap(INDEX_KEYS.consent(c.channel)).size;
        const pi = Math.min(1, explore.length / Math.max(1, pool));
        const members = new Set<string>();
        for (const r of d.members) members.add(d.userIds[r] as string);
        ips.loggedSends += explore.length;
        ips.oracle += adnova;
        for (const e of explore) {
          if (!members.has(e.user)) continue;
          ips.matched++;
          if (e.hit) {
            ips.estimate += 1 / pi;
            ips.variance += (1 - pi) / (pi * pi);
          }
        }
      }
    }
    const half = 1.96 * Math.sqrt(ips.variance);
    return {
      ...figures(total),
      trainEndTs,
      models,
      byChannel: Object.fromEntries([...byChannel].map(([k, s]) => [k, figures(s)])),
      byGoal: Object.fromEntries([...byGoal].map(([k, s]) => [k, figures(s)])),
      ips: {
        estimate: ips.estimate,
        ci95: [ips.estimate - half, ips.estimate + half],
        oracle: ips.oracle,
        loggedSends: ips.loggedSends,
        matched: ips.matched,
      },
    };
  } finally {
    await oracle.close();
    await store.close();
  }
}
