import type { AdnovaConfig, Logger } from '../../core/index.js';
import type { CliIo } from '../io.js';

/**
 * What stages hand to later stages (paths, names). Each stage reads what it needs and fails with a clear
 * message when an earlier stage did not provide it.
 */
export interface DemoState {
  /** A generated World dataset directory. */
  worldDir?: string;
  /** The feature store directory (offline + registry). */
  featureStoreDir?: string;
  /** A point-in-time training set file. */
  trainingSetPath?: string;
  /** A trained model artifact directory. */
  modelDir?: string;
  /** A deployment built from the World (audiences, serving and privacy open it). */
  deploymentDir?: string;
  [key: string]: unknown;
}

export interface DemoContext {
  readonly config: AdnovaConfig;
  readonly io: CliIo;
  readonly logger: Logger;
  /** A fresh directory for this run's files (under the store directory). */
  readonly workDir: string;
  readonly state: DemoState;
}

/** One step of the end-to-end loop. A stage that is not built yet names the issue that builds it. */
export interface DemoStage {
  readonly name: string;
  readonly description: string;
  readonly run?: (ctx: DemoContext) => Promise<Record<string, unknown>>;
  readonly notBuiltYet?: string;
}

export interface DemoStageResult {
  readonly stage: string;
  readonly status: 'ok' | 'not-built';
  readonly durationMs: number;
  readonly summary: Record<string, unknown>;
}
