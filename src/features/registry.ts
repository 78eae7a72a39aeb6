import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BackendUnavailableError, describeError } from '../core/index.js';
import { DEFINITION_KINDS } from './choices.js';
import {
  type EntityDef,
  type FeatureDefinitions,
  type FeatureServiceDef,
  type FeatureViewDef,
  type TransformDef,
  validateDefinitions,
} from './definitions.js';
import { FeatureNotFoundError, IncompatibleChangeError } from './errors.js';

export { DEFINITION_KINDS };
export type DefinitionKind = (typeof DEFINITION_KINDS)[number];
type AnyDef = EntityDef | FeatureViewDef | TransformDef | FeatureServiceDef;

export interface DefinitionEntry {
  readonly kind: DefinitionKind;
  readonly name: string;
  /** Entities are unversioned (always 1). */
  readonly version: number;
  /** Compatible edits of one version are stored as revisions 1, 2, ... */
  readonly revision: number;
  readonly appliedAtMs: number;
  readonly definition: AnyDef;
}

export type ApplyAction = 'created' | 'updated' | 'new-version' | 'unchanged';

export interface ApplyOutcome {
  readonly kind: DefinitionKind;
  readonly name: string;
  readonly version: number;
  readonly action: ApplyAction;
  /** What changed (compatible changes for `updated`, everything for `new-version`). */
  readonly changes: readonly string[];
}

interface RegistryFile {
  readonly format: 'adnova-feature-registry';
  readonly formatVersion: 1;
  readonly entries: DefinitionEntry[];
}

/**
 * Every applied definition version, kept in `<dir>/registry.json`. A change to an existing version is accepted in
 * place only when it is compatible (descriptions, TTL, SLA, owner, tags, defaults, appended features); a dtype
 * change, a removed or reordered feature, a changed join key or service layout needs a new version number.
 */
export class FeatureRegistry {
  readonly path: string;
  #entries: DefinitionEntry[];

  private constructor(path: string, entries: DefinitionEntry[]) {
    this.path = path;
    this.#entries = entries;
  }

  static open(dir: string): FeatureRegistry {
    const path = join(dir, 'registry.json');
    if (!existsSync(path)) return new FeatureRegistry(path, []);
    let file: RegistryFile;
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as RegistryFile;
    } catch (err) {
      throw new BackendUnavailableError(`feature registry ${path} is unreadable: ${describeError(err)}`, {
        cause: err,
      });
    }
    if (file.format !== 'adnova-feature-registry' || file.formatVersion !== 1)
      throw new BackendUnavailableError(
        `feature registry ${path} has an unknown format; expected adnova-feature-registry v1`,
      );
    return new FeatureRegistry(path, file.entries);
  }

  /** Latest version (latest revision) of everything registered. */
  current(): FeatureDefinitions {
    const latest = new Map<string, DefinitionEntry>();
    for (const e of this.#entries) {
      const key = `${e.kind}:${e.name}`;
      const prev = latest.get(key);
      if (!prev || e.version > prev.version || (e.version === prev.version && e.revision > prev.revision))
        latest.set(key, e);
    }
    const of = <T extends AnyDef>(kind: DefinitionKind) =>
      [...latest.values()].filter((e) => e.kind === kind).map((e) => e.definition as T);
    return { entities: of('entity'), views: of('view'), transforms: of('transform'), services: of('service') };
  }

  entries(): readonly DefinitionEntry[] {
    return this.#entries;
  }

  history(kind: DefinitionKind, name: string): DefinitionEntry[] {
    const found = this.#entries.filter((e) => e.kind === kind && e.name === name);
    if (found.length === 0) throw new FeatureNotFoundError(`no ${kind} named "${name}" in the registry`);
    return found;
  }

  /** Validates the merged set, checks compatibility against stored versions, then writes atomically. */
  apply(defs: FeatureDefinitions, nowMs: number): ApplyOutcome[] {
    const cur = this.current();
    const merged: FeatureDefinitions = {
      entities: mergeByName(cur.entities, defs.entities),
      views: mergeByName(cur.views, defs.views),
      transforms: mergeByName(cur.transforms, defs.transforms),
      services: mergeByName(cur.services, defs.services),
    };
    validateDefinitions(merged);
    const outcomes: ApplyOutcome[] = [];
    const added: DefinitionEntry[] = [];
    const items: Array<[DefinitionKind, AnyDef]> = [
      ...defs.entities.map((d) => ['entity', d] as [DefinitionKind, AnyDef]),
      ...defs.views.map((d) => ['view', d] as [DefinitionKind, AnyDef]),
      ...defs.transforms.map((d) => ['transform', d] as [DefinitionKind, AnyDef]),
      ...defs.services.map((d) => ['service', d] as [DefinitionKind, AnyDef]),
    ];
    for (const [kind, def] of items) {
      const version = 'version' in def ? def.version : 1;
      const same = this.#entries.filter((e) => e.kind === kind && e.name === def.name);
      const sameVersion = same.filter((e) => e.version === version);
      const latestOfVersion = sameVersion.at(-1);
      const newest = Math.max(0, ...same.map((e) => e.version));
      const entry = (revision: number): DefinitionEntry => ({
        kind,
        name: def.name,
        version,
        revision,
        appliedAtMs: nowMs,
        definition: def,
      });
      if (latestOfVersion === undefined) {
        if (version < newest)
          throw new IncompatibleChangeError(
            `${kind} ${def.name}: version ${version} is older than the registered version ${newest}`,
          );
        added.push(entry(1));
        outcomes.push({
          kind,
          name: def.name,
          version,
          action: same.length === 0 ? 'created' : 'new-version',
          changes: [],
        });
        continue;
      }
      const { compatible, incompatible } = diff(kind, latestOfVersion.definition, def);
      if (incompatible.length > 0)
        throw new IncompatibleChangeError(
          `${kind} ${def.name} version ${version}: ${incompatible.join('; ')}; apply it as version ${newest + 1} instead`,
          { details: { kind, name: def.name, version, incompatible } },
        );
      if (compatible.length === 0) {
        outcomes.push({ kind, name: def.name, version, action: 'unchanged', changes: [] });
        continue;
      }
      added.push(entry(latestOfVersion.revision + 1));
      outcomes.push({ kind, name: def.name, version, action: 'updated', changes: compatible });
    }
    if (added.length > 0) {
      this.#entries = [...this.#entries, ...added];
      this.#save();
    }
    return outcomes;
  }

  #save(): void {
    const file: RegistryFile = { format: 'adnova-feature-registry', formatVersion: 1, entries: this.#entries };
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(file, null, 2));
    renameSync(tmp, this.path);
  }
}

