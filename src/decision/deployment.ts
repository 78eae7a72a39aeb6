import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type AdnovaConfig,
  type Clock,
  defaultConfig,
  InvalidInputError,
  type MetricsRegistry,
  MS_PER_DAY,
  NotFoundError,
  systemClock,
  type TombstoneCheck,
} from '../core/index.js';
import { FeatureStore, type OnlineStore, openOnlineStore } from '../features/index.js';
import { type CrossFeatureSpec, CrossFeatures, ModelRegistry } from '../model/index.js';
import type { Campaign, CampaignChannel } from './campaign.js';
import { FileCampaignRegistry } from './campaign-registry.js';
import { type DecideOptions, type DecisionDeps, type DecisionResult, decide } from './decide.js';
import { FeatureStoreSource } from './feature-sources.js';
import { MemoryCapLedger } from './policy.js';
import { RegistryModelResolver } from './scoring.js';
import { SegmentIndex } from './segment-index.js';

/**
 * Where a deployment keeps each store, under one directory. Audiences, serving and privacy own the directories
 * named for them; the decision owns the rest.
 */
export interface DeploymentLayout {
  readonly root: string;
  /** The feature store: registry, offline Parquet, materialization marks, the memory store's snapshot. */
  readonly features: string;
  readonly campaigns: string;
  readonly models: string;
  /** The user index and the segment bitmaps. */
  readonly index: string;
  /** Sends per user, channel and day (frequency caps). */
  readonly ledger: string;
  readonly audiences: string;
  readonly requestLog: string;
  readonly keys: string;
  readonly privacy: string;
  readonly manifest: string;
}

export function deploymentLayout(dir: string): DeploymentLayout {
  const root = resolve(dir);
  return {
    root,
    features: join(root, 'features'),
    campaigns: join(root, 'campaigns'),
    models: join(root, 'models'),
    index: join(root, 'index'),
    ledger: join(root, 'ledger'),
    audiences: join(root, 'audiences'),
    requestLog: join(root, 'request-log'),
    keys: join(root, 'keys'),
    privacy: join(root, 'privacy'),
    manifest: join(root, 'deployment.json'),
  };
}

/** What a deployment was built from and how its decisions are configured (`deployment.json`). */
export interface DeploymentManifest {
  readonly format: 'adnova-deployment';
  readonly version: 1;
  /** The feature service the models were trained on and decisions read. */
  readonly service: string;
  readonly createdAt: string;
  /** The time the deployment's features and index are current to (epoch ms). */
  readonly asOfMs: number;
  /** The (user, campaign) features the models were trained with, or null. */
  readonly crossFeatures: CrossFeatureSpec | null;
  readonly capsPerDay: Readonly<Record<CampaignChannel, number>>;
  /** Share of users in the global control group. */
  readonly controlShare: number;
  /** Where its data came from, for `describe` (a World's directory and seed, an import). */
  readonly source: Readonly<Record<string, string | number>>;
}

const MANIFEST_FORMAT = 'adnova-deployment';

export function readDeploymentManifest(dir: string): DeploymentManifest {
  const file = deploymentLayout(dir).manifest;
  if (!existsSync(file))
    throw new NotFoundError(
      `${resolve(dir)} is not an adnova deployment (no deployment.json); create one with \`adnova deploy --world DIR --out ${dir}\``,
    );
  let m: DeploymentManifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as DeploymentManifest;
  } catch (err) {
    throw new InvalidInputError(`${file} is not valid JSON`, { cause: err });
  }
  if (m.format !== MANIFEST_FORMAT || m.version !== 1)
    throw new InvalidInputError(
      `${file} has format ${String(m.format)} v${String(m.version)}; expected ${MANIFEST_FORMAT} v1`,
    );
  return m;
}

