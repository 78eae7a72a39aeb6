import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shardOf } from '../core/index.js';
import { type Campaign, decide, retrieve } from '../decision/index.js';
import type { AudienceCandidates, AudienceDeployment } from './audience.js';
import { decodeCandidates, encodeCandidates } from './codec.js';
import { AudienceJobError } from './errors.js';
import { candidatesOf, emptyCandidates, mergeCandidates } from './selection.js';

/** The name of the BullMQ queue (and of `adnova worker --queue`). */
export const AUDIENCE_QUEUE = 'audience';

/** One shard of a build: score the campaign's candidates whose user id hashes to `shard` of `shards`. */
export interface ShardTask {
  /** The deployment directory the worker opens. */
  readonly deploymentDir: string;
  readonly buildId: string;
  readonly campaignId: string;
  readonly atMs: number;
  readonly hourOfDay: number;
  readonly shard: number;
  readonly shards: number;
}

/**
 * Runs shard tasks somewhere and resolves once every one's result is stored (`shardResultPath`), or rejects with
 * `AudienceJobError` when a shard failed for good. The embedded runner runs them in process; the BullMQ one
 * hands them to `adnova worker --queue audience` processes.
 */
export interface ShardRunner {
  readonly name: string;
  run(tasks: readonly ShardTask[]): Promise<void>;
  close(): Promise<void>;
}

export function shardResultPath(audiencesDir: string, t: Pick<ShardTask, 'buildId' | 'shard' | 'shards'>): string {
  return join(audiencesDir, '.builds', t.buildId, `shard-${t.shard}-of-${t.shards}.cand`);
}

/**
 * The shard job, wherever it runs: retrieval on the bitmaps (cheap, the whole population), the candidates of this
 * shard scored by the restricted decision (no policy: the policy needs every shard), the result written by
 * atomic rename. Idempotent: a retry or a second worker on the same shard writes the same bytes.
 */
export async function runShardTask(deployment: AudienceDeployment, t: ShardTask): Promise<{ candidates: number }> {
  const c = await deployment.campaigns.getOrThrow(t.campaignId);
  const users = shardUsers(deployment, c, t);
  const cands = await scoreUsers(deployment, c, users, t.atMs, t.hourOfDay);
  const file = shardResultPath(deployment.layout.audiences, t);
  mkdirSync(join(file, '..'), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, encodeCandidates(cands.candidates, cands.models));
  renameSync(tmp, file);
  return { candidates: cands.candidates.userIds.length };
}

/** The campaign's retrieved candidates (control group removed, as `decide` does) in one shard. */
export function shardUsers(
  deployment: AudienceDeployment,
  c: Campaign,
  t: Pick<ShardTask, 'atMs' | 'shard' | 'shards'>,
) {
  const index = deployment.index;
  const share = deployment.manifest.controlShare;
  const r = retrieve(
    c,
    index,
    share > 0 ? { atMs: t.atMs, controlGroup: index.controlGroup(share) } : { atMs: t.atMs },
  );
  const all = index.users.usersOf(r.candidates.toUint32Array());
  return t.shards === 1 ? all : all.filter((u) => shardOf(u, t.shards) === t.shard);
}

/** These users' rows of the campaign (those retrieval keeps), scored by the restricted decision; no policy. */
export async function scoreUsers(
  deployment: AudienceDeployment,
  c: Campaign,
  userIds: readonly string[],
  atMs: number,
  hourOfDay: number,
): Promise<{ candidates: AudienceCandidates; models: string[] }> {
  if (userIds.length === 0) return { candidates: emptyCandidates(0), models: [] };
  const result = await decide([c], deployment.deps(), { atMs, context: { hourOfDay }, userIds, commit: false });
  const d = result.campaigns[0] as (typeof result.campaigns)[number];
  const users = deployment.index.users;
  return { candidates: candidatesOf(result, d, (u) => users.denseOf(u), 0), models: [d.model.id] };
}

/** Every shard's result merged (ascending dense ids), model indexes mapped onto one list. */
export function mergeShardResults(
  audiencesDir: string,
  tasks: readonly ShardTask[],
): { candidates: AudienceCandidates; models: string[] } {
  const models: string[] = [];
  const parts = tasks.map((t) => {
    const file = shardResultPath(audiencesDir, t);
    if (!existsSync(file)) throw new AudienceJobError(`shard ${t.shard} of build ${t.buildId} has no result (${file})`);
    const r = decodeCandidates(readFileSync(file), file);
    const map = r.models.map((m) => {
      let k = models.indexOf(m);
      if (k < 0) k = models.push(m) - 1;
      return k;
    });
    const mi = r.candidates.modelIndex;
    for (let i = 0; i < mi.length; i++) mi[i] = map[mi[i] as number] as number;
    return r.candidates;
  });
  return { candidates: mergeCandidates(parts), models };
}

export function removeBuild(audiencesDir: string, buildId: string): void {
  rmSync(join(audiencesDir, '.builds', buildId), { recursive: true, force: true });
}

/** Runs shard tasks one after another in this process, on an open deployment: the default, no Redis. */
export class EmbeddedShardRunner implements ShardRunner {
  readonly name = 'embedded';
  constructor(readonly deployment: AudienceDeployment) {}

  async run(tasks: readonly ShardTask[]): Promise<void> {
    for (const t of tasks) await runShardTask(this.deployment, t);
  }

  async close(): Promise<void> {}
}
