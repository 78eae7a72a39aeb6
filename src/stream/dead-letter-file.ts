import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BackendUnavailableError, type Clock, describeError, InvalidInputError, systemClock } from '../core/index.js';
import { type DeadLetter, type DeadLetterInput, type DeadLetterSink, validateDeadLetters } from './dead-letter.js';

type FileHandle = Awaited<ReturnType<typeof open>>;

export interface FileDeadLetterSinkOptions {
  readonly clock?: Clock;
  /** fdatasync after each write, so a written letter survives a crash (default true). */
  readonly fsync?: boolean;
}

/**
 * One JSON object per line, appended: `{"deadLetteredTs":..,"reason":..,"schemaVersion":..,"source":..,"event":..}`.
 * An event JSON cannot hold (BigInt, cycle, function) is kept as `"event":null,"eventText":"<String(event)>"`
 * with `"eventEncodingError"`, so the line is still valid JSON and the reason is still recorded.
 */
export class FileDeadLetterSink implements DeadLetterSink {
  readonly kind = 'file';
  readonly #handle: FileHandle;
  readonly #clock: Clock;
  readonly #fsync: boolean;
  #queue: Promise<void> = Promise.resolve();
  #written = 0;
  #closed = false;

  private constructor(
    readonly path: string,
    handle: FileHandle,
    options: FileDeadLetterSinkOptions,
  ) {
    this.#handle = handle;
    this.#clock = options.clock ?? systemClock;
    this.#fsync = options.fsync ?? true;
  }

  static async open(path: string, options: FileDeadLetterSinkOptions = {}): Promise<FileDeadLetterSink> {
    if (typeof path !== 'string' || path.length === 0)
      throw new InvalidInputError(`dead-letter file: expected a path, got ${JSON.stringify(path)}`);
    try {
      await mkdir(dirname(path), { recursive: true });
      return new FileDeadLetterSink(path, await open(path, 'a'), options);
    } catch (err) {
      throw new BackendUnavailableError(`dead-letter file ${path}: cannot open for append: ${describeError(err)}`, {
        cause: err,
      });
    }
  }

  write(letters: readonly DeadLetterInput[]): Promise<void> {
    validateDeadLetters(letters);
    if (this.#closed) return Promise.reject(new BackendUnavailableError(`dead-letter file ${this.path} is closed`));
    if (letters.length === 0) return Promise.resolve();
    const now = this.#clock.now();
    const text = letters.map((letter) => encodeLine(letter, now)).join('');
    // one append at a time, in call order, so lines never interleave
    const done = this.#queue.then(async () => {
      try {
        await this.#handle.appendFile(text, 'utf8');
        if (this.#fsync) await this.#handle.datasync();
        this.#written += letters.length;
      } catch (err) {
        throw new BackendUnavailableError(`dead-letter file ${this.path}: write failed: ${describeError(err)}`, {
          cause: err,
        });
      }
    });
    this.#queue = done.catch(() => {});
    return done;
  }

  get written(): number {
    return this.#written;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.#handle.close();
  }
}

function encodeLine(letter: DeadLetterInput, now: number): string {
  const head = {
    deadLetteredTs: now,
    reason: letter.reason,
    schemaVersion: letter.schemaVersion,
    ...(letter.source === undefined ? {} : { source: letter.source }),
  };
  let event: string | undefined;
  let encodingError: string | undefined;
  try {
    event = JSON.stringify(letter.event);
    if (event === undefined) encodingError = `${typeof letter.event} is not a JSON value`;
  } catch (err) {
    encodingError = describeError(err);
  }
  const prefix = JSON.stringify(head).slice(0, -1);
  if (event !== undefined) return `${prefix},"event":${event}}\n`;
  return `${prefix},"event":null,"eventText":${JSON.stringify(safeString(letter.event))},"eventEncodingError":${JSON.stringify(encodingError)}}\n`;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export interface DeadLetterFileContents {
  readonly letters: DeadLetter[];
  /** Lines that do not parse: at most a torn last line after a crash mid-write. */
  readonly unreadableLines: number;
}

/** Reads a dead-letter NDJSON file back. */
export async function readDeadLetterFile(path: string): Promise<DeadLetterFileContents> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BackendUnavailableError(`dead-letter file ${path}: cannot read: ${describeError(err)}`, { cause: err });
  }
  const letters: DeadLetter[] = [];
  let unreadableLines = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    try {
      letters.push(JSON.parse(line) as DeadLetter);
    } catch {
      unreadableLines++;
    }
  }
  return { letters, unreadableLines };
}
