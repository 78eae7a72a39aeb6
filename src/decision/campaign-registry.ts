import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newId } from '../core/index.js';
import { type Campaign, type CampaignStatus, parseCampaignSpec } from './campaign.js';
import { CampaignNotFoundError, CampaignStateError, DecisionIndexCorruptError } from './errors.js';

export interface CampaignFilter {
  readonly advertiserId?: string;
  readonly status?: CampaignStatus;
  /** Only campaigns live at this time: launched at or before it, not ended, not paused. */
  readonly liveAt?: number;
}

/**
 * Where campaigns live. Every change makes a new version; `get` returns the current one, `history` all of them.
 * The embedded default is `FileCampaignRegistry`; a Redis or SQL one implements the same port.
 */
export interface CampaignRegistry {
  /** Validates and stores a new campaign (version 1). An existing id is a conflict. */
  create(spec: unknown, source?: string): Promise<Campaign>;
  get(id: string): Promise<Campaign | null>;
  getOrThrow(id: string): Promise<Campaign>;
  list(filter?: CampaignFilter): Promise<Campaign[]>;
  history(id: string): Promise<Campaign[]>;
  setStatus(id: string, status: CampaignStatus): Promise<Campaign>;
}

export function isLive(c: Campaign, atMs: number): boolean {
  return c.status === 'active' && c.launchTs <= atMs && (c.endTs === null || atMs < c.endTs);
}

function matches(c: Campaign, f: CampaignFilter): boolean {
  if (f.advertiserId !== undefined && c.advertiserId !== f.advertiserId) return false;
  if (f.status !== undefined && c.status !== f.status) return false;
  if (f.liveAt !== undefined && !isLive(c, f.liveAt)) return false;
  return true;
}

interface RegistryFile {
  format: 'adnova-campaigns';
  version: 1;
  /** Every version of every campaign, oldest first per id. */
  campaigns: Record<string, Campaign[]>;
}

/**
 * Campaigns in one JSON file under the store directory (`<dir>/campaigns.json`), written by atomic rename.
 * One writer at a time (the CLI or one serving process); readers see whole versions only.
 */
export class FileCampaignRegistry implements CampaignRegistry {
  readonly dir: string;
  readonly #now: () => number;

  constructor(dir: string, now: () => number = Date.now) {
    this.dir = resolve(dir);
    this.#now = now;
  }

  get file(): string {
    return join(this.dir, 'campaigns.json');
  }

  #read(): RegistryFile {
    if (!existsSync(this.file)) return { format: 'adnova-campaigns', version: 1, campaigns: {} };
    let data: RegistryFile;
    try {
      data = JSON.parse(readFileSync(this.file, 'utf8')) as RegistryFile;
    } catch (err) {
      throw new DecisionIndexCorruptError(`${this.file} is not valid JSON`, { cause: err });
    }
    if (data.format !== 'adnova-campaigns' || data.version !== 1 || typeof data.campaigns !== 'object')
      throw new DecisionIndexCorruptError(
        `${this.file}: expected format adnova-campaigns version 1, found ${JSON.stringify(data.format)} version ${JSON.stringify(data.version)}`,
      );
    return data;
  }

  #write(data: RegistryFile): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(data)}\n`);
    renameSync(tmp, this.file);
  }

  async create(spec: unknown, source = 'campaign'): Promise<Campaign> {
    const withId =
      spec !== null && typeof spec === 'object' && (spec as { id?: unknown }).id === undefined
        ? { ...spec, id: newId('cmp', this.#now()) }
        : spec;
    const campaign = parseCampaignSpec(withId, source);
    const data = this.#read();
    if (data.campaigns[campaign.id])
      throw new CampaignStateError(
        `campaign ${campaign.id} already exists (version ${data.campaigns[campaign.id]?.length})`,
      );
    data.campaigns[campaign.id] = [campaign];
    this.#write(data);
    return campaign;
  }

  /** Many campaigns in one write (a World import); ids already present are skipped and returned as such. */
  async createMany(specs: readonly unknown[], source = 'campaigns'): Promise<{ created: number; skipped: number }> {
    const data = this.#read();
    let created = 0;
    let skipped = 0;
    specs.forEach((spec, i) => {
      const c = parseCampaignSpec(spec, `${source}[${i}]`);
      if (data.campaigns[c.id]) skipped++;
      else {
        data.campaigns[c.id] = [c];
        created++;
      }
    });
    this.#write(data);
    return { created, skipped };
  }

  async get(id: string): Promise<Campaign | null> {
    const versions = this.#read().campaigns[id];
    return versions ? (versions[versions.length - 1] as Campaign) : null;
  }

  async getOrThrow(id: string): Promise<Campaign> {
    const c = await this.get(id);
    if (!c) throw new CampaignNotFoundError(`no campaign ${JSON.stringify(id)} in ${this.file}`);
    return c;
  }

  async list(filter: CampaignFilter = {}): Promise<Campaign[]> {
    const out: Campaign[] = [];
    for (const versions of Object.values(this.#read().campaigns)) {
      const c = versions[versions.length - 1] as Campaign;
      if (matches(c, filter)) out.push(c);
    }
    return out.sort((a, b) => a.launchTs - b.launchTs || (a.id < b.id ? -1 : 1));
  }

  async history(id: string): Promise<Campaign[]> {
    const versions = this.#read().campaigns[id];
    if (!versions) throw new CampaignNotFoundError(`no campaign ${JSON.stringify(id)} in ${this.file}`);
    return versions;
  }

  async setStatus(id: string, status: CampaignStatus): Promise<Campaign> {
    const data = this.#read();
    const versions = data.campaigns[id];
    if (!versions) throw new CampaignNotFoundError(`no campaign ${JSON.stringify(id)} in ${this.file}`);
    const current = versions[versions.length - 1] as Campaign;
    if (current.status === status) return current; // idempotent
    const next: Campaign = { ...current, status, version: current.version + 1 };
    versions.push(next);
    this.#write(data);
    return next;
  }
}
