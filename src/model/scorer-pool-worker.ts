/**
 * One thread of a ScorerPool (scorer-pool.ts): compiles the pool's model into its own CompiledScorer, then scores
 * row ranges of column-major matrices held in SharedArrayBuffers, writing margins (or probabilities) into a shared
 * Float64 output. Loaded as dist/model/scorer-pool-worker.js by the built CLI, and from this TypeScript file
 * through tsx's CommonJS hook under vitest and tsx (see workerSpawn in scorer-pool.ts); it therefore imports only
 * what scoring needs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BinMapper } from './binning.js';
import { type Calibration, probabilitiesFromMargins } from './calibration.js';
import { CompiledScorer } from './scoring/compiled-scorer.js';
import type { TreeEnsemble } from './tree-ensemble.js';

/** What a worker is started with (structured-cloned: typed arrays arrive bit for bit). */
export interface ScorerWorkerInit {
  readonly ensemble: TreeEnsemble;
  readonly bins: BinMapper | null;
  readonly webAssembly: boolean;
  readonly calibration: Calibration;
}

/**
 * Score rows [begin, end) of the column-major matrix of `rows` rows starting at byte `offset` of `input`
 * (Float32 values, or Uint8 training bins when `binned`), into `end - begin` Float64 slots at byte `outOffset` of
 * `out`. `output`: margins, sigmoid probabilities, or calibrated probabilities (the order of operations of
 * CompiledModel.predict).
 */
export interface ScorerWorkerJob {
  readonly id: number;
  readonly binned: boolean;
  readonly output: 'margin' | 'raw' | 'calibrated';
  readonly input: SharedArrayBuffer;
  readonly offset: number;
  readonly rows: number;
  readonly begin: number;
  readonly end: number;
  readonly out: SharedArrayBuffer;
  readonly outOffset: number;
}

export type ScorerWorkerReply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'done'; readonly id: number }
  | { readonly kind: 'failed'; readonly id: number; readonly name: string; readonly message: string };

/** Rows copied per step when a worker reads a range of a larger shared matrix. */
const COPY_ROWS = 8192;

function run(init: ScorerWorkerInit, port: NonNullable<typeof parentPort>): void {
  const scorer = new CompiledScorer(init.ensemble, {
    ...(init.bins ? { bins: init.bins } : {}),
    webAssembly: init.webAssembly,
  });
  // build the WebAssembly kernel now, not inside the first job
  void scorer.usesWebAssembly;
  const nf = scorer.numFeatures;
  let crashNext = false;
  port.on('message', (msg: ScorerWorkerJob | { readonly crashOnNextJob: true }) => {
    if ('crashOnNextJob' in msg) {
      crashNext = true;
      return;
    }
    // a fault drill (ScorerPool.crashWorkerOnNextJob): the thread dies as an uncaught error would end it
    if (crashNext) process.exit(70);
    try {
      score(scorer, nf, init.calibration, msg);
      port.postMessage({ kind: 'done', id: msg.id } satisfies ScorerWorkerReply);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      port.postMessage({ kind: 'failed', id: msg.id, name: e.name, message: e.message } satisfies ScorerWorkerReply);
    }
  });
  port.postMessage({ kind: 'ready' } satisfies ScorerWorkerReply);
}

function score(scorer: CompiledScorer, nf: number, calibration: Calibration, job: ScorerWorkerJob): void {
  const len = job.end - job.begin;
  const out = new Float64Array(job.out, job.outOffset, len);
  const width = job.binned ? 1 : 4;
  const whole = job.begin === 0 && job.end === job.rows;
  if (whole) {
    // the matrix is this range (the pool's own staging layout): scored in place
    marginsOf(scorer, job, new Uint8Array(job.input, job.offset, nf * len * width), len, out);
  } else {
    // a range of the caller's shared matrix: columns are strided by `rows`, so copy COPY_ROWS rows at a time
    const step = Math.min(COPY_ROWS, len);
    const local = new Uint8Array(nf * step * width);
    const src = new Uint8Array(job.input, job.offset, nf * job.rows * width);
    for (let start = 0; start < len; start += step) {
      const n = Math.min(step, len - start);
      for (let f = 0; f < nf; f++) {
        const from = (f * job.rows + job.begin + start) * width;
        local.set(src.subarray(from, from + n * width), f * n * width);
      }
      marginsOf(scorer, job, local.subarray(0, nf * n * width), n, out.subarray(start, start + n));
    }
  }
  if (job.output !== 'margin')
    probabilitiesFromMargins(out, len, job.output === 'calibrated' ? calibration : undefined);
}

function marginsOf(scorer: CompiledScorer, job: ScorerWorkerJob, bytes: Uint8Array, rows: number, out: Float64Array) {
  if (job.binned) scorer.predictBinnedMargin(bytes, rows, out);
  else scorer.predictMargin({ rows, values: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) }, out);
}

if (parentPort) run(workerData as ScorerWorkerInit, parentPort);
