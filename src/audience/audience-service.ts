import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type HistogramMetric, InvalidInputError, type MetricsRegistry } from '../core/index.js';
import {
  type Campaign,
  decide,
  isLive,
  POLICY_OUTCOMES,
  type PolicyOutcome,
  retrieve,
  type ScoringModel,
} from '../decision/index.js';
import type {
  AudienceCandidates,
  AudienceDeployment,
  AudienceSettings,
  AudienceStore,
  AudienceSummary,
  AudienceVersion,
  ExportFormat,
  ExportRecord,
  FreshnessFigures,
  MajorChangeRule,
} from './audience.js';
import { EXPORT_FORMATS } from './audience.js';
import { AudienceCampaignStateError, AudienceNotFoundError } from './errors.js';
import { writeMembersFile } from './export-files.js';
import { FileAudienceStore, membersOf } from './file-audience-store.js';
import { candidatesOf, countsOf, emptyCandidates, selectAudience, stagesOf } from './selection.js';
import { mergeShardResults, removeBuild, type ShardRunner, type ShardTask, scoreUsers } from './shard-jobs.js';

/** A user whose behaviour changed (the stream ingestor's DirtyUser has this shape). */
export interface ChangedUser {
  readonly userId: string;
  /** The newest event time the user's new features include: the start of the event -> membership latency. */
  readonly eventTs?: number;
  /** Views that changed; absent = any. */
  readonly views?: readonly string[];
}

export interface BuildOptions {
  /** Decision time; default the deployment clock's now. */
  readonly atMs?: number;
  /** Hour of day the scores use; default the UTC hour of `atMs`. */
  readonly hourOfDay?: number;
  /** Split the scoring into this many user-id shards on the service's runner. Default 1 (one decision in process). */
  readonly shards?: number;
  /** Saved for the campaign's refreshes. */
  readonly majorChange?: MajorChangeRule;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface BuildResult {
  readonly summary: AudienceSummary;
  readonly runner: string;
  readonly timingsMs: { readonly decide: number; readonly store: number; readonly total: number };
}

export interface RefreshOptions {
  readonly atMs?: number;
  /** Only these campaigns (default: every live campaign with a stored audience). */
  readonly campaignIds?: readonly string[];
}

export interface CampaignRefresh {
  readonly campaignId: string;
  /** The new version, or null when nothing changed for this campaign. */
  readonly version: number | null;
  readonly changedUsers: number;
  readonly rescored: number;
  readonly added: number;
  readonly removed: number;
  readonly freshness: FreshnessFigures | null;
}

export interface RefreshResult {
  readonly atMs: number;
  readonly users: number;
  readonly rescored: number;
  readonly campaigns: readonly CampaignRefresh[];
  readonly timingsMs: number;
}

/** One user's move between two versions, with what each version said about them. */
export interface DiffEntry {
  readonly userId: string;
  /** Outcome in the older version ('not_candidate' when retrieval did not keep them). */
  readonly before: PolicyOutcome | 'not_candidate';
  readonly after: PolicyOutcome | 'not_candidate';
  readonly scoreBefore: number | null;
  readonly scoreAfter: number | null;
}

export interface AudienceDiff {
  readonly campaignId: string;
  readonly from: number;
  readonly to: number;
  readonly added: readonly DiffEntry[];
  readonly removed: readonly DiffEntry[];
  readonly kept: number;
  /** Removed users by their outcome in the newer version: why they left. */
  readonly removedBecause: Readonly<Record<string, number>>;
  readonly addedFrom: Readonly<Record<string, number>>;
}

const FRESHNESS_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600];

export interface AudienceServiceOptions {
  readonly deployment: AudienceDeployment;
  /** Default: a FileAudienceStore under the deployment's `audiences/`. */
  readonly store?: AudienceStore;
  /** Where sharded builds run; without one, `shards > 1` runs them in process. */
  readonly runner?: ShardRunner;
  readonly metrics?: MetricsRegistry;
}

/**
 * Audiences from the decision: `build` runs it over all of a campaign's candidates and stores a version; `refresh`
 * re-scores only the users told it changed (and those retrieval newly keeps), then re-runs the policy over the
 * stored scores, so a refreshed audience is the audience a full build at that time would give (docs/audience.md).
 */
