import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { type Clock, InvalidInputError, systemClock } from '../core/index.js';
import { POLICY_OUTCOMES, type PolicyOutcome } from '../decision/index.js';
import type {
  AudienceCandidates,
  AudienceDraft,
  AudienceMember,
  AudienceSelection,
  AudienceSettings,
  AudienceStore,
  AudienceSummary,
  AudienceVersion,
  ExportRecord,
  MemberPage,
} from './audience.js';
import { DEFAULT_AUDIENCE_SETTINGS } from './audience.js';
import { decodeSummary, decodeVersion, encodeVersion, headerLength } from './codec.js';
import { AudienceNotFoundError, AudienceStoreCorruptError } from './errors.js';
import { countUsersInFile, removeUsersFromFile } from './export-files.js';

const VERSION_FILE = /^v(\d{6,})\.aud$/;
const fileOf = (version: number) => `v${String(version).padStart(6, '0')}.aud`;
/** Campaign ids are path-safe by their spec (letters, digits, `_ . : -`); `:` is kept out of file names. */
const dirName = (campaignId: string) => campaignId.replaceAll(':', '%3A');
const campaignOf = (name: string) => name.replaceAll('%3A', ':');

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export interface FileAudienceStoreOptions {
  readonly clock?: Clock;
  /** Versions kept per campaign (older ones deleted when a new one is saved). Default 20. */
  readonly keepVersions?: number;
}

/**
 * Audiences under one directory (a deployment's `audiences/`): `<campaign>/v000001.aud` per version and
 * `<campaign>/current.json` naming the current one. A version is written to a temporary file and renamed, then
 * `current.json` is replaced the same way: a build that fails anywhere before leaves the previous version current,
 * and a reader sees whole versions only. One writer process at a time (the audience job).
 */
export class FileAudienceStore implements AudienceStore {
  readonly root: string;
  readonly #clock: Clock;
  readonly #keep: number;

