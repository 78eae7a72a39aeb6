import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InvalidInputError, NotFoundError } from '../core/index.js';
import type { ScenarioEvent, ScenarioName } from './scenarios.js';
import { type ColumnType, TABLE_NAMES, type TableName, type TableRole, WORLD_FORMAT } from './schema.js';

export const MANIFEST_FILE = 'manifest.json';

export type WorldKind = 'simulated' | 'hillstrom' | 'online-retail';

/** A truncated log-normal delay: `exp(N(ln(medianMs), sigma))`, redrawn above `maxMs`. */
export interface LogNormalDelay {
  readonly kind: 'lognormal';
  readonly medianMs: number;
  readonly sigma: number;
  readonly maxMs: number;
}

/** A mixture of exponentials (lateness of events: most arrive within seconds, a few after hours). */
export interface ExponentialMixture {
  readonly kind: 'exponential-mixture';
  readonly components: readonly { readonly share: number; readonly meanMs: number }[];
}

export interface WorldDistributions {
  /** arrival_ts - event_ts for events outside an outage. */
  readonly lateness: ExponentialMixture;
  /** open outcome_ts - send_ts. */
  readonly openDelay: LogNormalDelay;
  /** click outcome_ts - open outcome_ts. */
  readonly clickDelay: LogNormalDelay;
  /** convert outcome_ts - click outcome_ts, for sends before the label-delay change. */
  readonly conversionDelay: LogNormalDelay;
  /** the same for sends from the label-delay change on (equals conversionDelay without that scenario). */
  readonly conversionDelayAfterChange: LogNormalDelay;
  /** Share of events carrying an injected defect (see EVENT_DEFECTS), spread evenly over the defect kinds. */
  readonly defectShare: number;
}

export interface ManifestColumn {
  readonly name: string;
  readonly type: ColumnType;
}

export interface ManifestTable {
  readonly role: TableRole;
  /** Paths relative to the world directory, in row order (batch: one per day, in day order). */
  readonly files: readonly string[];
  readonly rows: number;
  readonly columns: readonly ManifestColumn[];
}

export interface SimulationParams {
  readonly users: number;
  readonly days: number;
  readonly seed: number;
  readonly scenarios: readonly ScenarioName[];
  readonly features: number;
  readonly startTs: number;
  readonly driftDay: number;
  readonly campaignsPerDay: number;
  readonly defectShare: number;
}

export interface WorldManifest {
  readonly format: typeof WORLD_FORMAT;
  readonly schemaVersion: number;
  readonly kind: WorldKind;
  readonly generatorVersion: string;
  /** Simulation parameters (simulated worlds) or import parameters (source file name, sizes). */
  readonly params: Readonly<Record<string, unknown>>;
  readonly startTs: number;
  /** Exclusive end of the observed window. Outcomes may lie after it (they are in the future at endTs). */
  readonly endTs: number;
  /** Snapshot dates (YYYY-MM-DD), one per batch file. */
  readonly dates: readonly string[];
  readonly timeline: readonly ScenarioEvent[];
  readonly tables: Partial<Record<TableName, ManifestTable>>;
  readonly vocabularies: Readonly<Record<string, readonly string[]>>;
  readonly distributions: WorldDistributions | null;
  /** Free-form figures worth knowing (defect counts, dropped rows, ...). */
  readonly stats: Readonly<Record<string, number>>;
}

const manifestSchema = z.looseObject({
  format: z.literal(WORLD_FORMAT),
  schemaVersion: z.number().int(),
  kind: z.enum(['simulated', 'hillstrom', 'online-retail']),
  startTs: z.number(),
  endTs: z.number(),
  dates: z.array(z.string()),
  tables: z.record(
    z.string(),
    z.looseObject({ role: z.string(), files: z.array(z.string()), rows: z.number(), columns: z.array(z.unknown()) }),
  ),
});

export function writeManifest(dir: string, manifest: WorldManifest): void {
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Reads and checks `DIR/manifest.json`. */
export function readManifest(dir: string): WorldManifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path))
    throw new NotFoundError(`no world at ${dir}: expected ${path} (run \`adnova world generate\`)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InvalidInputError(`${path} is not valid JSON`, { cause: err });
  }
  const checked = manifestSchema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new InvalidInputError(
      `${path} is not an ${WORLD_FORMAT} manifest: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  for (const name of Object.keys(checked.data.tables)) {
    if (!(TABLE_NAMES as readonly string[]).includes(name)) {
      throw new InvalidInputError(`${path}: unknown table "${name}"; expected one of ${TABLE_NAMES.join(', ')}`);
    }
  }
  return parsed as WorldManifest;
}

/** Absolute paths of a table's files, in row order; throws when the world has no such table. */
export function tableFiles(dir: string, manifest: WorldManifest, table: TableName): string[] {
  const t = manifest.tables[table];
  if (t === undefined) {
    throw new NotFoundError(
      `world at ${dir} (${manifest.kind}) has no table "${table}"; it has ${Object.keys(manifest.tables).join(', ')}`,
    );
  }
  return t.files.map((f) => join(dir, f));
}
