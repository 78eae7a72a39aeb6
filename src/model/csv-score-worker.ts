/**
 * One thread of CsvScoreWorkers (csv-score-workers.ts): compiles the model, then takes pieces of a CSV file from the
 * shared counter (claimPiece) and reads, scores and formats each (CsvPieceScorer), handing back its scored bytes and
 * scores by transfer, until every piece is taken.
 * Loaded like scorer-pool-worker (see worker-spawn.ts); it imports only what scoring a piece needs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ModelArtifact } from './artifact.js';
import {
  type CsvPiecePlan,
  type CsvPieceResult,
  CsvPieceScorer,
  claimPiece,
  type PieceClaims,
  pieceJob,
} from './csv-pieces.js';
import { compileModel } from './scoring/compiled-model.js';

export interface CsvScoreWorkerInit {
  readonly plan: CsvPiecePlan;
  readonly artifact: ModelArtifact;
}

/** Start taking pieces until none is left. */
export interface CsvScoreWorkerJob {
  readonly claims: PieceClaims;
}

export type CsvScoreWorkerReply =
  | { readonly kind: 'done'; readonly index: number; readonly result: CsvPieceResult }
  | { readonly kind: 'failed'; readonly index: number; readonly name: string; readonly message: string };

function run(init: CsvScoreWorkerInit, port: NonNullable<typeof parentPort>): void {
  const model = compileModel(init.artifact);
  const scorer = new CsvPieceScorer(init.plan, (m) => model.predict(m));
  port.on('message', ({ claims }: CsvScoreWorkerJob) => {
    for (let k = claimPiece(claims); k < claims.pieces; k = claimPiece(claims)) {
      try {
        const result = scorer.run(pieceJob(init.plan, claims.pieceBytes, k));
        port.postMessage({ kind: 'done', index: k, result } satisfies CsvScoreWorkerReply, [
          result.out.buffer as ArrayBuffer,
          result.scores.buffer as ArrayBuffer,
        ]);
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        port.postMessage({ kind: 'failed', index: k, name: e.name, message: e.message } satisfies CsvScoreWorkerReply);
        return;
      }
    }
  });
}

if (parentPort) run(workerData as CsvScoreWorkerInit, parentPort);
