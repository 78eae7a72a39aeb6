import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { InvalidInputError } from '../core/index.js';
import { binsFromHeader, ensembleOf, type ModelArtifact } from './artifact.js';
import type { BinMapper } from './binning.js';
import { type Calibration, probabilitiesFromMargins } from './calibration.js';
import { SCORER_POOL_MIN_ROWS } from './choices.js';
import { ScorerPoolError } from './errors.js';
import type { ScorerWorkerInit, ScorerWorkerJob, ScorerWorkerReply } from './scorer-pool-worker.js';
import { CompiledScorer, type ScoreInput } from './scoring/compiled-scorer.js';
import type { TreeEnsemble } from './tree-ensemble.js';
import { spawnModelWorker } from './worker-spawn.js';

export { SCORER_POOL_MIN_ROWS };

/** See ScorerPoolOptions.chunksPerThread. */
const CHUNKS_PER_THREAD = 4;
/** Chunks beyond one per worker are not cut smaller than this. */
const MIN_CHUNK_ROWS = 4096;

export { ScorerPoolError } from './errors.js';

export interface ScorerPoolOptions {
  /** Worker threads (default: available cores, at least 1). */
  readonly threads?: number;
  /** Batches with fewer rows stay on the calling thread (default SCORER_POOL_MIN_ROWS). */
  readonly minRows?: number;
  /** Training bins: enables `predictBinnedMargin` (trees trained here only). */
  readonly bins?: BinMapper;
  /** Applied by `predict` after the sigmoid (default none: `predict` equals CompiledScorer.predict). */
  readonly calibration?: Calibration;
  /**
   * Row chunks per worker (default CHUNKS_PER_THREAD): a batch is cut into up to threads x chunksPerThread
   * contiguous chunks (one per worker at least, more only while they keep MIN_CHUNK_ROWS rows), handed out as
   * workers finish; 1 gives each worker one range.
   */
  readonly chunksPerThread?: number;
  /** As CompileOptions.webAssembly (the tests compare the kernels). */
  readonly webAssembly?: boolean;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  // jobs sent and not yet answered
  readonly pending: Map<number, { resolve: () => void; reject: (err: Error) => void }>;
}

/**
 * Scores large batches on N worker threads, each holding its own CompiledScorer of the same model (the
 * ensemble is structured-cloned into the worker, so its typed arrays arrive bit for bit). A batch of at least
 * `minRows` rows is split into N contiguous row ranges, one per worker; input and output are shared through
 * SharedArrayBuffers. Input that is not shared is copied range by range into a staging buffer laid out as one
 * column-major matrix per range (a memcpy per column and range), so each worker scores its range in place, and
 * a worker starts as soon as its range is copied. Shared input is read in place: each worker copies its rows
 * into a small local block as it goes (columns are strided by the whole batch's row count). Every row is scored
 * by the same kernel as on the calling thread, so results are bit-identical to CompiledScorer (and, with the
 * artifact's calibration, to CompiledModel).
 *
 * Batches run one at a time (calls queue). A worker that dies fails the batch in flight and the pool with a
 * ScorerPoolError; the pool then rejects every call, and `close()` must still be called. Workers keep the
 * process alive only while a batch is running.
 */
export class ScorerPool {
  readonly threads: number;
  readonly minRows: number;
  readonly numFeatures: number;
  readonly chunksPerThread: number;
  readonly #init: ScorerWorkerInit;
  readonly #workers: PoolWorker[] = [];
  #local: CompiledScorer | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = 1;
  #failure: ScorerPoolError | null = null;
  #closed = false;
  #staging: SharedArrayBuffer | null = null;
  #stagingOut: SharedArrayBuffer | null = null;

