/**
 * One thread of CsvScoreWorkers (csv-score-workers.ts): compiles the model, then reads, scores and formats pieces of
 * a CSV file (CsvPieceScorer) as they are asked for, handing back each piece's scored bytes and scores by transfer.
 * Loaded like scorer-pool-worker (see worker-spawn.ts); it imports only what scoring a piece needs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ModelArtifact } from './artifact.js';
import { type CsvPieceJob, type CsvPiecePlan, type CsvPieceResult, CsvPieceScorer } from './csv-pieces.js';
import { compileModel } from './scoring/compiled-model.js';

export interface CsvScoreWorkerInit {
  readonly plan: CsvPiecePlan;
  readonly artifact: ModelArtifact;
}

export interface CsvScoreWorkerJob {
  readonly id: number;
  readonly job: CsvPieceJob;
}

export type CsvScoreWorkerReply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'done'; readonly id: number; readonly result: CsvPieceResult }
  | { readonly kind: 'failed'; readonly id: number; readonly name: string; readonly message: string };

function run(init: CsvScoreWorkerInit, port: NonNullable<typeof parentPort>): void {
  const model = compileModel(init.artifact);
  const scorer = new CsvPieceScorer(init.plan, (m) => model.predict(m));
  port.on('message', (msg: CsvScoreWorkerJob) => {
    try {
      const result = scorer.run(msg.job);
      port.postMessage({ kind: 'done', id: msg.id, result } satisfies CsvScoreWorkerReply, [
        result.out.buffer as ArrayBuffer,
        result.scores.buffer as ArrayBuffer,
      ]);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      port.postMessage({ kind: 'failed', id: msg.id, name: e.name, message: e.message } satisfies CsvScoreWorkerReply);
    }
  });
  port.postMessage({ kind: 'ready' } satisfies CsvScoreWorkerReply);
}

if (parentPort) run(workerData as CsvScoreWorkerInit, parentPort);