export class AudienceService {
  readonly deployment: AudienceDeployment;
  readonly store: AudienceStore;
  readonly #runner: ShardRunner | undefined;
  readonly #freshness: HistogramMetric | undefined;

  constructor(options: AudienceServiceOptions) {
    this.deployment = options.deployment;
    this.store =
      options.store ?? new FileAudienceStore(options.deployment.layout.audiences, { clock: options.deployment.clock });
    this.#runner = options.runner;
    this.#freshness = options.metrics?.histogram({
      name: 'adnova_audience_membership_freshness_seconds',
      help: 'Per audience: from a behaviour event (event_ts) to the refreshed membership being visible in the store',
      labelNames: ['campaign'],
      buckets: FRESHNESS_BUCKETS_S,
    });
  }

  /** The campaign, if an audience may be built for it at `atMs`: known, active, not ended, with a model. */
  async #buildable(campaignId: string, atMs: number): Promise<{ c: Campaign; model: ScoringModel }> {
    const c = await this.deployment.campaigns.getOrThrow(campaignId);
    if (c.status !== 'active')
      throw new AudienceCampaignStateError(
        `campaign ${c.id} is ${c.status}; resume it (\`adnova campaign resume ${c.id}\`) before building its audience`,
      );
    if (c.endTs !== null && c.endTs <= atMs)
      throw new AudienceCampaignStateError(
        `campaign ${c.id} ended at ${new Date(c.endTs).toISOString()}; no audience is built after its end`,
      );
    // a ModelMissingError (exit 2) before any work is done
    const model = this.deployment.deps().models.forCampaign(c);
    return { c, model };
  }

  async build(campaignId: string, opts: BuildOptions = {}): Promise<BuildResult> {
    const started = performance.now();
    const atMs = opts.atMs ?? this.deployment.clock.now();
    const hourOfDay = opts.hourOfDay ?? new Date(atMs).getUTCHours();
    if (!(Number.isInteger(hourOfDay) && hourOfDay >= 0 && hourOfDay <= 23))
      throw new InvalidInputError(`hourOfDay must be a whole number from 0 to 23, got ${opts.hourOfDay}`);
    const shards = opts.shards ?? 1;
    if (!(Number.isInteger(shards) && shards >= 1 && shards <= 4096))
      throw new InvalidInputError(`shards must be a whole number from 1 to 4096, got ${opts.shards}`);
    const { c } = await this.#buildable(campaignId, atMs);
    if (opts.majorChange) await this.store.saveSettings(c.id, { majorChange: opts.majorChange });

    let draft: Parameters<AudienceStore['save']>[0];
    let runner = 'in-process';
    if (shards === 1 && !this.#runner) {
      // one decision over every candidate: retrieval on bitmaps, one feature read, the policy's own selection
      opts.onProgress?.(0, 1);
      const result = await decide([c], this.deployment.deps(), { atMs, context: { hourOfDay }, commit: false });
      const d = result.campaigns[0] as (typeof result.campaigns)[number];
      const users = this.deployment.index.users;
      const candidates = candidatesOf(result, d, (u) => users.denseOf(u), 0);
      draft = {
        campaignId: c.id,
        decidedTs: atMs,
        hourOfDay,
        origin: { kind: 'build', parent: (await this.store.current(c.id))?.version ?? null, shards: 1 },
        models: [d.model.id],
        stages: d.stages,
        counts: countsOf(d.outcome),
        candidates,
        selection: { outcome: d.outcome, rank: d.rank, propensity: d.propensity, members: d.members, slots: d.slots },
      };
      opts.onProgress?.(1, 1);
    } else {
      const buildId = `${c.id.replaceAll(':', '_')}-${atMs}-${randomBytes(4).toString('hex')}`;
      const tasks: ShardTask[] = Array.from({ length: shards }, (_, shard) => ({
        deploymentDir: this.deployment.layout.root,
        buildId,
        campaignId: c.id,
        atMs,
        hourOfDay,
        shard,
        shards,
      }));
      const dir = this.deployment.layout.audiences;
      try {
        if (this.#runner) {
          runner = this.#runner.name;
          await this.#runner.run(tasks);
        } else {
          const { EmbeddedShardRunner } = await import('./shard-jobs.js');
          const embedded = new EmbeddedShardRunner(this.deployment);
          for (let k = 0; k < tasks.length; k++) {
            opts.onProgress?.(k, tasks.length);
            await embedded.run([tasks[k] as ShardTask]);
          }
          opts.onProgress?.(tasks.length, tasks.length);
        }
        const merged = mergeShardResults(dir, tasks);
        draft = this.#draftOver(c, merged.candidates, merged.models, atMs, hourOfDay, {
          kind: 'build',
          parent: (await this.store.current(c.id))?.version ?? null,
          shards,
        });
      } finally {
        removeBuild(dir, buildId);
      }
    }
    const decided = performance.now();
    const summary = await this.store.save(draft);
    const done = performance.now();
    return {
      summary,
      runner,
      timingsMs: { decide: decided - started, store: done - decided, total: done - started },
    };
  }

  /** A version drafted from candidates: the policy over their scores and the retrieval stages of `atMs`. */
  #draftOver(
    c: Campaign,
    candidates: AudienceCandidates,
    models: readonly string[],
    atMs: number,
    hourOfDay: number,
    origin: AudienceSummary['origin'],
  ): Parameters<AudienceStore['save']>[0] {
    const { selection, counts } = selectAudience(c, candidates, this.deployment.deps(), atMs);
    const r = this.#retrieve(c, atMs);
    return {
      campaignId: c.id,
      decidedTs: atMs,
      hourOfDay,
      origin,
      models,
      stages: stagesOf(c, r.stages, candidates, counts),
      counts,
      candidates,
      selection,
    };
  }

  #retrieve(c: Campaign, atMs: number) {
    const index = this.deployment.index;
    const share = this.deployment.manifest.controlShare;
    return retrieve(c, index, share > 0 ? { atMs, controlGroup: index.controlGroup(share) } : { atMs });
  }

  /**
   * Applies behaviour changes to every live audience (or the named campaigns'): re-scores the changed users the
   * campaign's major-change rule selects, scores users retrieval now keeps that the audience had no row for, drops
   * those it no longer keeps, and re-runs the policy over the stored scores. A campaign with nothing changed keeps
   * its version.
   */
  async refresh(changes: readonly ChangedUser[], opts: RefreshOptions = {}): Promise<RefreshResult> {
    const started = performance.now();
    const atMs = opts.atMs ?? this.deployment.clock.now();
    const byUser = new Map<string, ChangedUser>();
    for (const ch of changes) {
      const prev = byUser.get(ch.userId);
      // a user changed twice: the union of the views, the newest event
      byUser.set(
        ch.userId,
        prev === undefined
          ? ch
          : {
              userId: ch.userId,
              eventTs: Math.max(prev.eventTs ?? Number.NEGATIVE_INFINITY, ch.eventTs ?? Number.NEGATIVE_INFINITY),
              ...(prev.views && ch.views ? { views: [...new Set([...prev.views, ...ch.views])] } : {}),
            },
      );
    }
    const ids = opts.campaignIds ?? (await this.store.list()).map((s) => s.campaignId);
    const out: CampaignRefresh[] = [];
    let rescored = 0;
    for (const id of ids) {
      const c = await this.deployment.campaigns.get(id);
      if (!c || !isLive(c, atMs)) continue;
      const r = await this.#refreshOne(c, byUser, atMs);
      rescored += r.rescored;
      out.push(r);
    }
    return { atMs, users: byUser.size, rescored, campaigns: out, timingsMs: performance.now() - started };
  }

  async #refreshOne(c: Campaign, changed: ReadonlyMap<string, ChangedUser>, atMs: number): Promise<CampaignRefresh> {
    const cur = await this.store.get(c.id);
    const settings = await this.store.settings(c.id);
    const model = this.deployment.deps().models.forCampaign(c);
    const triggers = triggerOf(settings, model);
    const users = this.deployment.index.users;
    const old = cur.candidates;
    const now = this.#retrieve(c, atMs).candidates.toUint32Array();

    // changed users this campaign must re-score, by dense id
    const rescore = new Set<number>();
    const relevant: ChangedUser[] = [];
    const inOld = (d: number) => binarySearch(old.dense, d) >= 0;
    for (const ch of changed.values()) {
      const d = users.denseOf(ch.userId);
      if (d === undefined) continue;
      const inNow = binarySearch(now, d) >= 0;
      if (!inNow && !inOld(d)) continue;
      relevant.push(ch);
      if (inNow && triggers(ch)) rescore.add(d);
    }

    // rows: kept from the stored version, or to score (re-scored, or new to retrieval)
    const fromOld = new Int32Array(now.length).fill(-1);
    const toScore: string[] = [];
    let j = 0;
    for (let i = 0; i < now.length; i++) {
      const d = now[i] as number;
      while (j < old.dense.length && (old.dense[j] as number) < d) j++;
      const had = j < old.dense.length && old.dense[j] === d;
      if (had) fromOld[i] = j;
      if (!had || rescore.has(d)) toScore.push(users.userOf(d) as string);
    }
    const scored = await scoreUsers(this.deployment, c, toScore, atMs, cur.summary.hourOfDay);
    const models = [...cur.summary.models];
    const modelMap = scored.models.map((m) => {
      let k = models.indexOf(m);
      if (k < 0) k = models.push(m) - 1;
      return k;
    });
    const s = scored.candidates;
    const minDelta = settings.majorChange.kind === 'score' ? settings.majorChange.minDelta : 0;
    const next = emptyCandidates(now.length);
    const nextIds: string[] = [];
    let k = 0; // rows of `s`, ascending dense like `now`
    let rows = 0;
    let changedRows = now.length !== old.dense.length ? 1 : 0;
    for (let i = 0; i < now.length; i++) {
      const d = now[i] as number;
      while (k < s.dense.length && (s.dense[k] as number) < d) k++;
      const o = fromOld[i] as number;
      const hasNew = k < s.dense.length && s.dense[k] === d;
      let src: AudienceCandidates;
      let row: number;
      let model = -1;
      if (
        hasNew &&
        !(o >= 0 && minDelta > 0 && closeScores(old.scores[o] as number, s.scores[k] as number, minDelta))
      ) {
        src = s;
        row = k;
        model = modelMap[s.modelIndex[k] as number] as number;
        if (o < 0 || !Object.is(old.scores[o], s.scores[k]) || old.predicateFailed[o] !== s.predicateFailed[k])
          changedRows++;
      } else if (o >= 0) {
        src = old;
        row = o;
      } else continue; // the restricted decision's retrieval left the user out after all
      nextIds.push(src.userIds[row] as string);
      next.dense[rows] = d;
      next.scores[rows] = src.scores[row] as number;
      next.predicateFailed[rows] = src.predicateFailed[row] as number;
      next.modelIndex[rows] = model >= 0 ? model : (src.modelIndex[row] as number);
      next.featuresTs[rows] = src.featuresTs[row] as number;
      next.scoredTs[rows] = src.scoredTs[row] as number;
      rows++;
    }
    const base = { campaignId: c.id, changedUsers: relevant.length, rescored: toScore.length };
    if (changedRows === 0 && rows === old.dense.length)
      return { ...base, version: null, added: 0, removed: 0, freshness: null };
    const candidates: AudienceCandidates = {
      userIds: nextIds,
      dense: next.dense.slice(0, rows),
      scores: next.scores.slice(0, rows),
      predicateFailed: next.predicateFailed.slice(0, rows),
      modelIndex: next.modelIndex.slice(0, rows),
      featuresTs: next.featuresTs.slice(0, rows),
      scoredTs: next.scoredTs.slice(0, rows),
    };
    const draft = this.#draftOver(c, candidates, models, atMs, cur.summary.hourOfDay, {
      kind: 'refresh',
      parent: cur.summary.version,
    });
    const { added, removed } = memberDelta(cur, draft.candidates, draft.selection.members);
    const saved = await this.store.save({
      ...draft,
      origin: { ...draft.origin, changedUsers: relevant.length, rescored: toScore.length, added, removed },
    });
    // visible from here: event -> membership for every changed user this audience looked at
    const visible = this.deployment.clock.now();
    const lags: number[] = [];
    for (const ch of relevant)
      if (ch.eventTs !== undefined && Number.isFinite(ch.eventTs)) {
        const lag = Math.max(0, visible - ch.eventTs);
        lags.push(lag);
        this.#freshness?.observe({ campaign: c.id }, lag / 1000);
      }
    const freshness = lags.length ? freshnessOf(lags) : null;
    if (freshness) await this.#noteFreshness(saved, freshness);
    return { ...base, version: saved.version, added, removed, freshness };
  }

  /** The freshness of a refresh, kept with the campaign for `describe` (the version is already written). */
  async #noteFreshness(saved: AudienceSummary, f: FreshnessFigures): Promise<void> {
    const settings = await this.store.settings(saved.campaignId);
    const prev = (settings as AudienceSettings & { freshness?: FreshnessLog }).freshness;
    const log: FreshnessLog = {
      refreshes: (prev?.refreshes ?? 0) + 1,
      users: (prev?.users ?? 0) + f.users,
      last: { version: saved.version, ...f },
      worstP99Ms: Math.max(prev?.worstP99Ms ?? 0, f.p99Ms),
    };
    await this.store.saveSettings(saved.campaignId, { ...settings, freshness: log } as AudienceSettings);
  }

  /** Writes a version's members (best first) to a Parquet or CSV file and records it for privacy deletions. */
  async export(
    campaignId: string,
    opts: { readonly out: string; readonly format: ExportFormat; readonly version?: number },
  ): Promise<ExportRecord> {
    if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format))
      throw new InvalidInputError(`format: expected one of ${EXPORT_FORMATS.join(', ')}, got "${opts.format}"`);
    const v = await this.store.get(campaignId, opts.version);
    const members = membersOf(v);
    const path = resolve(opts.out);
    mkdirSync(dirname(path), { recursive: true });
    await writeMembersFile(path, opts.format, members);
    const record: ExportRecord = {
      campaignId,
      version: v.summary.version,
      path,
      format: opts.format,
      rows: members.length,
      createdTs: this.deployment.clock.now(),
    };
    await this.store.recordExport(record);
    return record;
  }

  /** A stored version with its campaign's settings and refresh freshness. */
  async describe(campaignId: string, version?: number): Promise<AudienceDescription> {
    const summary = (await this.store.get(campaignId, version)).summary;
    const settings = (await this.store.settings(campaignId)) as AudienceSettings & { freshness?: FreshnessLog };
    const versions = (await this.store.list(campaignId)).map((s) => s.version);
    return {
      summary,
      versions,
      majorChange: settings.majorChange,
      freshness: settings.freshness ?? null,
    };
  }

  /** Who joined and who left between two versions (default: the current one and its parent), and why. */
  async diff(campaignId: string, from?: number, to?: number): Promise<AudienceDiff> {
    const b = await this.store.get(campaignId, to);
    const fromVersion = from ?? b.summary.origin.parent ?? b.summary.version - 1;
    if (!(fromVersion >= 1))
      throw new AudienceNotFoundError(`campaign ${campaignId} has only version ${b.summary.version}: nothing to diff`);
    const a = await this.store.get(campaignId, fromVersion);
    const rowsA = rowByDense(a);
    const rowsB = rowByDense(b);
    const isMember = (v: AudienceVersion, row: number) => {
      const o = v.selection.outcome[row] as number;
      return o === EXPLOIT || o === EXPLORE;
    };
    const entry = (userId: string, dense: number): DiffEntry => {
      const ra = rowsA.get(dense);
      const rb = rowsB.get(dense);
      const at = (v: AudienceVersion, r: number | undefined) =>
        r === undefined ? 'not_candidate' : (POLICY_OUTCOMES[v.selection.outcome[r] as number] as PolicyOutcome);
      const score = (v: AudienceVersion, r: number | undefined) => {
        if (r === undefined) return null;
        const x = v.candidates.scores[r] as number;
        return Number.isNaN(x) ? null : x;
      };
      return {
        userId,
        before: at(a, ra),
        after: at(b, rb),
        scoreBefore: score(a, ra),
        scoreAfter: score(b, rb),
      };
    };
    const added: DiffEntry[] = [];
    const removed: DiffEntry[] = [];
    let kept = 0;
    for (const row of b.selection.members) {
      const d = b.candidates.dense[row] as number;
      const ra = rowsA.get(d);
      if (ra !== undefined && isMember(a, ra)) kept++;
      else added.push(entry(b.candidates.userIds[row] as string, d));
    }
    for (const row of a.selection.members) {
      const d = a.candidates.dense[row] as number;
      const rb = rowsB.get(d);
      if (rb === undefined || !isMember(b, rb)) removed.push(entry(a.candidates.userIds[row] as string, d));
    }
    const tally = (list: DiffEntry[], key: 'before' | 'after') => {
      const t: Record<string, number> = {};
      for (const e of list) t[e[key]] = (t[e[key]] ?? 0) + 1;
      return t;
    };
    return {
      campaignId,
      from: a.summary.version,
      to: b.summary.version,
      added,
      removed,
      kept,
      removedBecause: tally(removed, 'after'),
      addedFrom: tally(added, 'before'),
    };
  }
}

