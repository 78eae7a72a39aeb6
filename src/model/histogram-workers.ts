import { Worker } from 'node:worker_threads';

const HIST_STRIDE = 512;

// The worker's kernel is plain JavaScript evaluated in the worker (no TypeScript loader needed there, so it runs the
// same under tsx, vitest and the built CLI). It mirrors buildHistogram in gbdt-trainer.ts.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { ctrlBuf, binnedBuf, ghBuf, rowIdxBuf, featBuf, histBuf, nf } = workerData;
const ctrl = new Int32Array(ctrlBuf);
const binned = new Uint8Array(binnedBuf);
const gh = new Float64Array(ghBuf);
const rowIdx = new Uint32Array(rowIdxBuf);
const feats = new Int32Array(featBuf);
const hist = new Float64Array(histBuf);
for (;;) {
  Atomics.wait(ctrl, 0, 0);
  if (Atomics.load(ctrl, 0) === 2) break;
  const begin = ctrl[2], end = ctrl[3], nsel = ctrl[4], full = ctrl[5] === 1;
  if (full) hist.fill(0, 0, nf * ${HIST_STRIDE});
  else for (let j = 0; j < nsel; j++) hist.fill(0, feats[j] * ${HIST_STRIDE}, (feats[j] + 1) * ${HIST_STRIDE});
  if (full) {
    for (let i = begin; i < end; i++) {
      const r = rowIdx[i]; const g = gh[2 * r]; const h = gh[2 * r + 1];
      let base = r * nf;
      for (let o = 0; o < nf * ${HIST_STRIDE}; o += ${HIST_STRIDE}) {
        const k = o + (binned[base++] << 1);
        hist[k] += g; hist[k + 1] += h;
      }
    }
  } else {
    for (let i = begin; i < end; i++) {
      const r = rowIdx[i]; const g = gh[2 * r]; const h = gh[2 * r + 1];
      const base = r * nf;
      for (let j = 0; j < nsel; j++) {
        const f = feats[j];
        const k = f * ${HIST_STRIDE} + (binned[base + f] << 1);
        hist[k] += g; hist[k + 1] += h;
      }
    }
  }
  Atomics.store(ctrl, 0, 0);
  Atomics.store(ctrl, 1, 1);
  Atomics.notify(ctrl, 1);
}
parentPort.close();
`;

/**
 * One helper thread that builds the histogram of the second half of a node's rows while the calling thread builds
 * the first half; the halves are added in a fixed order, so results are deterministic for a given thread count
 * (and differ from one thread only by floating-point summation order). Inputs live in SharedArrayBuffers.
 * Synchronous by design (Atomics.wait), because the trainer is.
 */
export class HistogramHelper {
  readonly #worker: Worker;
  readonly #ctrl: Int32Array;
  readonly #feats: Int32Array;
  readonly #hist: Float64Array;
  readonly #nf: number;
  #closed = false;

  constructor(binned: Uint8Array, gh: Float64Array, rowIdx: Uint32Array, nf: number) {
    const ctrlBuf = new SharedArrayBuffer(8 * 4);
    const featBuf = new SharedArrayBuffer(Math.max(1, nf) * 4);
    const histBuf = new SharedArrayBuffer(nf * HIST_STRIDE * 8);
    this.#ctrl = new Int32Array(ctrlBuf);
    this.#feats = new Int32Array(featBuf);
    this.#hist = new Float64Array(histBuf);
    this.#nf = nf;
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        ctrlBuf,
        binnedBuf: binned.buffer,
        ghBuf: gh.buffer,
        rowIdxBuf: rowIdx.buffer,
        featBuf,
        histBuf,
        nf,
      },
    });
    this.#worker.unref();
  }

  /** Starts the helper on rows [begin, end); `finish` waits and adds its histogram into `target`. */
  start(begin: number, end: number, features: Int32Array, full: boolean): void {
    const c = this.#ctrl;
    if (!full) this.#feats.set(features);
    c[2] = begin;
    c[3] = end;
    c[4] = features.length;
    c[5] = full ? 1 : 0;
    Atomics.store(c, 1, 0);
    Atomics.store(c, 0, 1);
    Atomics.notify(c, 0);
  }

  finish(target: Float64Array, features: Int32Array, full: boolean): void {
    const c = this.#ctrl;
    while (Atomics.load(c, 1) === 0) Atomics.wait(c, 1, 0, 1000);
    const h = this.#hist;
    if (full) {
      for (let k = 0; k < this.#nf * HIST_STRIDE; k++) target[k] = (target[k] as number) + (h[k] as number);
      return;
    }
    for (let j = 0; j < features.length; j++) {
      const start = (features[j] as number) * HIST_STRIDE;
      for (let k = start; k < start + HIST_STRIDE; k++) target[k] = (target[k] as number) + (h[k] as number);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.store(this.#ctrl, 0, 2);
    Atomics.notify(this.#ctrl, 0);
    void this.#worker.terminate();
  }
}

/** Copies a typed array into shared memory (a no-op when it already is). */
export function toShared<T extends Uint8Array | Float64Array | Uint32Array>(
  a: T,
  make: (buf: SharedArrayBuffer) => T,
): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const out = make(new SharedArrayBuffer(a.byteLength));
  out.set(a as never);
  return out;
}
