import { type FeatureMatrix, FeatureStatusCode } from '../core/index.js';
import type { DecisionContext, Deployment, FeatureSource } from '../decision/index.js';

/**
 * The newest batch snapshot of a deployment's features, held in memory: the offline store's point-in-time answer
 * for every indexed user at the time it was loaded. Served while the online store is unreachable (with the
 * fallback models, which read only batch views). Ages grow with the time since the load; statuses stay those of
 * the load (a view that was present stays present however long the outage lasts, its age tells how old it is).
 * Memory: users x columns x 4 bytes (900 users x 200 columns: 0.7 MB; 1M x 200: 800 MB, a shard's worth).
 */
export class BatchSnapshotSource implements FeatureSource {
  readonly name = 'batch_snapshot';
  readonly atMs: number;
  readonly #m: FeatureMatrix;
  readonly #rowOf: Map<string, number>;

  private constructor(m: FeatureMatrix, atMs: number) {
    this.#m = m;
    this.atMs = atMs;
    this.#rowOf = new Map(m.entityIds.map((id, i) => [id, i]));
  }

  static async load(deployment: Deployment, atMs = deployment.clock.now()): Promise<BatchSnapshotSource> {
    const n = deployment.index.users.size;
    const users = deployment.index.users.usersOf(Uint32Array.from({ length: n }, (_, i) => i));
    const m = await deployment.store.readPointInTime(deployment.service, users, atMs);
    return new BatchSnapshotSource(m, atMs);
  }

  get users(): number {
    return this.#m.entityIds.length;
  }

  async read(userIds: readonly string[], atMs: number, _context: DecisionContext): Promise<FeatureMatrix> {
    const src = this.#m;
    const total = src.entityIds.length;
    const rows = userIds.length;
    const cols = src.columns.length;
    const views = src.views.length;
    const values = new Float32Array(rows * cols).fill(Number.NaN);
    const status = new Uint8Array(rows * views).fill(FeatureStatusCode.missing);
    const ageMs = new Float64Array(rows * views).fill(-1);
    const since = Math.max(0, atMs - this.atMs);
    for (let r = 0; r < rows; r++) {
      const from = this.#rowOf.get(userIds[r] as string);
      if (from === undefined) continue;
      for (let c = 0; c < cols; c++) values[c * rows + r] = src.values[c * total + from] as number;
      for (let v = 0; v < views; v++) {
        status[v * rows + r] = src.status[v * total + from] as number;
        const age = src.ageMs[v * total + from] as number;
        ageMs[v * rows + r] = age < 0 ? -1 : age + since;
      }
    }
    return { entityIds: userIds, columns: src.columns, views: src.views, values, status, ageMs };
  }
}