export function writeDeploymentManifest(dir: string, manifest: DeploymentManifest): void {
  const file = deploymentLayout(dir).manifest;
  mkdirSync(resolve(dir), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(tmp, file);
}

export interface OpenDeploymentOptions {
  readonly dir: string;
  /** Names the online store (memory snapshot under `features/`, or Redis); the embedded defaults otherwise. */
  readonly config?: AdnovaConfig;
  /** An online store to use instead of the one the config names (tests, a store shared with a stream job). */
  readonly online?: OnlineStore;
  readonly clock?: Clock;
  readonly metrics?: MetricsRegistry;
  /**
   * Users whose deletion was requested (the privacy ledger): the feature store, the segment index and the cap
   * ledger write nothing of them. Default: nobody.
   */
  readonly tombstones?: TombstoneCheck;
}

interface LedgerFile {
  readonly format: 'adnova-cap-ledger';
  readonly version: 1;
  /** `[utcDay, channel, userId, count]` */
  readonly entries: [number, string, string, number][];
}

function loadLedger(dir: string): MemoryCapLedger {
  const file = join(dir, 'caps.json');
  if (!existsSync(file)) return new MemoryCapLedger();
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as LedgerFile;
    if (data.format !== 'adnova-cap-ledger' || data.version !== 1) throw new Error(`format ${String(data.format)}`);
    return MemoryCapLedger.fromEntries(data.entries);
  } catch (err) {
    throw new InvalidInputError(`${file} is not a readable cap ledger: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A deployment: the stores one decision reads (features, campaigns, models, the segment index, the cap ledger),
 * opened from one directory. The batch audience job, the online API and the privacy deleters all open it this
 * way, so they decide with the same index, models and ledger. One writer process at a time (the CLI, one serving
 * process, or the audience job); `flush` persists what decisions changed.
 */
export class Deployment {
  readonly layout: DeploymentLayout;
  readonly manifest: DeploymentManifest;
  readonly store: FeatureStore;
  readonly campaigns: FileCampaignRegistry;
  readonly models: ModelRegistry;
  readonly index: SegmentIndex;
  readonly ledger: MemoryCapLedger;
  readonly clock: Clock;
  readonly crossFeatures: CrossFeatures | null;
  readonly #resolver: RegistryModelResolver;
  #fallbackResolver: RegistryModelResolver | null = null;

  private constructor(
    layout: DeploymentLayout,
    manifest: DeploymentManifest,
    store: FeatureStore,
    index: SegmentIndex,
    ledger: MemoryCapLedger,
    clock: Clock,
  ) {
    this.layout = layout;
    this.manifest = manifest;
    this.store = store;
    this.index = index;
    this.ledger = ledger;
    this.clock = clock;
    this.campaigns = new FileCampaignRegistry(layout.campaigns, () => clock.now());
    this.models = new ModelRegistry(layout.models);
    this.crossFeatures = manifest.crossFeatures ? new CrossFeatures(manifest.crossFeatures) : null;
    this.#resolver = new RegistryModelResolver(
      this.models,
      this.crossFeatures ? { crossFeatures: this.crossFeatures } : {},
    );
  }

  static async open(options: OpenDeploymentOptions): Promise<Deployment> {
    const layout = deploymentLayout(options.dir);
    const manifest = readDeploymentManifest(layout.root);
    const clock = options.clock ?? systemClock;
    const online = options.online ?? openOnlineStore(options.config ?? defaultConfig(), layout.features);
    const store = await FeatureStore.open({
      dir: layout.features,
      online,
      clock,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.tombstones ? { tombstones: options.tombstones } : {}),
    });
    try {
      const index = SegmentIndex.load(layout.index);
      const ledger = loadLedger(layout.ledger);
      if (options.tombstones) {
        index.tombstones = options.tombstones;
        ledger.tombstones = options.tombstones;
      }
      return new Deployment(layout, manifest, store, index, ledger, clock);
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  get service(): string {
    return this.manifest.service;
  }

  /** What `decide` needs, from this deployment's stores; `features: 'offline'` reads point in time (back-tests). */
  deps(options: { features?: 'online' | 'offline'; models?: 'champion' | 'fallback' } = {}): DecisionDeps {
    return {
      index: this.index,
      features: new FeatureStoreSource(this.store, this.service, options.features ?? 'online'),
      models: options.models === 'fallback' ? this.fallbackModels() : this.#resolver,
      ledger: this.ledger,
      capsPerDay: this.manifest.capsPerDay,
      controlShare: this.manifest.controlShare,
    };
  }

  /** The models trained on batch-only features (registry role `fallback`). */
  fallbackModels(): RegistryModelResolver {
    this.#fallbackResolver ??= new RegistryModelResolver(this.models, { role: 'fallback' });
    return this.#fallbackResolver;
  }

  /** The decision for these campaigns with this deployment's stores. */
  decide(campaigns: readonly Campaign[], options: Partial<DecideOptions> = {}): Promise<DecisionResult> {
    return decide(campaigns, this.deps(), { atMs: this.clock.now(), ...options });
  }

  /** Live campaigns, or the named ones (an unknown id is a `CampaignNotFoundError`). */
  async campaignsFor(ids?: readonly string[]): Promise<Campaign[]> {
    if (!ids) return this.campaigns.list({ liveAt: this.clock.now() });
    return Promise.all(ids.map((id) => this.campaigns.getOrThrow(id)));
  }

  /** Writes the index and the cap ledger (days before yesterday dropped), and the memory store's snapshot. */
  async flush(): Promise<void> {
    this.index.save(this.layout.index);
    this.ledger.prune(this.clock.now() - MS_PER_DAY);
    const data: LedgerFile = { format: 'adnova-cap-ledger', version: 1, entries: [...this.ledger.entries()] };
    mkdirSync(this.layout.ledger, { recursive: true });
    const file = join(this.layout.ledger, 'caps.json');
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(data));
    renameSync(tmp, file);
    const online = this.store.online as OnlineStore & { saveSnapshot?: () => void };
    online.saveSnapshot?.();
  }

  /** Closes the feature store (the memory store writes its snapshot). Does not flush the index or ledger. */
  async close(): Promise<void> {
    await this.store.close();
  }
}

export const openDeployment = (options: OpenDeploymentOptions): Promise<Deployment> => Deployment.open(options);