export interface FreshnessLog {
  readonly refreshes: number;
  readonly users: number;
  readonly last: FreshnessFigures & { readonly version: number };
  readonly worstP99Ms: number;
}

export interface AudienceDescription {
  readonly summary: AudienceSummary;
  readonly versions: readonly number[];
  readonly majorChange: MajorChangeRule;
  readonly freshness: FreshnessLog | null;
}

const EXPLOIT = POLICY_OUTCOMES.indexOf('exploit');
const EXPLORE = POLICY_OUTCOMES.indexOf('explore');

function rowByDense(v: AudienceVersion): Map<number, number> {
  const m = new Map<number, number>();
  const d = v.candidates.dense;
  for (let i = 0; i < d.length; i++) m.set(d[i] as number, i);
  return m;
}

function memberDelta(
  prev: AudienceVersion,
  next: AudienceCandidates,
  members: Uint32Array,
): { added: number; removed: number } {
  const before = new Set<number>();
  for (const row of prev.selection.members) before.add(prev.candidates.dense[row] as number);
  let added = 0;
  let both = 0;
  for (const row of members) {
    if (before.has(next.dense[row] as number)) both++;
    else added++;
  }
  return { added, removed: before.size - both };
}

function freshnessOf(lagsMs: number[]): FreshnessFigures {
  const sorted = Float64Array.from(lagsMs).sort();
  return {
    users: sorted.length,
    p50Ms: quantileOf(sorted, 0.5),
    p99Ms: quantileOf(sorted, 0.99),
    maxMs: sorted[sorted.length - 1] as number,
  };
}

