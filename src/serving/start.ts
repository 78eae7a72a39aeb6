import type { FastifyInstance } from 'fastify';
import { type AdnovaConfig, type Clock, MetricsRegistry, type TombstoneCheck } from '../core/index.js';
import { type Deployment, openDeployment, readDeploymentManifest } from '../decision/index.js';
import type { OnlineStore } from '../features/index.js';
import { FileKeyStore } from './keys.js';
import type { AudienceApi, DeletionRequests } from './ports.js';
import { RequestLog } from './request-log.js';
import { buildServer, type ServerOptions } from './server.js';

export interface StartServingOptions {
  readonly dir: string;
  readonly config?: AdnovaConfig;
  readonly online?: OnlineStore;
  /**
   * The decision time: the system clock by default; `deployment` runs from the deployment's as-of time at real
   * speed (a demo or a replay of an old deployment, whose features would all be past their TTL today).
   */
  readonly clock?: Clock | 'deployment';
  readonly host?: string;
  /** 0: a free port. */
  readonly port?: number;
  readonly logger?: ServerOptions['logger'];
  readonly decisionDeadlineMs?: number;
  /** Share of decisions written to the request log (default 1); 0 turns the log off. */
  readonly sampleRate?: number;
  readonly rateLimit?: ServerOptions['rateLimit'];
  readonly audiences?: AudienceApi;
  readonly deletions?: DeletionRequests;
  /** Deleted users, consulted by every write of the deployment this process opens (the privacy ledger). */
  readonly tombstones?: TombstoneCheck;
  /**
   * The other modules' services over the deployment this process opened (audiences, deletions): the composition
   * root builds them here so they share the process's one deployment; `close` runs at shutdown.
   */
  readonly services?: (ctx: {
    readonly deployment: Deployment;
    readonly metrics: MetricsRegistry;
    readonly requestLog: RequestLog | null;
  }) => Promise<ServingServices>;
}

export interface ServingServices {
  readonly audiences?: AudienceApi;
  readonly deletions?: DeletionRequests;
  close?(): Promise<void>;
}

export interface RunningServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly deployment: Deployment;
  readonly keys: FileKeyStore;
  readonly requestLog: RequestLog | null;
  close(): Promise<void>;
}

/**
 * One serving process on a deployment directory: the deployment opened with the configured online store, its keys
 * and request log, the API listening once the batch snapshot is loaded and the models compiled.
 */
export async function startServing(o: StartServingOptions): Promise<RunningServer> {
  let clock: Clock | undefined;
  if (o.clock === 'deployment') {
    const { asOfMs } = readDeploymentManifest(o.dir);
    const started = Date.now();
    clock = { now: () => asOfMs + (Date.now() - started) };
  } else clock = o.clock;
  const deployment = await openDeployment({
    dir: o.dir,
    ...(o.config ? { config: o.config } : {}),
    ...(o.online ? { online: o.online } : {}),
    ...(clock ? { clock } : {}),
    ...(o.tombstones ? { tombstones: o.tombstones } : {}),
  });
  const metrics = new MetricsRegistry({ defaultMetrics: true });
  const keys = new FileKeyStore(deployment.layout.keys);
  const sampleRate = o.sampleRate ?? 1;
  const requestLog = sampleRate > 0 ? new RequestLog({ dir: deployment.layout.requestLog, sampleRate, metrics }) : null;
  let app: FastifyInstance;
  let services: ServingServices = {};
  try {
    services = (await o.services?.({ deployment, metrics, requestLog })) ?? {};
    const audiences = o.audiences ?? services.audiences;
    const deletions = o.deletions ?? services.deletions;
    app = await buildServer({
      deployment,
      keys,
      metrics,
      ...(requestLog ? { requestLog } : {}),
      ...(o.logger !== undefined ? { logger: o.logger } : {}),
      ...(o.decisionDeadlineMs !== undefined ? { decisionDeadlineMs: o.decisionDeadlineMs } : {}),
      ...(o.rateLimit !== undefined ? { rateLimit: o.rateLimit } : {}),
      ...(audiences ? { audiences } : {}),
      ...(deletions ? { deletions } : {}),
    });
    await app.servingReady();
  } catch (err) {
    await services.close?.();
    await requestLog?.close();
    await deployment.close();
    throw err;
  }
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  let closed = false;
  return {
    url: address,
    app,
    deployment,
    keys,
    requestLog,
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
      await services.close?.();
      await requestLog?.close();
      await deployment.close();
    },
  };
}
