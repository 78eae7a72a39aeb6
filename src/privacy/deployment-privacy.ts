import { basename, join } from 'node:path';
import type { AdnovaConfig, Clock, Logger, MetricsRegistry } from '../core/index.js';
import { type Deployment, deploymentLayout, openDeployment } from '../decision/index.js';
import type { OnlineStore } from '../features/index.js';
import { FileAggregatorStateStore } from '../stream/index.js';
import { DeletionService } from './deletion-service.js';
import {
  aggregatorStateEraser,
  capLedgerEraser,
  deadLetterEraser,
  offlineStoreEraser,
  onlineStoreEraser,
  type StoreEraser,
  segmentIndexEraser,
  streamFiles,
  trainingSetEraser,
} from './erasers.js';
import { openTombstoneLedger, type TombstoneLedger } from './tombstone-ledger.js';

export interface OpenDeploymentPrivacyOptions {
  readonly dir: string;
  readonly config?: AdnovaConfig;
  readonly online?: OnlineStore;
  readonly clock?: Clock;
  readonly metrics?: MetricsRegistry;
  readonly logger?: Logger;
  /** Stores of other modules (audiences, the request log), erased after the deployment's own. */
  readonly extraErasers?: readonly StoreEraser[];
  readonly batchUsers?: number;
  readonly batchIntervalMs?: number;
  /** Called after each offline file is rewritten (progress; a test's crash point). */
  readonly onOfflineFileRewritten?: (file: string) => void;
}

export interface DeploymentPrivacy {
  readonly deployment: Deployment;
  readonly ledger: TombstoneLedger;
  readonly service: DeletionService;
  close(): Promise<void>;
}

/** The stream job's saved state and letters, where `adnova stream run` keeps them for this feature store. */
function aggregatorStatesEraser(streamDir: string): StoreEraser {
  const each = () =>
    streamFiles(streamDir, '.state').map((f) => aggregatorStateEraser(basename(f), new FileAggregatorStateStore(f)));
  const sum = async (f: (e: StoreEraser) => Promise<number>) => {
    let n = 0;
    for (const e of each()) n += await f(e);
    return n;
  };
  return {
    name: 'aggregatorState',
    verifiedBy: 'every saved aggregator state file reloaded and looked up',
    erase: async (ids) => {
      let records = 0;
      const found = new Set<string>();
      for (const e of each()) {
        const r = await e.erase(ids);
        records += r.records;
        for (const u of r.found ?? []) found.add(u);
      }
      return { records, found: [...found] };
    },
    count: (ids) => sum((e) => e.count(ids)),
    scan: (isDeleted) => sum((e) => (e.scan as NonNullable<StoreEraser['scan']>)(isDeleted)),
  };
}

/** Every store of a deployment that holds user data, in erase order. */
export function deploymentErasers(
  d: Deployment,
  options: Pick<OpenDeploymentPrivacyOptions, 'extraErasers' | 'onOfflineFileRewritten'> = {},
): StoreEraser[] {
  const streamDir = join(d.layout.features, 'stream');
  const online = d.store.online as OnlineStore & { saveSnapshot?: () => void };
  return [
    offlineStoreEraser(d.store.offline, options.onOfflineFileRewritten),
    trainingSetEraser(d.store),
    onlineStoreEraser(online, () => online.saveSnapshot?.()),
    aggregatorStatesEraser(streamDir),
    deadLetterEraser(() => streamFiles(streamDir, '.ndjson')),
    segmentIndexEraser(d.index, () => d.index.save(d.layout.index)),
    capLedgerEraser(d.ledger, () => d.flush()),
    ...(options.extraErasers ?? []),
  ];
}

/**
 * A deployment opened with its tombstone ledger (`layout.privacy`) consulted by every writer, and the deletion
 * service over its stores. The ledger is opened first: nothing is written of a deleted user from the start.
 */
export async function openDeploymentPrivacy(options: OpenDeploymentPrivacyOptions): Promise<DeploymentPrivacy> {
  const layout = deploymentLayout(options.dir);
  const ledger = await openTombstoneLedger({ dir: layout.privacy });
  const deployment = await openDeployment({
    dir: options.dir,
    tombstones: ledger,
    ...(options.config ? { config: options.config } : {}),
    ...(options.online ? { online: options.online } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const service = new DeletionService({
    dir: layout.privacy,
    ledger,
    erasers: deploymentErasers(deployment, options),
    models: deployment.models,
    clock: deployment.clock,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.batchUsers !== undefined ? { batchUsers: options.batchUsers } : {}),
    ...(options.batchIntervalMs !== undefined ? { batchIntervalMs: options.batchIntervalMs } : {}),
  });
  return {
    deployment,
    ledger,
    service,
    close: async () => {
      await deployment.close();
      await ledger.close();
    },
  };
}