function closeScores(a: number, b: number, minDelta: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Math.abs(a - b) < minDelta;
}

function binarySearch(a: Uint32Array, x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid] as number;
    if (v === x) return mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The views a model reads: its columns' views and the inputs of its (user, campaign) cross features. */
export function viewsReadBy(model: ScoringModel): Set<string> {
  const views = new Set<string>();
  const add = (name: string) => {
    const dot = name.indexOf('.');
    if (dot > 0) views.add(name.slice(0, dot));
  };
  for (const col of model.columns) {
    add(col.name);
    if (model.crossFeatures?.names.includes(col.name as never))
      for (const input of model.crossFeatures.inputsOf(col.name as never)) add(input);
  }
  return views;
}

/** Whether a change is major for a campaign: what its rule names against the views the change touched. */
function triggerOf(settings: AudienceSettings, model: ScoringModel): (ch: ChangedUser) => boolean {
  const rule = settings.majorChange;
  const watched =
    rule.kind === 'features'
      ? new Set(rule.features.map((f) => f.slice(0, Math.max(0, f.indexOf('.')))))
      : viewsReadBy(model);
  return (ch) => ch.views === undefined || ch.views.some((v) => watched.has(v));
}

/** `--major-change` text: `model-inputs`, `features:view.a,view.b` or `score:0.05`. */
export function parseMajorChange(text: string): MajorChangeRule {
  const t = text.trim();
  if (t === 'model-inputs') return { kind: 'model-inputs' };
  if (t.startsWith('features:')) {
    const features = t
      .slice('features:'.length)
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);
    const bad = features.find((f) => !/^[a-z][a-z0-9_]*\.[a-z0-9_]+$/i.test(f));
    if (features.length === 0 || bad !== undefined)
      throw new InvalidInputError(
        `major-change features: expected view.feature names separated by commas, got "${bad ?? t.slice(9)}"`,
      );
    return { kind: 'features', features };
  }
  if (t.startsWith('score:')) {
    const minDelta = Number(t.slice('score:'.length));
    if (!(minDelta > 0 && minDelta <= 1))
      throw new InvalidInputError(`major-change score: expected a score change in (0, 1], got "${t.slice(6)}"`);
    return { kind: 'score', minDelta };
  }
  throw new InvalidInputError(
    `major-change: expected model-inputs, features:<view.feature,...> or score:<min change>, got "${text}"`,
  );
}

/** Nearest-rank quantile of ascending values. */
function quantileOf(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}
