import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isValidEntityId } from '../core/index.js';
import { DecisionIndexCorruptError } from './errors.js';

/** The id a redacted (deleted) user's dense slot holds: `deleted:<dense>`. */
export const REDACTED_PREFIX = 'deleted:';

/**
 * Dense user ids: each user id string gets a uint32 the first time it is seen, and keeps it for ever (bitmaps,
 * score columns and audiences store the dense id). Persisted as an append-only file of one id per line, so the
 * number of a user is its line number and a crash can lose only ids that were never flushed (they are assigned
 * again, identically, on the next build from the same source order).
 */
export class UserIndex {
  readonly #byId = new Map<string, number>();
  readonly #ids: string[] = [];
  #flushed = 0;

  get size(): number {
    return this.#ids.length;
  }

  /** The dense id of `userId`, assigning the next one when it is new. */
  ensure(userId: string): number {
    const known = this.#byId.get(userId);
    if (known !== undefined) return known;
    if (!isValidEntityId(userId))
      throw new RangeError(`user id must be 1-128 printable characters [A-Za-z0-9_.:-], got ${JSON.stringify(userId)}`);
    const dense = this.#ids.length;
    this.#ids.push(userId);
    this.#byId.set(userId, dense);
    return dense;
  }

  denseOf(userId: string): number | undefined {
    return this.#byId.get(userId);
  }

  userOf(dense: number): string {
    const id = this.#ids[dense];
    if (id === undefined) throw new RangeError(`dense user id ${dense} out of range 0..${this.#ids.length - 1}`);
    return id;
  }

  /** User ids of dense ids, in the given order. */
  usersOf(dense: ArrayLike<number>): string[] {
    const out = new Array<string>(dense.length);
    for (let i = 0; i < dense.length; i++) out[i] = this.userOf(dense[i] as number);
    return out;
  }

  /**
   * Forgets a user id (a privacy deletion): its dense slot keeps the placeholder `REDACTED_PREFIX + dense`, so every
   * other dense id stays what it was; the next flush rewrites the file. Returns whether the id was known.
   */
  redact(userId: string): boolean {
    const d = this.#byId.get(userId);
    if (d === undefined) return false;
    const placeholder = `${REDACTED_PREFIX}${d}`;
    this.#byId.delete(userId);
    this.#ids[d] = placeholder;
    this.#byId.set(placeholder, d);
    this.#flushed = 0;
    return true;
  }

  /** Appends the ids assigned since the last flush to `file` (creating it); after a `redact`, rewrites it whole. */
  flush(file: string): void {
    if (this.#flushed === this.#ids.length && existsSync(file)) return;
    mkdirSync(dirname(file), { recursive: true });
    const fresh = this.#ids.slice(this.#flushed);
    if (this.#flushed === 0) {
      const tmp = `${file}.tmp-${process.pid}`;
      writeFileSync(tmp, fresh.length ? `${fresh.join('\n')}\n` : '');
      renameSync(tmp, file);
    } else appendFileSync(file, `${fresh.join('\n')}\n`);
    this.#flushed = this.#ids.length;
  }

  static load(file: string): UserIndex {
    const index = new UserIndex();
    if (!existsSync(file)) return index;
    const text = readFileSync(file, 'utf8');
    const lines = text.length ? text.split('\n') : [];
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    for (let i = 0; i < lines.length; i++) {
      const id = lines[i] as string;
      if (!isValidEntityId(id) || index.#byId.has(id))
        throw new DecisionIndexCorruptError(
          `${file}:${i + 1}: expected a new user id, found ${JSON.stringify(id.slice(0, 80))}${index.#byId.has(id) ? ' (repeated)' : ''}`,
        );
      index.#ids.push(id);
      index.#byId.set(id, i);
    }
    index.#flushed = index.#ids.length;
    return index;
  }
}