function mergeByName<T extends { name: string }>(base: readonly T[], over: readonly T[]): T[] {
  const byName = new Map(base.map((d) => [d.name, d]));
  for (const d of over) byName.set(d.name, d);
  return [...byName.values()];
}

function diff(kind: DefinitionKind, before: AnyDef, after: AnyDef): { compatible: string[]; incompatible: string[] } {
  const compatible: string[] = [];
  const incompatible: string[] = [];
  const cmp = (what: string, a: unknown, b: unknown, breaking: boolean) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) (breaking ? incompatible : compatible).push(`${what} changed`);
  };
  cmp(
    'description',
    (before as { description?: string }).description,
    (after as { description?: string }).description,
    false,
  );
  if (kind === 'entity') {
    cmp('joinKey', (before as EntityDef).joinKey, (after as EntityDef).joinKey, true);
  } else if (kind === 'view' || kind === 'transform') {
    const b = before as FeatureViewDef & TransformDef;
    const a = after as FeatureViewDef & TransformDef;
    const bf = kind === 'view' ? b.features : b.outputs;
    const af = kind === 'view' ? a.features : a.outputs;
    bf.forEach((f, i) => {
      const now = af.findIndex((x) => x.name === f.name);
      const g = af[now];
      if (g === undefined) incompatible.push(`feature ${f.name} removed`);
      else {
        if (now !== i) incompatible.push(`feature ${f.name} moved from position ${i} to ${now}`);
        if (g.dtype !== f.dtype) incompatible.push(`feature ${f.name} dtype ${f.dtype} -> ${g.dtype}`);
        if (g.default !== f.default) compatible.push(`feature ${f.name} default ${f.default} -> ${g.default}`);
        if (g.description !== f.description) compatible.push(`feature ${f.name} description changed`);
        const be = (f as { expression?: string }).expression;
        const ae = (g as { expression?: string }).expression;
        if (be !== ae) incompatible.push(`output ${f.name} expression changed`);
      }
    });
    for (const g of af.slice(bf.length)) compatible.push(`feature ${g.name} appended`);
    if (kind === 'view') {
      cmp('entity', b.entity, a.entity, true);
      cmp('ttlSeconds', b.ttlSeconds, a.ttlSeconds, false);
      cmp('freshnessSlaSeconds', b.freshnessSlaSeconds, a.freshnessSlaSeconds, false);
      cmp('owner', b.owner, a.owner, false);
      cmp('tags', b.tags, a.tags, false);
      cmp('source', b.source, a.source, false);
    }
  } else {
    cmp('features', (before as FeatureServiceDef).features, (after as FeatureServiceDef).features, true);
  }
  return { compatible, incompatible };
}