  constructor(root: string, options: FileAudienceStoreOptions = {}) {
    this.root = resolve(root);
    this.#clock = options.clock ?? systemClock;
    this.#keep = options.keepVersions ?? 20;
    if (!(Number.isInteger(this.#keep) && this.#keep >= 1))
      throw new InvalidInputError(`keepVersions must be a whole number >= 1, got ${options.keepVersions}`);
  }

  #dir(campaignId: string): string {
    return join(this.root, dirName(campaignId));
  }

  #versions(campaignId: string): number[] {
    const dir = this.#dir(campaignId);
    if (!existsSync(dir)) return [];
    const out: number[] = [];
    for (const f of readdirSync(dir)) {
      const m = VERSION_FILE.exec(f);
      if (m) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  #currentVersion(campaignId: string): number | null {
    const file = join(this.#dir(campaignId), 'current.json');
    if (!existsSync(file)) return null;
    try {
      const v = (JSON.parse(readFileSync(file, 'utf8')) as { version: number }).version;
      if (!Number.isInteger(v)) throw new Error(`version ${String(v)}`);
      return v;
    } catch (err) {
      throw new AudienceStoreCorruptError(`${file} is unreadable: ${(err as Error).message}`, { cause: err });
    }
  }

  #readSummary(campaignId: string, version: number): AudienceSummary {
    const file = join(this.#dir(campaignId), fileOf(version));
    const fd = openSync(file, 'r');
    try {
      const prefix = Buffer.alloc(12);
      readSync(fd, prefix, 0, 12, 0);
      const len = headerLength(prefix, file);
      const head = Buffer.alloc(len);
      readSync(fd, head, 0, len, 0);
      return decodeSummary(head, file);
    } finally {
      closeSync(fd);
    }
  }

  #campaigns(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(this.root, e.name, 'current.json')))
      .map((e) => campaignOf(e.name))
      .sort();
  }

  async list(campaignId?: string): Promise<AudienceSummary[]> {
    if (campaignId !== undefined)
      return this.#versions(campaignId)
        .reverse()
        .map((v) => this.#readSummary(campaignId, v));
    const out: AudienceSummary[] = [];
    for (const c of this.#campaigns()) {
      const s = await this.current(c);
      if (s) out.push(s);
    }
    return out;
  }

  async current(campaignId: string): Promise<AudienceSummary | null> {
    const v = this.#currentVersion(campaignId);
    return v === null ? null : this.#readSummary(campaignId, v);
  }

  #resolve(campaignId: string, version?: number): number {
    const v = version ?? this.#currentVersion(campaignId);
    if (v === null) throw new AudienceNotFoundError(`no audience stored for campaign ${campaignId}`);
    if (!existsSync(join(this.#dir(campaignId), fileOf(v))))
      throw new AudienceNotFoundError(
        `campaign ${campaignId} has no audience version ${v}; stored: ${this.#versions(campaignId).join(', ') || 'none'}`,
      );
    return v;
  }

  async get(campaignId: string, version?: number): Promise<AudienceVersion> {
    const v = this.#resolve(campaignId, version);
    const file = join(this.#dir(campaignId), fileOf(v));
    return decodeVersion(readFileSync(file), file);
  }

  async members(
    campaignId: string,
    version?: number,
    page: { offset?: number; limit?: number } = {},
  ): Promise<MemberPage> {
    const a = await this.get(campaignId, version);
    const offset = page.offset ?? 0;
    const limit = page.limit ?? a.selection.members.length;
    if (!(Number.isInteger(offset) && offset >= 0))
      throw new InvalidInputError(`offset must be a whole number >= 0, got ${page.offset}`);
    if (!(Number.isInteger(limit) && limit >= 0))
      throw new InvalidInputError(`limit must be a whole number >= 0, got ${page.limit}`);
    return {
      campaignId,
      version: a.summary.version,
      total: a.selection.members.length,
      offset,
      members: membersOf(a, offset, limit),
    };
  }

  async save(draft: AudienceDraft): Promise<AudienceSummary> {
    const dir = this.#dir(draft.campaignId);
    mkdirSync(dir, { recursive: true });
    const versions = this.#versions(draft.campaignId);
    const version = (versions[versions.length - 1] ?? 0) + 1;
    const summary: AudienceSummary = {
      campaignId: draft.campaignId,
      version,
      createdTs: this.#clock.now(),
      decidedTs: draft.decidedTs,
      hourOfDay: draft.hourOfDay,
      origin: draft.origin,
      models: draft.models,
      candidates: draft.candidates.userIds.length,
      members: draft.selection.members.length,
      stages: draft.stages,
      counts: draft.counts,
      slots: draft.selection.slots,
    };
    writeAtomic(
      join(dir, fileOf(version)),
      encodeVersion({ summary, candidates: draft.candidates, selection: draft.selection }),
    );
    writeAtomic(join(dir, 'current.json'), `${JSON.stringify({ version })}\n`);
    for (const old of versions.slice(0, Math.max(0, versions.length + 1 - this.#keep)))
      rmSync(join(dir, fileOf(old)), { force: true });
    return summary;
  }

  async settings(campaignId: string): Promise<AudienceSettings> {
    const file = join(this.#dir(campaignId), 'settings.json');
    if (!existsSync(file)) return DEFAULT_AUDIENCE_SETTINGS;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as AudienceSettings;
    } catch (err) {
      throw new AudienceStoreCorruptError(`${file} is unreadable`, { cause: err });
    }
  }

  async saveSettings(campaignId: string, settings: AudienceSettings): Promise<void> {
    const dir = this.#dir(campaignId);
    mkdirSync(dir, { recursive: true });
    writeAtomic(join(dir, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
  }

  get #exportsFile(): string {
    return join(this.root, 'exports.json');
  }

  async exports(): Promise<ExportRecord[]> {
    if (!existsSync(this.#exportsFile)) return [];
    try {
      return JSON.parse(readFileSync(this.#exportsFile, 'utf8')) as ExportRecord[];
    } catch (err) {
      throw new AudienceStoreCorruptError(`${this.#exportsFile} is unreadable`, { cause: err });
    }
  }

  async recordExport(entry: ExportRecord): Promise<void> {
    mkdirSync(this.root, { recursive: true });
    const all = (await this.exports()).filter((e) => e.path !== entry.path);
    all.push(entry);
    writeAtomic(this.#exportsFile, `${JSON.stringify(all, null, 1)}\n`);
  }

  async removeUsers(userIds: readonly string[]): Promise<{ removed: number }> {
    const gone = new Set(userIds);
    let removed = 0;
    for (const c of this.#campaigns())
      for (const v of this.#versions(c)) {
        const file = join(this.#dir(c), fileOf(v));
        const a = decodeVersion(readFileSync(file), file);
        const kept = withoutUsers(a, gone);
        if (!kept) continue;
        removed += a.candidates.userIds.length - kept.candidates.userIds.length;
        writeAtomic(file, encodeVersion(kept));
      }
    for (const e of await this.exports()) removed += await removeUsersFromFile(e.path, e.format, userIds);
    return { removed };
  }

  /** Every user any stored version holds (a privacy scan; exports are rewritten with the versions they came from). */
  *userIds(): IterableIterator<string> {
    const seen = new Set<string>();
    for (const c of this.#campaigns())
      for (const v of this.#versions(c)) {
        const file = join(this.#dir(c), fileOf(v));
        for (const u of decodeVersion(readFileSync(file), file).candidates.userIds)
          if (!seen.has(u)) {
            seen.add(u);
            yield u;
          }
      }
  }

  async countUsers(userIds: readonly string[]): Promise<number> {
    const wanted = new Set(userIds);
    const found = new Set<string>();
    for (const c of this.#campaigns())
      for (const v of this.#versions(c)) {
        const file = join(this.#dir(c), fileOf(v));
        for (const u of decodeVersion(readFileSync(file), file).candidates.userIds) if (wanted.has(u)) found.add(u);
      }
    const rest = userIds.filter((u) => !found.has(u));
    // a user found in no version may still be in an export written before a deletion of the version
    if (rest.length)
      for (const e of await this.exports())
        if ((await countUsersInFile(e.path, e.format, rest)) > 0)
          for (const u of rest) if (!found.has(u) && (await countUsersInFile(e.path, e.format, [u])) > 0) found.add(u);
    return found.size;
  }
}

/** Member rows `offset .. offset + limit` of a version, best first. */
export function membersOf(a: AudienceVersion, offset = 0, limit = Number.POSITIVE_INFINITY): AudienceMember[] {
  const { candidates: c, selection: s } = a;
  const out: AudienceMember[] = [];
  const end = Math.min(s.members.length, offset + limit);
  for (let i = offset; i < end; i++) {
    const row = s.members[i] as number;
    out.push({
      userId: c.userIds[row] as string,
      position: i + 1,
      score: c.scores[row] as number,
      rank: s.rank[row] as number,
      reason: POLICY_OUTCOMES[s.outcome[row] as number] as PolicyOutcome,
      propensity: s.propensity[row] as number,
      modelId: a.summary.models[c.modelIndex[row] as number] ?? '',
      featuresTs: c.featuresTs[row] as number,
      scoredTs: c.scoredTs[row] as number,
    });
  }
  return out;
}

/**
 * The version without these users (every row of theirs dropped, member order kept), or null when none is in it.
 * Ranks and stage counts stay as decided: they describe the decision made then.
 */
function withoutUsers(a: AudienceVersion, gone: ReadonlySet<string>): AudienceVersion | null {
  const c = a.candidates;
  const n = c.userIds.length;
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (!gone.has(c.userIds[i] as string)) keep.push(i);
  if (keep.length === n) return null;
  const newRow = new Int32Array(n).fill(-1);
  keep.forEach((row, k) => {
    newRow[row] = k;
  });
  const pick = <T extends Uint8Array | Int16Array | Uint32Array | Float64Array>(arr: T, make: (n: number) => T): T => {
    const out = make(keep.length);
    keep.forEach((row, k) => {
      out[k] = arr[row] as number;
    });
    return out;
  };
  const candidates: AudienceCandidates = {
    userIds: keep.map((r) => c.userIds[r] as string),
    dense: pick(c.dense, (k) => new Uint32Array(k)),
    scores: pick(c.scores, (k) => new Float64Array(k)),
    predicateFailed: pick(c.predicateFailed, (k) => new Int16Array(k)),
    modelIndex: pick(c.modelIndex, (k) => new Uint8Array(k)),
    featuresTs: pick(c.featuresTs, (k) => new Float64Array(k)),
    scoredTs: pick(c.scoredTs, (k) => new Float64Array(k)),
  };
  const s = a.selection;
  const members = Uint32Array.from(
    [...s.members].filter((r) => (newRow[r] as number) >= 0).map((r) => newRow[r] as number),
  );
  const selection: AudienceSelection = {
    outcome: pick(s.outcome, (k) => new Uint8Array(k)),
    rank: pick(s.rank, (k) => new Uint32Array(k)),
    propensity: pick(s.propensity, (k) => new Float64Array(k)),
    members,
    slots: s.slots,
  };
  return {
    summary: { ...a.summary, candidates: keep.length, members: members.length },
    candidates,
    selection,
  };
}
