import type { Worker } from 'node:worker_threads';
import { InvalidInputError } from '../core/index.js';
import type { CsvPieceJob, CsvPieceResult } from './csv-pieces.js';
import type { CsvScoreWorkerInit, CsvScoreWorkerJob, CsvScoreWorkerReply } from './csv-score-worker.js';
import { ScorerPoolError } from './errors.js';
import { spawnModelWorker } from './worker-spawn.js';

interface PoolWorker {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  ready: boolean;
  readonly started: Promise<void>;
}

/** Pieces a thread holds at once: the one it reads and the next, so it never waits for the caller. */
const PIECES_IN_HAND = 2;

interface Pending {
  readonly resolve: (r: CsvPieceResult) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Threads that read, score and format pieces besides the calling thread: `idle` says whether one can take a piece
 * now, `run` gives it one. Worker threads in the CLI; tests also run the pieces on the calling thread through it.
 */
export interface PieceHelpers {
  idle(): boolean;
  run(job: CsvPieceJob): Promise<CsvPieceResult>;
  close(): Promise<void>;
}

/**
 * Worker threads that each read, score and format pieces of one CSV file (csv-score-worker.ts). A thread takes
 * pieces once it has compiled the model (`idle` says when one can take another), so the caller works on pieces
 * itself meanwhile rather than waiting for a thread to start. A thread that dies fails every piece in flight and
 * the pool with a ScorerPoolError; `close()` must still be called.
 */
export class CsvScoreWorkers implements PieceHelpers {
  readonly #workers: PoolWorker[] = [];
  #nextId = 1;
  #failure: ScorerPoolError | null = null;
  #closed = false;

  constructor(init: CsvScoreWorkerInit, threads: number) {
    for (let i = 0; i < threads; i++) {
      let worker: Worker;
      try {
        worker = spawnModelWorker('csv-score-worker', init);
      } catch (err) {
        throw new ScorerPoolError(`csv scoring worker ${i} could not start: ${(err as Error).message}`, { cause: err });
      }
      const pending = new Map<number, Pending>();
      let started = (): void => undefined;
      const w: PoolWorker = { worker, pending, ready: false, started: new Promise((resolve) => (started = resolve)) };
      worker.on('message', (msg: CsvScoreWorkerReply) => {
        if (msg.kind === 'ready') {
          w.ready = true;
          started();
          return;
        }
        const job = pending.get(msg.id);
        if (!job) return;
        pending.delete(msg.id);
        if (msg.kind === 'done') job.resolve(msg.result);
        else if (msg.name === 'InvalidInputError') job.reject(new InvalidInputError(msg.message));
        else job.reject(new ScorerPoolError(`csv scoring worker ${i} failed: ${msg.message}`));
      });
      const died = (err: Error): void => {
        if (this.#closed) return;
        this.#failure ??= new ScorerPoolError(`csv scoring worker ${i} died: ${err.message}`, { cause: err });
        for (const w of this.#workers) {
          for (const job of w.pending.values()) job.reject(this.#failure);
          w.pending.clear();
        }
      };
      worker.on('error', died);
      worker.on('exit', (code) => died(new Error(`exited with code ${code}`)));
      this.#workers.push(w);
    }
  }

  /** Resolves when every thread has compiled the model (or the pool has failed). */
  async ready(): Promise<void> {
    const failed = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (this.#failure || this.#closed) {
          clearInterval(check);
          resolve();
        }
      }, 50);
      void Promise.all(this.#workers.map((w) => w.started)).then(() => {
        clearInterval(check);
        resolve();
      });
    });
    await failed;
  }

  /** Whether a started thread can take another piece now. */
  idle(): boolean {
    return this.#idleWorker() !== null;
  }

  #idleWorker(): PoolWorker | null {
    let best: PoolWorker | null = null;
    for (const w of this.#workers)
      if (w.ready && w.pending.size < PIECES_IN_HAND && (!best || w.pending.size < best.pending.size)) best = w;
    return best;
  }

  /** One piece, on an idle thread (see `idle`). */
  run(job: CsvPieceJob): Promise<CsvPieceResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new ScorerPoolError('csv scoring workers closed'));
    const w = this.#idleWorker();
    if (!w) return Promise.reject(new ScorerPoolError('no csv scoring worker is idle'));
    const id = this.#nextId++;
    return new Promise<CsvPieceResult>((resolve, reject) => {
      w.pending.set(id, { resolve, reject });
      w.worker.postMessage({ id, job } satisfies CsvScoreWorkerJob);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#workers) {
      for (const job of w.pending.values()) job.reject(new ScorerPoolError('csv scoring workers closed'));
      w.pending.clear();
    }
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }
}
