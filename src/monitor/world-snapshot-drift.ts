import { writeFileSync } from 'node:fs';
import { InvalidInputError } from '../core/index.js';
import { readManifest, tableFiles } from '../world/index.js';
import { detectDrift } from './drift-detector.js';
import { compareTables } from './drift-report.js';
import { renderDriftHtml } from './html-report.js';
import { openTable } from './table-reader.js';

export interface WorldSnapshotDrift {
  readonly source: string;
  readonly reference: string | undefined;
  readonly current: string | undefined;
  readonly scenarios: string;
  readonly features: number;
  /** The five most severe drifted features. */
  readonly drifted: readonly string[];
  readonly driftedCount: number;
  readonly datasetDrifted: boolean;
  readonly qualityAlarms: readonly string[];
  readonly [key: string]: unknown;
}

/** Columns of a batch snapshot that identify or date a row; they move every day by construction. */
const SNAPSHOT_KEY_COLUMNS = new Set(['user_id', 'snapshot_date', 'event_ts', 'created_ts']);

/**
 * Drift of the World's own warehouse snapshots: the day before the scenario's drift day (reference) against the
 * last day (current), features only, with the HTML report written to `htmlPath`. With `unit-change` the moved
 * column should lead the list (the demo's monitor stage).
 */
export async function worldSnapshotDrift(worldDir: string, htmlPath: string): Promise<WorldSnapshotDrift> {
  const manifest = readManifest(worldDir);
  const files = tableFiles(worldDir, manifest, 'batch');
  const driftDay = Number(manifest.params['driftDay'] ?? Math.floor(files.length / 2));
  const refIndex = Math.max(0, Math.min(files.length - 2, driftDay - 1));
  const [reference, current] = [files[refIndex], files[files.length - 1]];
  if (reference === undefined || current === undefined || reference === current) {
    throw new InvalidInputError(`world ${worldDir} needs at least two batch snapshots, found ${files.length}`);
  }
  const ref = await openTable(reference);
  const cur = await openTable(current);
  try {
    const names = ref.schema.map((c) => c.name).filter((n) => !SNAPSHOT_KEY_COLUMNS.has(n));
    const comparisons = compareTables(await ref.readColumns(names), await cur.readColumns(names));
    const result = detectDrift(comparisons, { reference: ref.rows, current: cur.rows });
    writeFileSync(htmlPath, renderDriftHtml(result));
    const drifted = result.features
      .filter((f) => f.drifted)
      .sort((a, b) => b.severity - a.severity)
      .map((f) => f.comparison.name);
    return {
      source: 'world batch snapshots',
      reference: manifest.dates[refIndex],
      current: manifest.dates[files.length - 1],
      scenarios: manifest.timeline.map((t) => `${t.scenario}@day${t.fromDay}`).join(','),
      features: names.length,
      drifted: drifted.slice(0, 5),
      driftedCount: drifted.length,
      datasetDrifted: result.drifted,
      qualityAlarms: result.features.filter((f) => f.quality.issues.length > 0).map((f) => f.comparison.name),
    };
  } finally {
    ref.close();
    cur.close();
  }
}
