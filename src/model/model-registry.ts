import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidInputError, NotFoundError } from '../core/index.js';
import { loadArtifact, type ModelArtifact, saveArtifact } from './artifact.js';
import { REGISTRY_ROLES } from './choices.js';

export { REGISTRY_ROLES };
export type RegistryRole = (typeof REGISTRY_ROLES)[number];

export interface RegistryEntry {
  /** `name@vN` */
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly goal: string;
  readonly modelKind: string;
  readonly registeredAt: string;
  /** Artifact directory, relative to the registry root. */
  readonly path: string;
  readonly testRocAuc: number | null;
}

interface GoalSlots {
  champion: string | null;
  challenger: string | null;
  /** The model trained on batch-only features, for answers while the online store is unreachable. */
  fallback?: string | null;
  /** Earlier champions, most recent last: what `rollback` returns to. */
  previousChampions: string[];
}

interface RegistryFile {
  version: 1;
  models: RegistryEntry[];
  goals: Record<string, GoalSlots>;
}

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * A directory of versioned model artifacts (`<root>/<name>/v<N>/`) and `registry.json` naming the champion and
 * challenger per goal. Single writer assumed (the CLI); writes are atomic renames.
 */
export class ModelRegistry {
  readonly root: string;
  readonly #now: () => Date;

  constructor(root: string, now: () => Date = () => new Date()) {
    this.root = resolve(root);
    this.#now = now;
  }

  #file(): string {
    return join(this.root, 'registry.json');
  }

  #read(): RegistryFile {
    if (!existsSync(this.#file())) return { version: 1, models: [], goals: {} };
    try {
      return JSON.parse(readFileSync(this.#file(), 'utf8')) as RegistryFile;
    } catch (err) {
      throw new InvalidInputError(`${this.#file()} is not valid JSON`, { cause: err });
    }
  }

  #write(data: RegistryFile): void {
    mkdirSync(this.root, { recursive: true });
    const tmp = `${this.#file()}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`);
    renameSync(tmp, this.#file());
  }

  /** Adds an artifact (copied from a directory, or written from memory) as the next version of `name`. */
  register(source: string | ModelArtifact, name: string, goal: string): RegistryEntry {
    if (!NAME_RE.test(name))
      throw new InvalidInputError(`model name must match ${NAME_RE}, got ${JSON.stringify(name)}`);
    if (!NAME_RE.test(goal)) throw new InvalidInputError(`goal must match ${NAME_RE}, got ${JSON.stringify(goal)}`);
    const artifact = typeof source === 'string' ? loadArtifact(source) : source;
    const data = this.#read();
    const version = 1 + data.models.filter((m) => m.name === name).reduce((mx, m) => Math.max(mx, m.version), 0);
    const rel = join(name, `v${version}`);
    const dest = join(this.root, rel);
    if (typeof source === 'string') {
      mkdirSync(join(this.root, name), { recursive: true });
      cpSync(source, dest, { recursive: true });
    } else saveArtifact(dest, artifact);
    const entry: RegistryEntry = {
      id: `${name}@v${version}`,
      name,
      version,
      goal,
      modelKind: artifact.header.modelKind,
      registeredAt: this.#now().toISOString(),
      path: rel,
      testRocAuc: artifact.header.metrics.test?.rocAuc ?? null,
    };
    data.models.push(entry);
    this.#write(data);
    return entry;
  }

  list(): Array<RegistryEntry & { role: RegistryRole | null }> {
    const data = this.#read();
    return data.models.map((m) => {
      const slots = data.goals[m.goal];
      const role =
        slots?.champion === m.id
          ? 'champion'
          : slots?.challenger === m.id
            ? 'challenger'
            : slots?.fallback === m.id
              ? 'fallback'
              : null;
      return { ...m, role };
    });
  }

  getOrThrow(id: string): RegistryEntry {
    const data = this.#read();
    const entry = data.models.find((m) => m.id === id);
    if (!entry) {
      throw new NotFoundError(
        `no model ${JSON.stringify(id)} in ${this.root}; registered: ${data.models.map((m) => m.id).join(', ') || 'none'}`,
      );
    }
    return entry;
  }

  load(id: string): ModelArtifact {
    return loadArtifact(this.artifactDir(id));
  }

  artifactDir(id: string): string {
    return join(this.root, this.getOrThrow(id).path);
  }

  /** The champion (or challenger, or fallback) of a goal, or null. */
  current(goal: string, role: RegistryRole = 'champion'): RegistryEntry | null {
    const data = this.#read();
    const id = data.goals[goal]?.[role] ?? null;
    return id ? (data.models.find((m) => m.id === id) ?? null) : null;
  }

  /** Makes a model its goal's champion (the old champion can be rolled back to) or challenger. */
  promote(id: string, role: RegistryRole = 'champion'): { goal: string; previous: string | null } {
    const entry = this.getOrThrow(id);
    const data = this.#read();
    const slots = data.goals[entry.goal] ?? { champion: null, challenger: null, previousChampions: [] };
    const previous = slots[role] ?? null;
    if (role === 'fallback') {
      slots.fallback = id;
    } else if (role === 'champion') {
      if (slots.champion && slots.champion !== id) slots.previousChampions.push(slots.champion);
      slots.champion = id;
      if (slots.challenger === id) slots.challenger = null;
    } else {
      if (slots.champion === id)
        throw new InvalidInputError(`${id} is the champion of ${entry.goal}; roll back or promote another model first`);
      slots.challenger = id;
    }
    data.goals[entry.goal] = slots;
    this.#write(data);
    return { goal: entry.goal, previous };
  }

  /** Restores a goal's previous champion. */
  rollback(goal: string): { goal: string; from: string; to: string } {
    const data = this.#read();
    const slots = data.goals[goal];
    if (!slots?.champion) throw new NotFoundError(`goal ${JSON.stringify(goal)} has no champion to roll back`);
    const to = slots.previousChampions.pop();
    if (!to) throw new InvalidInputError(`goal ${JSON.stringify(goal)} has no earlier champion than ${slots.champion}`);
    const from = slots.champion;
    slots.champion = to;
    this.#write(data);
    return { goal, from, to };
  }
}
