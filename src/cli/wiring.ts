import type { AudienceService } from '../audience/index.js';
import type { MetricsRegistry } from '../core/index.js';
import { NotFoundError } from '../core/index.js';
import type { Deployment, DeploymentLayout } from '../decision/index.js';
import type { DeletionService, StoreEraser, TombstoneLedger } from '../privacy/index.js';
import type { AudienceApi, AudienceBuildStatus, DeletionRequests, ServingServices } from '../serving/index.js';

/*
 * The composition root: where audiences, serving and privacy meet, each through the other's ports, so none of the
 * three modules imports another.
 */

const orNull = async <T>(f: () => Promise<T>): Promise<T | null> => {
  try {
    return await f();
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
};

/** Serving's audience port over the audience service: builds run in the background, one at a time per campaign. */
export function audienceApiOf(service: AudienceService): AudienceApi & { idle(): Promise<void> } {
  const jobs = new Map<string, { status: AudienceBuildStatus; done: Promise<void> }>();
  const doneOf = async (campaignId: string): Promise<AudienceBuildStatus | null> => {
    const current = await service.store.current(campaignId);
    return current ? { campaignId, state: 'done', version: current.version, members: current.members } : null;
  };
  return {
    async build(campaignId, requestedBy) {
      const running = jobs.get(campaignId);
      if (running && (running.status.state === 'queued' || running.status.state === 'running')) return running.status;
      // a campaign that cannot be built (unknown, paused, no model) fails here, not in the background
      await service.deployment.campaigns.getOrThrow(campaignId);
      const job = { status: { campaignId, state: 'running', version: null, requestedBy } as AudienceBuildStatus };
      const done = service.build(campaignId).then(
        (r) => {
          job.status = {
            campaignId,
            state: 'done',
            version: r.summary.version,
            members: r.summary.members,
            requestedBy,
          };
        },
        (err: unknown) => {
          job.status = { campaignId, state: 'failed', version: null, error: (err as Error).message, requestedBy };
        },
      );
      jobs.set(campaignId, {
        get status() {
          return job.status;
        },
        done,
      });
      return job.status;
    },
    async status(campaignId) {
      return jobs.get(campaignId)?.status ?? (await doneOf(campaignId));
    },
    members: (campaignId, o) =>
      orNull(async () => {
        const page = await service.store.members(campaignId, o.version, { offset: o.offset, limit: o.limit });
        return { version: page.version, total: page.total, userIds: page.members.map((m) => m.userId) };
      }),
    export: async (campaignId, o) => {
      const v = await service.store.get(campaignId, o.version);
      const out = `${service.deployment.layout.audiences}/exports/${campaignId}-v${v.summary.version}.${o.format}`;
      return { ...(await service.export(campaignId, { out, format: o.format, version: v.summary.version })) };
    },
    diff: (campaignId, from, to) => orNull(async () => ({ ...(await service.diff(campaignId, from, to)) })),
    stages: (campaignId, version) => orNull(async () => (await service.store.get(campaignId, version)).summary.stages),
    idle: async () => {
      await Promise.all([...jobs.values()].map((j) => j.done));
    },
  };
}

/** Serving's deletion port over the privacy service. */
export function deletionRequestsOf(service: DeletionService): DeletionRequests {
  return {
    submit: async (userIds, requestedBy) => {
      const r = await service.submit(userIds, requestedBy);
      return { id: r.id, status: r.status, repeated: r.repeated };
    },
    status: async (id) => {
      const r = service.status(id);
      return r ? { ...r, userCount: r.users } : null;
    },
  };
}

/** The user data audiences and the request log hold, as erasers for the privacy service. */
export async function otherModuleErasers(
  layout: DeploymentLayout,
  clock?: Deployment['clock'],
): Promise<StoreEraser[]> {
  const [{ FileAudienceStore }, { RequestLog }, { userStoreEraser }] = await Promise.all([
    import('../audience/index.js'),
    import('../serving/index.js'),
    import('../privacy/index.js'),
  ]);
  const audiences = new FileAudienceStore(layout.audiences, clock ? { clock } : {});
  const requests = new RequestLog({ dir: layout.requestLog, flushIntervalMs: 0 });
  return [userStoreEraser('audiences', audiences), userStoreEraser('requestLog', requests)];
}

/**
 * The services `adnova serve` runs beside the API on the process's deployment: audience builds, and deletions
 * applied in batches on a schedule (every `applyEveryMs`, what is due) against every store, the audiences' and the
 * request log's included. With several serving processes one applies (`applyDeletions`), every one accepts requests.
 */
export async function servingServices(
  ctx: { deployment: Deployment; metrics: MetricsRegistry },
  ledger: TombstoneLedger,
  options: { applyEveryMs?: number; applyDeletions?: boolean; batchIntervalMs?: number } = {},
): Promise<ServingServices> {
  const [{ AudienceService }, { DeletionService, deploymentErasers }] = await Promise.all([
    import('../audience/index.js'),
    import('../privacy/index.js'),
  ]);
  const d = ctx.deployment;
  const audiences = audienceApiOf(new AudienceService({ deployment: d, metrics: ctx.metrics }));
  const deletions = new DeletionService({
    dir: d.layout.privacy,
    ledger,
    erasers: deploymentErasers(d, { extraErasers: await otherModuleErasers(d.layout, d.clock) }),
    models: d.models,
    clock: d.clock,
    metrics: ctx.metrics,
    ...(options.batchIntervalMs !== undefined ? { batchIntervalMs: options.batchIntervalMs } : {}),
  });
  let applying: Promise<unknown> = Promise.resolve();
  const timer =
    options.applyDeletions === false
      ? undefined
      : setInterval(() => {
          applying = applying.then(() => deletions.applyDue()).catch(() => {});
        }, options.applyEveryMs ?? 60_000);
  timer?.unref();
  return {
    audiences,
    deletions: deletionRequestsOf(deletions),
    close: async () => {
      clearInterval(timer);
      await audiences.idle();
      await applying;
      await ledger.close();
    },
  };
}
