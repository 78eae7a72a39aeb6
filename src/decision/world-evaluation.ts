import { join } from 'node:path';
import { type FeatureMatrix, ManualClock, MS_PER_DAY } from '../core/index.js';
import { FeatureStore, loadDefinitionsFile, MemoryOnlineStore } from '../features/index.js';
import {
  buildSendTrainingSet,
  DEFAULT_ATTRIBUTION_WINDOWS_MS,
  type GbdtParams,
  ModelRegistry,
  readTable,
  type Table,
  trainModel,
} from '../model/index.js';
import { readManifest, tableFiles, WorldOracle } from '../world/index.js';
import { CAMPAIGN_GOALS, type Campaign, type CampaignGoal, parseCampaignSpec } from './campaign.js';
import { decide } from './decide.js';
import { offlineFeatureSource } from './feature-sources.js';
import { estimatePolicyValue, type UniformExplorationLog } from './off-policy.js';
import { MemoryCapLedger } from './policy.js';
import { type FeatureSource, RegistryModelResolver } from './scoring.js';
import type { SegmentIndex } from './segment-index.js';
import {
  backfillWorldStreamViews,
  buildWorldSegmentIndex,
  importWorldBatchViews,
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
  /** How the models are trained (default `WORLD_TRAINING`; `gbdt` above wins over `training.gbdt`). */
  readonly training?: WorldTrainingOptions;
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
   * Self-normalised inverse-propensity estimate of adnova's audiences' expected outcomes from the World's logged
   * exploration sends (a uniform draw from each campaign's exploration pool, `WorldOracle.explorationPool`), next to
   * the oracle's value of the same quantity: the expected goal outcomes of the audience users inside the pools, over
   * the campaigns whose exploration labels are final by the World's end (`estimatePolicyValue`).
   */
  readonly ips: {
    estimate: number;
    ci95: [number, number];
    oracle: number;
    /** Whether the oracle value lies in the 95% interval. */
    covered: boolean;
    campaigns: number;
    /** Campaigns left out: some exploration send's attribution window still open at the World's end. */
    immatureCampaigns: number;
    loggedSends: number;
    matched: number;
    hits: number;
    audienceInPools: number;
  };
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

/** How the evaluation trains its send models (the measured defaults: `WORLD_TRAINING`). */
export interface WorldTrainingOptions {
  readonly gbdt?: Partial<GbdtParams>;
  /** Latest share of the training sends held out for each model's test AUC. */
  readonly testFraction?: number;
  /** Share of the remaining sends (their end) for calibration; 0 = none. */
  readonly validFraction?: number;
  /** Refit on train + validation sends after calibrating (see `trainModel`). */
  readonly refit?: boolean;
  /** Weight young negatives by the chance their label is final (`buildDelayedLabels`); else weight 1. */
  readonly delayWeights?: boolean;
}

/**
 * The later campaigns are the test: every training send trains (no test split), the last fifth of them calibrates
 * and the model is refitted on all, young negatives weighted by the chance their label is final. Measured on the
 * 3,000-user 12-day Worlds (seeds 7 / 11, with the 7-day score means), capture with the default split (models
 * trained on the first 56% of the sends) 0.651 (seed 11) -> refitted on all 0.717 / 0.702 -> with delay weights
 * 0.724 / 0.710.
 */
export const WORLD_TRAINING: WorldTrainingOptions = {
  testFraction: 0,
  validFraction: 0.2,
  refit: true,
  delayWeights: true,
};

export type WorldModels = Readonly<Record<string, { id: string; testAuc: number | null; trainRows: number }>>;

interface LoggedSends {
  readonly rule: string[];
  /** Exploration sends: user, send time, whether the goal's outcome came within its attribution window. */
  readonly explore: { user: string; sendTs: number; hit: boolean }[];
}

/** Memoises a feature source's reads: the same candidates at the same time read once across evaluations. */
function memoFeatureSource(inner: FeatureSource): FeatureSource {
  const cache = new Map<string, Promise<FeatureMatrix>>();
  return {
    name: inner.name,
    read(userIds, atMs, context) {
      const key = `${atMs}|${context.hourOfDay ?? ''}|${userIds.length}|${userIds.join(',')}`;
      let m = cache.get(key);
      if (!m) cache.set(key, (m = inner.read(userIds, atMs, context)));
      return m;
    },
  };
}

/**
 * A World opened for evaluation: its feature store (batch snapshots imported, stream views back-filled), the sends
 * before the end of the training period as a point-in-time training set, the campaigns launched after it with the
 * World's logged rule and exploration sends, and its oracle. Models trained with different options are judged on
 * the same campaigns, candidates and features (read once).
 */
export class WorldEvaluationSession {
  readonly trainEndTs: number;
  readonly campaigns: readonly Campaign[];
  readonly #opts: WorldEvaluationOptions;
  readonly #store: FeatureStore;
  readonly #oracle: WorldOracle;
  readonly #endTs: number;
  readonly #trainingSet: Table;
  readonly #sends: Table;
  readonly #outcomes: Table;
  readonly #logged: Map<string, LoggedSends>;
  readonly #features: FeatureSource;
  readonly #indexes = new Map<number, Promise<SegmentIndex>>();
  readonly #pools = new Map<string, Promise<ReadonlySet<string>>>();
  #trained = 0;

  private constructor(
    opts: WorldEvaluationOptions,
    parts: {
      store: FeatureStore;
      oracle: WorldOracle;
      trainEndTs: number;
      endTs: number;
      trainingSet: Table;
      sends: Table;
      outcomes: Table;
      campaigns: Campaign[];
      logged: Map<string, LoggedSends>;
    },
  ) {
    this.#opts = opts;
    this.#store = parts.store;
    this.#oracle = parts.oracle;
    this.trainEndTs = parts.trainEndTs;
    this.#endTs = parts.endTs;
    this.#trainingSet = parts.trainingSet;
    this.#sends = parts.sends;
    this.#outcomes = parts.outcomes;
    this.campaigns = parts.campaigns;
    this.#logged = parts.logged;
    this.#features = memoFeatureSource(offlineFeatureSource(parts.store, WORLD_SCORING_SERVICE));
  }

  static async open(opts: WorldEvaluationOptions): Promise<WorldEvaluationSession> {
    const manifest = readManifest(opts.worldDir);
    const days = Math.round((manifest.endTs - manifest.startTs) / MS_PER_DAY);
    const trainDays = Math.max(1, Math.min(days - 1, Math.round(days * (opts.trainFraction ?? 2 / 3))));
    const trainEndTs = manifest.startTs + trainDays * MS_PER_DAY;
    const store = await FeatureStore.open({
      dir: join(opts.workDir, 'features'),
      clock: new ManualClock(manifest.endTs),
      online: new MemoryOnlineStore(),
    });
    const oracle = await WorldOracle.open(opts.worldDir).catch(async (e) => {
      await store.close();
      throw e;
    });
    try {
      // features: the batch snapshots, and the stream views evaluated every 6 hours by their batch twin
      store.apply(loadDefinitionsFile(opts.definitionsPath));
      await importWorldBatchViews(store, opts.worldDir);
      await backfillWorldStreamViews(store, opts.worldDir, manifest.endTs);

      // the sends before the end of the training period, features point in time at each send
      const sendsPath = tableFiles(opts.worldDir, manifest, 'sends')[0] as string;
      const outcomesPath = tableFiles(opts.worldDir, manifest, 'outcomes')[0] as string;
      const labels = join(opts.workDir, 'train-labels.parquet');
      await store.offline.execute(
        `COPY (SELECT user_id, send_ts AS ts, hour(epoch_ms(send_ts)) AS hour_of_day, send_id FROM read_parquet(${lit(sendsPath)}) WHERE send_ts < ${trainEndTs}) TO ${lit(labels)} (FORMAT parquet)`,
      );
      const tsPath = join(opts.workDir, 'train-set.parquet');
      await store.trainingSet({ service: WORLD_SCORING_SERVICE, labelsPath: labels, outPath: tsPath });
      const trainingSet = await readTable(tsPath);
      const sends = await readTable(sendsPath);
      const outcomes = await readTable(outcomesPath);

      // the campaigns launched after training, by day, and what the World sent them
      const specs = (await worldCampaignSpecs(opts.worldDir)).filter((s) => Number(s.schedule.launch) >= trainEndTs);
      const campaigns: Campaign[] = specs
        .slice(0, opts.maxCampaigns ?? specs.length)
        .map((s, i) => parseCampaignSpec(s, `campaigns[${i}]`));
      const windows = Object.entries(DEFAULT_ATTRIBUTION_WINDOWS_MS)
        .map(([g, ms]) => `WHEN ${lit(g)} THEN ${ms}`)
        .join(' ');
      const worldSends = await store.offline.query(
        `SELECT s.campaign_id, s.user_id, s.selection, s.send_ts::DOUBLE AS send_ts,
                EXISTS (SELECT 1 FROM read_parquet(${lit(outcomesPath)}) o
                        WHERE o.send_id = s.send_id AND o.kind = s.goal
                          AND o.outcome_ts - s.send_ts <= CASE s.goal ${windows} END) AS hit
         FROM read_parquet(${lit(sendsPath)}) s WHERE s.send_ts >= ${trainEndTs}`,
      );
      const logged = new Map<string, LoggedSends>();
      for (const r of worldSends) {
        const key = String(r.campaign_id);
        let e = logged.get(key);
        if (!e) logged.set(key, (e = { rule: [], explore: [] }));
        if (r.selection === 'rule') e.rule.push(String(r.user_id));
        else if (r.selection === 'explore')
          e.explore.push({ user: String(r.user_id), sendTs: Number(r.send_ts), hit: r.hit === true });
      }
      return new WorldEvaluationSession(opts, {
        store,
        oracle,
        trainEndTs,
        endTs: manifest.endTs,
        trainingSet,
        sends,
        outcomes,
        campaigns,
        logged,
      });
    } catch (e) {
      await oracle.close();
      await store.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.#oracle.close();
    await this.#store.close();
  }

  /**
   * Trains and registers (as champions) one model per goal on the sends before the end of training; options not
   * given are `WORLD_TRAINING`'s.
   */
  trainModels(given: WorldTrainingOptions = {}): { registry: ModelRegistry; models: WorldModels } {
    const options = { ...WORLD_TRAINING, ...given };
    const registry = new ModelRegistry(join(this.#opts.workDir, `models-${this.#trained++}`));
    const crossFeatures = worldCrossFeatures();
    // the per-category views reach the model through the cross features only, and a campaign's vertical and goal
    // are constant within its ranking: as raw columns they took 12-20% of the trees' gain for nothing
    const exclude = [...crossFeatures.inputsOf('vertical_affinity'), 'vertical', 'goal'];
    const models: Record<string, { id: string; testAuc: number | null; trainRows: number }> = {};
    for (const goal of CAMPAIGN_GOALS) {
      // conversions take up to 17 days, longer than a short World's training period: young sends are kept
      const set = buildSendTrainingSet(this.#trainingSet, this.#sends, this.#outcomes, {
        goal,
        asOfMs: this.trainEndTs,
        immature: 'weight',
        crossFeatures,
        exclude,
      });
      const trained = trainModel(set.matrix, set.labels, set.columns, {
        gbdt: { ...WORLD_GBDT, minChildWeight: minChildWeightFor(set.labels), ...options.gbdt },
        time: set.time,
        name: `world-${goal}`,
        goal,
        ...(options.testFraction === undefined ? {} : { testFraction: options.testFraction }),
        ...(options.validFraction === undefined ? {} : { validFraction: options.validFraction }),
        ...(options.refit === undefined ? {} : { refit: options.refit }),
        ...(options.delayWeights ? { weights: set.weights } : {}),
      });
      const entry = registry.register(trained.artifact, `world-${goal}`, goal);
      registry.promote(entry.id, 'champion');
      models[goal] = { id: entry.id, testAuc: trained.test?.rocAuc ?? null, trainRows: set.labels.length };
    }
    return { registry, models };
  }

  #index(day: number): Promise<SegmentIndex> {
    let i = this.#indexes.get(day);
    if (!i) this.#indexes.set(day, (i = buildWorldSegmentIndex(this.#store.offline, this.#opts.worldDir, day)));
    return i;
  }

  #pool(campaignId: string): Promise<ReadonlySet<string>> {
    let p = this.#pools.get(campaignId);
    if (!p) this.#pools.set(campaignId, (p = this.#oracle.explorationPool(campaignId).then((x) => new Set(x.userIds))));
    return p;
  }

  /**
   * Decides every campaign at its desired size with the registry's champions (features point in time at the
   * launch, caps shared across the day's campaigns) and sums the oracle's goal probabilities over the audience,
   * against the World's own rule-based selection, random eligible users, and the oracle's own top-k among the same
   * eligible users; and estimates the same audiences' value from the World's exploration sends (IPS).
   */
  async evaluate(trained: { registry: ModelRegistry; models: WorldModels }): Promise<WorldEvaluation> {
    const crossFeatures = worldCrossFeatures();
    const resolver = new RegistryModelResolver(trained.registry, { crossFeatures });
    const ledger = new MemoryCapLedger();
    const cap = this.#opts.capPerDay ?? 3;
    const caps = { email: cap, push: cap, in_app: cap };
    const total = emptySums();
    const byChannel = new Map<string, Sums>();
    const byGoal = new Map<CampaignGoal, Sums>();
    const logs: UniformExplorationLog[] = [];
    let ipsOracle = 0;
    let immatureCampaigns = 0;
    let done = 0;
    for (const c of this.campaigns) {
      const day = Math.floor(c.launchTs / MS_PER_DAY) * MS_PER_DAY;
      const index = await this.#index(day);
      const result = await decide(
        [c],
        { index, features: this.#features, models: resolver, ledger, capsPerDay: caps },
        { atMs: c.launchTs },
      );
      const d = result.campaigns[0];
      done++;
      this.#opts.onProgress?.(done, this.campaigns.length);
      if (!d || d.userIds.length === 0 || d.members.length === 0) continue;
      // eligible: the candidates that could still receive a message on the campaign's channel today (the day's
      // earlier campaigns may have used a user's cap); random and the oracle's top-k choose among them too
      const memberRows = new Set<number>(d.members);
      const eligible: number[] = [];
      for (let r = 0; r < d.userIds.length; r++)
        if (memberRows.has(r) || ledger.count(d.userIds[r] as string, c.channel, c.launchTs) < cap) eligible.push(r);
      const pAll = await this.#oracle.goalProbabilities(c, d.userIds);
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
      const logged = this.#logged.get(c.id);
      const ruleUsers = logged?.rule ?? [];
      let rule = mean * k; // a campaign the World sent to nobody by its rules counts as random
      if (ruleUsers.length > 0) {
        const pr = await this.#oracle.goalProbabilities(c, ruleUsers);
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
      // IPS: the World's exploration sends of the campaign are a uniform draw from its exploration pool; they say
      // something only about the audience's users in that pool, and only once their labels are final
      const explore = logged?.explore ?? [];
      if (explore.length === 0) continue;
      const windowMs = DEFAULT_ATTRIBUTION_WINDOWS_MS[c.goal];
      if (explore.some((e) => e.sendTs + windowMs > this.#endTs)) {
        immatureCampaigns++;
        continue;
      }
      const pool = await this.#pool(c.id);
      const members = new Set<string>();
      const inPool: string[] = [];
      for (const r of d.members) {
        const u = d.userIds[r] as string;
        members.add(u);
        if (pool.has(u)) inPool.push(u);
      }
      if (inPool.length > 0) for (const v of await this.#oracle.goalProbabilities(c, inPool)) ipsOracle += v;
      logs.push({
        poolSize: pool.size,
        inPolicy: Uint8Array.from(explore, (e) => (members.has(e.user) ? 1 : 0)),
        outcome: Uint8Array.from(explore, (e) => (e.hit ? 1 : 0)),
        policyInPool: inPool.length,
      });
    }
    const ips = estimatePolicyValue(logs);
    return {
      ...figures(total),
      trainEndTs: this.trainEndTs,
      models: trained.models,
      byChannel: Object.fromEntries([...byChannel].map(([k, s]) => [k, figures(s)])),
      byGoal: Object.fromEntries([...byGoal].map(([k, s]) => [k, figures(s)])),
      ips: {
        estimate: ips.estimate,
        ci95: [ips.ci95[0], ips.ci95[1]],
        oracle: ipsOracle,
        covered: ips.ci95[0] <= ipsOracle && ipsOracle <= ips.ci95[1],
        campaigns: ips.campaigns,
        immatureCampaigns,
        loggedSends: ips.logged,
        matched: ips.matched,
        hits: ips.hits,
        audienceInPools: ips.policyInPool,
      },
    };
  }
}

/**
 * Judges adnova's decision by the World's truth: trains a model per goal on the first part of the World, then for
 * every campaign launched after it builds the audience at the campaign's size and compares it with the World's
 * rule-based selection, random eligible users and the oracle's top-k (see `WorldEvaluationSession.evaluate`).
 */
export async function evaluateOnWorld(opts: WorldEvaluationOptions): Promise<WorldEvaluation> {
  const session = await WorldEvaluationSession.open(opts);
  try {
    return await session.evaluate(
      session.trainModels({ ...opts.training, gbdt: { ...opts.training?.gbdt, ...opts.gbdt } }),
    );
  } finally {
    await session.close();
  }
}
