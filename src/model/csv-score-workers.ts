import type { Worker } from 'node:worker_threads';
import { InvalidInputError } from '../core/errors.js';
import type { CsvPieceResult, PieceClaims } from './csv-pieces.js';
import type { CsvScoreWorkerInit, CsvScoreWorkerJob, CsvScoreWorkerReply } from './csv-score-worker.js';
import { ScorerPoolError } from './errors.js';
import { spawnModelWorker } from './worker-spawn.js';

/** A piece another thread has read: its index among the run's pieces and what it gave. */
export interface HelpedPiece {
  readonly index: number;
  readonly result: CsvPieceResult;
}

/**
 * Threads that read, score and format pieces besides the calling thread: `start` has each take pieces from the
 * shared counter until none is left, `poll` and `next` give the pieces they have read. Worker threads in the CLI;
 * tests also run them on the calling thread through it.
 */
export interface PieceHelpers {
  start(claims: PieceClaims): void;
  /** A piece read and not yet taken, or null. */
  poll(): HelpedPiece | null;
  /** The next piece read; rejects when a helper failed. */
  next(): Promise<HelpedPiece>;
  close(): Promise<void>;
}

/**
 * Worker threads that each take pieces of one CSV file (csv-score-worker.ts) once they have compiled the model, so
 * the calling thread reads pieces itself meanwhile rather than waiting for a thread to start. A thread that dies or
 * fails fails the pool with a ScorerPoolError (an InvalidInputError stays one); `close()` must still be called.
 */
export class CsvScoreWorkers implements PieceHelpers {
  readonly #workers: Worker[] = [];
  readonly #done: HelpedPiece[] = [];
  #waiter: { readonly resolve: (p: HelpedPiece) => void; readonly reject: (err: Error) => void } | null = null;
  #failure: Error | null = null;
  #closed = false;

  constructor(init: CsvScoreWorkerInit, threads: number) {
    for (let i = 0; i < threads; i++) {
      let worker: Worker;
      try {
        worker = spawnModelWorker('csv-score-worker', init);
      } catch (err) {
        throw new ScorerPoolError(`csv scoring worker ${i} could not start: ${(err as Error).message}`, { cause: err });
      }
      worker.on('message', (msg: CsvScoreWorkerReply) => {
        if (msg.kind === 'done') {
          const piece = { index: msg.index, result: msg.result };
          const waiter = this.#waiter;
          this.#waiter = null;
          if (waiter) waiter.resolve(piece);
          else this.#done.push(piece);
        } else
          this.#fail(
            msg.name === 'InvalidInputError'
              ? new InvalidInputError(msg.message)
              : new ScorerPoolError(`csv scoring worker ${i} failed: ${msg.message}`),
          );
      });
      const died = (err: Error): void => {
        if (!this.#closed)
          this.#fail(new ScorerPoolError(`csv scoring worker ${i} died: ${err.message}`, { cause: err }));
      };
      worker.on('error', died);
      worker.on('exit', (code) => died(new Error(`exited with code ${code}`)));
      this.#workers.push(worker);
    }
  }

  start(claims: PieceClaims): void {
    for (const w of this.#workers) w.postMessage({ claims } satisfies CsvScoreWorkerJob);
  }

  poll(): HelpedPiece | null {
    return this.#done.shift() ?? null;
  }

  next(): Promise<HelpedPiece> {
    const piece = this.#done.shift();
    if (piece) return Promise.resolve(piece);
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new ScorerPoolError('csv scoring workers closed'));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.reject(this.#failure);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#fail(new ScorerPoolError('csv scoring workers closed'));
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