  constructor(ensemble: TreeEnsemble, options: ScorerPoolOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1)
      throw new InvalidInputError(`threads must be an integer >= 1, got ${threads}`);
    const minRows = options.minRows ?? SCORER_POOL_MIN_ROWS;
    if (!(minRows >= 0)) throw new InvalidInputError(`minRows must be >= 0, got ${minRows}`);
    this.threads = threads;
    this.minRows = minRows;
    const cpt = options.chunksPerThread ?? CHUNKS_PER_THREAD;
    if (!Number.isInteger(cpt) || cpt < 1)
      throw new InvalidInputError(`chunksPerThread must be an integer >= 1, got ${cpt}`);
    this.chunksPerThread = cpt;
    this.numFeatures = ensemble.numFeatures;
    this.#init = {
      ensemble: { numFeatures: ensemble.numFeatures, baseMargin: ensemble.baseMargin, trees: ensemble.trees },
      bins: options.bins ?? null,
      webAssembly: options.webAssembly !== false,
      calibration: options.calibration ?? { method: 'none' },
    };
    for (let i = 0; i < threads; i++) this.#workers.push(this.#start(i));
  }

  /**
   * A pool for a tree model artifact: its training bins (for `predictBinnedMargin`) and its calibration (applied
   * by `predict`; `predictRaw` skips it), so `predict` equals CompiledModel.predict.
   */
  static fromArtifact(artifact: ModelArtifact, options: Omit<ScorerPoolOptions, 'bins' | 'calibration'> = {}) {
    if (artifact.header.modelKind === 'logistic-regression')
      throw new InvalidInputError('a scorer pool scores tree models; this artifact is a logistic regression');
    const bins = binsFromHeader(artifact.header);
    return new ScorerPool(ensembleOf(artifact), {
      ...options,
      ...(bins ? { bins } : {}),
      calibration: artifact.header.calibration ?? { method: 'none' },
    });
  }

  /** Resolves when every worker has compiled the model (batches wait for this themselves). */
  async ready(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.ready));
  }

  /** Margins (log-odds) for every row of a column-major matrix. */
  predictMargin(input: ScoreInput, out?: Float64Array): Promise<Float64Array> {
    return this.#batch(input.values, input.rows, false, 'margin', out);
  }

  /** Probabilities (the sigmoid of the margins, as CompiledScorer.predict and CompiledModel.predictRaw). */
  predictRaw(input: ScoreInput, out?: Float64Array): Promise<Float64Array> {
    return this.#batch(input.values, input.rows, false, 'raw', out);
  }

  /** Probabilities with the pool's calibration applied (none unless given: then equal to predictRaw). */
  predict(input: ScoreInput, out?: Float64Array): Promise<Float64Array> {
    return this.#batch(input.values, input.rows, false, 'calibrated', out);
  }

  /** Margins from column-major Uint8 training bins (`binColumnMajor`); needs `bins`. */
  predictBinnedMargin(bins: Uint8Array, rows: number, out?: Float64Array): Promise<Float64Array> {
    return this.#batch(bins, rows, true, 'margin', out);
  }

  /**
   * Makes worker `index` exit (code 70) when its next job arrives, as a crash would: for tests and fault drills
   * of the code around the pool.
   */
  crashWorkerOnNextJob(index: number): void {
    this.#workers[index]?.worker.postMessage({ crashOnNextJob: true });
  }

  /** Terminates the workers; batches in flight or queued reject with ScorerPoolError. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(new ScorerPoolError('scorer pool closed'));
    this.#staging = null;
    this.#stagingOut = null;
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }

  #start(index: number): PoolWorker {
    const pending: PoolWorker['pending'] = new Map();
    let worker: Worker;
    try {
      worker = spawnModelWorker('scorer-pool-worker', this.#init);
    } catch (err) {
      throw new ScorerPoolError(`scorer pool worker ${index} could not start: ${(err as Error).message}`, {
        cause: err,
      });
    }
    worker.unref();
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: ScorerWorkerReply) => {
        if (msg.kind === 'ready') {
          resolve();
          return;
        }
        const job = pending.get(msg.id);
        if (!job) return;
        pending.delete(msg.id);
        if (msg.kind === 'done') job.resolve();
        else if (msg.name === 'InvalidInputError') job.reject(new InvalidInputError(msg.message));
        else job.reject(new ScorerPoolError(`scorer pool worker ${index} failed: ${msg.message}`));
      });
      const died = (err: Error): void => {
        const failure = new ScorerPoolError(`scorer pool worker ${index} died: ${err.message}`, { cause: err });
        reject(failure);
        if (this.#closed) return;
        this.#failure ??= failure;
        this.#failAll(this.#failure);
        // the others are of no use to a failed pool
        for (const w of this.#workers) if (w.worker !== worker) void w.worker.terminate();
      };
      worker.on('error', died);
      worker.on('exit', (code) => died(new Error(`exited with code ${code}`)));
    });
    // a pool that is never used must not report an unhandled rejection for a worker that could not start
    ready.catch(() => undefined);
    return { worker, ready, pending };
  }

  #failAll(err: Error): void {
    for (const w of this.#workers) {
      for (const job of w.pending.values()) job.reject(err);
      w.pending.clear();
    }
  }

  #batch(
    values: Float32Array | Uint8Array,
    rows: number,
    binned: boolean,
    output: ScorerWorkerJob['output'],
    out: Float64Array | undefined,
  ): Promise<Float64Array> {
    try {
      this.#check(values, rows, binned, out);
    } catch (err) {
      return Promise.reject(err);
    }
    if (rows < this.minRows) {
      try {
        return Promise.resolve(this.#scoreLocally(values, rows, binned, output, out ?? new Float64Array(rows)));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    // one batch at a time: the staging buffers and the workers serve one batch
    const run = this.#queue.then(() => this.#scoreOnWorkers(values, rows, binned, output, out));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #check(values: Float32Array | Uint8Array, rows: number, binned: boolean, out: Float64Array | undefined): void {
    if (this.#closed) throw new ScorerPoolError('scorer pool closed');
    if (this.#failure) throw this.#failure;
    if (!Number.isInteger(rows) || rows < 0) throw new InvalidInputError(`rows must be an integer >= 0, got ${rows}`);
    if (binned && !this.#init.bins)
      throw new InvalidInputError('this scorer pool was made without training bins; pass { bins }');
    if (values.length !== rows * this.numFeatures) {
      throw new InvalidInputError(
        `scorer expects ${this.numFeatures} columns x ${rows} rows = ${rows * this.numFeatures} values, got ${values.length}`,
      );
    }
    if (out && out.length < rows) throw new InvalidInputError(`output has ${out.length} slots for ${rows} rows`);
  }

  #scoreLocally(
    values: Float32Array | Uint8Array,
    rows: number,
    binned: boolean,
    output: ScorerWorkerJob['output'],
    out: Float64Array,
  ): Float64Array {
    this.#local ??= new CompiledScorer(this.#init.ensemble, {
      ...(this.#init.bins ? { bins: this.#init.bins } : {}),
      webAssembly: this.#init.webAssembly,
    });
    if (binned) this.#local.predictBinnedMargin(values as Uint8Array, rows, out);
    else this.#local.predictMargin({ rows, values: values as Float32Array }, out);
    if (output === 'margin') return out;
    return probabilitiesFromMargins(out, rows, output === 'calibrated' ? this.#init.calibration : undefined);
  }

  async #scoreOnWorkers(
    values: Float32Array | Uint8Array,
    rows: number,
    binned: boolean,
    output: ScorerWorkerJob['output'],
    out: Float64Array | undefined,
  ): Promise<Float64Array> {
    // re-checked: the pool may have failed or closed while this batch waited
    if (this.#closed) throw new ScorerPoolError('scorer pool closed');
    if (this.#failure) throw this.#failure;
    // the workers keep the process alive while a batch needs them (start-up included), and only then
    for (const w of this.#workers) w.worker.ref();
    try {
      return await this.#runBatch(values, rows, binned, output, out);
    } finally {
      for (const w of this.#workers) w.worker.unref();
    }
  }

  async #runBatch(
    values: Float32Array | Uint8Array,
    rows: number,
    binned: boolean,
    output: ScorerWorkerJob['output'],
    out: Float64Array | undefined,
  ): Promise<Float64Array> {
    await this.ready();
    const nf = this.numFeatures;
    const width = values.BYTES_PER_ELEMENT;
    const n = this.#workers.length;
    // output: the caller's when shared, else a new shared array when none was given, else staging then a copy
    let target: Float64Array;
    if (out && out.buffer instanceof SharedArrayBuffer) target = out;
    else if (!out) target = new Float64Array(new SharedArrayBuffer(8 * rows));
    else {
      if (!this.#stagingOut || this.#stagingOut.byteLength < 8 * rows)
        this.#stagingOut = new SharedArrayBuffer(8 * rows);
      target = new Float64Array(this.#stagingOut, 0, rows);
    }
    const shared = values.buffer instanceof SharedArrayBuffer;
    let input: SharedArrayBuffer;
    if (shared) input = values.buffer as SharedArrayBuffer;
    else {
      // kept for the next batch: a fresh buffer costs its page faults on every batch
      if (!this.#staging || this.#staging.byteLength < values.byteLength)
        this.#staging = new SharedArrayBuffer(values.byteLength);
      input = this.#staging;
    }
    const src = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const dst = shared ? null : new Uint8Array(input);
    // chunks of contiguous rows, one per worker at least; each worker takes the next when done with its last
    const chunks = Math.max(1, Math.min(n, rows), Math.min(n * this.chunksPerThread, Math.ceil(rows / MIN_CHUNK_ROWS)));
    const bounds = Array.from({ length: chunks + 1 }, (_, i) => Math.floor((i * rows) / chunks));
    const jobOf = (c: number): Omit<ScorerWorkerJob, 'id'> => {
      const begin = bounds[c] as number;
      const end = bounds[c + 1] as number;
      const common = { binned, output, input, out: target.buffer as SharedArrayBuffer };
      const outOffset = target.byteOffset + 8 * begin;
      if (!dst) return { ...common, offset: values.byteOffset, rows, begin, end, outOffset };
      // staged: chunk c as its own column-major matrix of end - begin rows, at byte nf * begin * width
      const len = end - begin;
      return { ...common, offset: nf * begin * width, rows: len, begin: 0, end: len, outOffset };
    };
    const stage = (c: number): void => {
      if (!dst) return;
      const begin = bounds[c] as number;
      const len = (bounds[c + 1] as number) - begin;
      const base = nf * begin * width;
      for (let f = 0; f < nf; f++) {
        const from = (f * rows + begin) * width;
        dst.set(src.subarray(from, from + len * width), base + f * len * width);
      }
    };
    let next = 0;
    let stop = false;
    const drive = async (w: PoolWorker): Promise<void> => {
      while (!stop && next < chunks) {
        const c = next++;
        if (bounds[c + 1] === bounds[c]) continue;
        try {
          await this.#send(w, jobOf(c));
        } catch (err) {
          stop = true;
          throw err;
        }
      }
    };
    // the first chunk of each worker is staged and sent before the rest is staged, so workers start at once
    const first = Math.min(n, chunks);
    for (let c = 0; c < first; c++) stage(c);
    const drivers = this.#workers.slice(0, first).map(drive);
    for (let c = first; c < chunks; c++) stage(c);
    // every job settles before the batch does, so a failed batch leaves no worker writing into `out`
    const settled = await Promise.allSettled(drivers);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    if (out && target !== out) {
      out.set(target);
      return out;
    }
    return target;
  }

  #send(w: PoolWorker, job: Omit<ScorerWorkerJob, 'id'>): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new ScorerPoolError('scorer pool closed'));
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      w.pending.set(id, { resolve, reject });
      w.worker.postMessage({ ...job, id } satisfies ScorerWorkerJob);
    });
  }
}
