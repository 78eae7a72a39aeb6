import { BackendUnavailableError, type Clock, InvalidInputError, systemClock } from '../core/index.js';

/** An event that could not be accepted, with why, against which schema version, and from where. */
export interface DeadLetterInput {
  /** The event as received (any value, even one JSON cannot hold). */
  readonly event: unknown;
  /** Why it was rejected, readable: `amount: expected number, got string`. */
  readonly reason: string;
  /** Version of the schema it was validated against, e.g. `purchase@2` or 2. */
  readonly schemaVersion: string | number;
  /** Where it came from: topic, file, importer. */
  readonly source?: string;
}

export interface DeadLetter extends DeadLetterInput {
  /** When it was dead-lettered (Clock time, epoch ms). */
  readonly deadLetteredTs: number;
}

/**
 * Where rejected input goes so that nothing is dropped silently. `write` resolves once the letters are as
 * durable as the sink makes them (the file sink: on disk, fsynced), so the source may then be acknowledged.
 */
export interface DeadLetterSink {
  readonly kind: string;
  write(letters: readonly DeadLetterInput[]): Promise<void>;
  /** Letters written through this sink since it opened. */
  readonly written: number;
  close(): Promise<void>;
}

export function validateDeadLetters(letters: readonly DeadLetterInput[]): void {
  if (!Array.isArray(letters)) throw new InvalidInputError(`dead letters: expected an array, got ${typeof letters}`);
  for (let i = 0; i < letters.length; i++) {
    const letter = letters[i];
    if (letter === null || typeof letter !== 'object') {
      throw new InvalidInputError(
        `dead letter ${i}: expected an object { event, reason, schemaVersion }, got ${letter === null ? 'null' : typeof letter}`,
      );
    }
    if (typeof letter.reason !== 'string' || letter.reason.length === 0) {
      throw new InvalidInputError(
        `dead letter ${i}: reason must be a non-empty string, got ${JSON.stringify(letter.reason)}`,
      );
    }
    const v = letter.schemaVersion;
    if (!((typeof v === 'string' && v.length > 0) || (typeof v === 'number' && Number.isInteger(v) && v >= 0))) {
      throw new InvalidInputError(
        `dead letter ${i}: schemaVersion must be a non-empty string or an integer >= 0, got ${JSON.stringify(v)}`,
      );
    }
    if (letter.source !== undefined && typeof letter.source !== 'string') {
      throw new InvalidInputError(`dead letter ${i}: source must be a string when given, got ${typeof letter.source}`);
    }
  }
}

/** Keeps letters in memory: the embedded default and tests. */
export class MemoryDeadLetterSink implements DeadLetterSink {
  readonly kind = 'memory';
  readonly #letters: DeadLetter[] = [];
  readonly #clock: Clock;
  #closed = false;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async write(letters: readonly DeadLetterInput[]): Promise<void> {
    validateDeadLetters(letters);
    if (this.#closed) throw new BackendUnavailableError('memory dead-letter sink is closed');
    const now = this.#clock.now();
    for (const letter of letters) this.#letters.push({ ...letter, deadLetteredTs: now });
  }

  get written(): number {
    return this.#letters.length;
  }

  /** Everything written so far, oldest first. */
  letters(): readonly DeadLetter[] {
    return this.#letters;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
