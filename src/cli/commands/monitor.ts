import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError, Rng } from '../../core/index.js';
import { loadArtifact } from '../../model/index.js';
import {
  compareTables,
  computeSkew,
  type DatasetDriftResult,
  type DatasetProfile,
  detectDrift,
  driftAgainstModel,
  driftFromFiles,
  driftReportJson,
  estimatePerformance,
  openTable,
  type PerformanceEstimate,
  parseProfile,
  profileFile,
  readTable,
  renderDriftHtml,
  type SkewResult,
  serializeProfile,
} from '../../monitor/index.js';
import { readManifest, tableFiles } from '../../world/index.js';
import type { DemoStage } from '../demo.js';
import { type CliIo, printJson } from '../io.js';
import { addTableOptions, type TableCliOptions, tableReadOptions } from './table-options.js';

interface DriftCliOptions extends TableCliOptions {
  reference?: string;
  referenceProfile?: string;
  current: string;
  model?: string;
  importance?: string;
  categorical?: string;
  learnThresholds?: boolean;
  chunkRows?: string;
  chunkCol?: string;
  driftShare?: string;
  multivariate?: boolean;
  json?: boolean;
  out?: string;
  html?: string;
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidInputError(`${flag} expects a positive integer, got "${value}"`);
  return n;
}

function shareOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidInputError(`${flag} expects a number in [0, 1], got "${value}"`);
  return n;
}

function readJsonFile(path: string, what: string): unknown {
  if (!existsSync(path)) throw new InvalidInputError(`${what}: ${path} does not exist`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InvalidInputError(`${what}: ${path} is not valid JSON`, { cause: err });
  }
}

/**
 * Feature importance as { feature: weight }: from --importance FILE, or the model artifact in --model DIR (its split
 * gain per feature; DIR/importance.json when the directory holds no artifact).
 */
function loadImportance(opts: DriftCliOptions): Record<string, number> | undefined {
  if (!opts.importance && opts.model && existsSync(join(opts.model, 'model.json'))) {
    const artifact = loadArtifact(opts.model);
    return Object.fromEntries(artifact.header.importance.map((e) => [e.feature, Math.max(0, e.gain)]));
  }
  const path = opts.importance ?? (opts.model ? join(opts.model, 'importance.json') : undefined);
  if (!path) return undefined;
  const raw = readJsonFile(path, 'feature importance');
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidInputError(`feature importance: expected a JSON object { "feature": weight }, got ${typeof raw}`);
  }
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new InvalidInputError(
        `feature importance: weight of "${k}" must be a non-negative number, got ${JSON.stringify(v)}`,
      );
    }
    out[k] = v;
  }
  return out;
}

function formatDrift(r: DatasetDriftResult, top = 20): string {
  const lines = [
    `rows: reference ${r.rowsReference}, current ${r.rowsCurrent}`,
    `drifted share ${r.driftedShare.toFixed(3)}, weighted ${r.weightedDriftedShare.toFixed(3)}: dataset ${r.drifted ? 'DRIFTED' : 'not drifted'}; data-quality alarms ${r.qualityAlarms}`,
    `${'feature'.padEnd(28)} ${'kind'.padEnd(11)} ${'method'.padEnd(13)} ${'score'.padStart(10)} ${'threshold'.padStart(10)}  verdict`,
  ];
  for (const f of r.features.slice(0, top)) {
    const s = f.score === null ? '' : f.score.toPrecision(4);
    const t = f.threshold === null ? '' : f.threshold.toPrecision(4);
    lines.push(
      `${f.comparison.name.padEnd(28)} ${f.comparison.kind.padEnd(11)} ${f.method.padEnd(13)} ${s.padStart(10)} ${t.padStart(10)}  ${f.drifted ? 'DRIFT' : f.alarm ? 'QUALITY' : 'ok'}`,
    );
    for (const issue of f.quality.issues) lines.push(`${''.padEnd(30)}data quality: ${issue}`);
  }
  if (r.features.length > top) lines.push(`... ${r.features.length - top} more (use --json or --html for all)`);
  return lines.join('\n');
}

/** `monitor drift --model DIR --current FILE`: against the model's training profile, on the model's bins. */
async function driftAgainstModelCommand(opts: DriftCliOptions, io: CliIo): Promise<void> {
  for (const [flag, set] of [
    ['--learn-thresholds', opts.learnThresholds],
    ['--chunk-rows', opts.chunkRows],
    ['--chunk-col', opts.chunkCol],
    ['--multivariate', opts.multivariate],
    ['--importance', opts.importance],
    ['--categorical', opts.categorical],
  ] as const) {
    if (set)
      throw new InvalidInputError(
        `${flag} does not apply against --model DIR alone (the model fixes the columns, their kinds and their weights); give --reference FILE or --reference-profile FILE with it`,
      );
  }
  const driftShare = shareOption(opts.driftShare, '--drift-share');
  const run = await driftAgainstModel({
    model: opts.model as string,
    current: opts.current,
    ...(opts.sep !== undefined ? { sep: opts.sep } : {}),
    parse: { ...tableReadOptions(opts), onNote: (n: string) => io.err(n) },
    ...(driftShare !== undefined ? { drift: { datasetDriftShare: driftShare } } : {}),
  });
  const base = driftReportJson(run.result);
  const prediction = driftReportJson({ ...run.result, features: [run.prediction] }).features[0];
  const report = {
    ...base,
    // features keep the model's kind; their statistics are the binned ones (on the model's training bins)
    features: base.features.map((f) => ({ ...f, kind: run.kinds[f.name] ?? f.kind, binned: true })),
    prediction: { ...prediction, kind: 'numeric', binned: true },
  };
  if (opts.out) writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  if (opts.html) writeFileSync(opts.html, renderDriftHtml(run.result, `adnova drift report against ${opts.model}`));
  if (opts.json) printJson(io, report);
  else {
    io.out(`against the training profile of ${opts.model} (features on the model's bins)`);
    io.out(formatDrift(run.result));
    const p = run.prediction;
    io.out(
      `prediction drift (model scores): ${p.method} ${p.score === null ? '' : p.score.toPrecision(4)} threshold ${p.threshold === null ? '' : p.threshold.toPrecision(4)}  ${p.drifted ? 'DRIFT' : 'ok'}`,
    );
  }
}

function formatEstimate(e: PerformanceEstimate): string {
  const row = (name: string, m: PerformanceEstimate['rocAuc']): string =>
    `${name.padEnd(10)} estimated ${m.estimated.toFixed(4)} +- ${(3 * m.standardError).toFixed(4)} (3 SE)` +
    (m.realized === undefined ? '' : `  realized ${m.realized.toFixed(4)}${m.alert ? '  OUTSIDE BAND' : ''}`);
  return [
    `rows ${e.rows}${e.labeledRows === undefined ? '' : `, matured labels ${e.labeledRows}`}, threshold ${e.threshold}`,
    row('roc_auc', e.rocAuc),
    row('precision', e.precision),
    row('recall', e.recall),
    row('pos_rate', e.positiveRate),
    ...(e.conceptDrift === undefined
      ? []
      : [`concept drift: ${e.conceptDrift ? 'YES (realized AUC outside the band)' : 'no'}`]),
  ].join('\n');
}

function estimateJson(e: PerformanceEstimate): Record<string, unknown> {
  const m = (x: PerformanceEstimate['rocAuc']) => ({
    estimated: x.estimated,
    standard_error: x.standardError,
    lower: x.lower,
    upper: x.upper,
    ...(x.realized === undefined ? {} : { realized: x.realized, alert: x.alert }),
  });
  return {
    rows: e.rows,
    ...(e.labeledRows === undefined ? {} : { labeled_rows: e.labeledRows }),
    threshold: e.threshold,
    roc_auc: m(e.rocAuc),
    precision: m(e.precision),
    recall: m(e.recall),
    positive_rate: m(e.positiveRate),
    ...(e.conceptDrift === undefined ? {} : { concept_drift: e.conceptDrift }),
  };
}

function skewJson(s: SkewResult): Record<string, unknown> {
  return {
    key: s.key,
    rows_left: s.rowsLeft,
    rows_right: s.rowsRight,
    joined: s.joined,
    only_left: s.onlyLeft,
    only_right: s.onlyRight,
    duplicate_keys_right: s.duplicateKeysRight,
    features: s.features.map((f) => ({
      name: f.name,
      kind: f.kind,
      compared: f.compared,
      mismatches: f.mismatches,
      mismatch_rate: f.mismatchRate,
      distance: f.distance,
      psi: f.comparison.stats.psi,
    })),
  };
}

function numericColumnOf(table: Awaited<ReturnType<typeof readTable>>, name: string, flag: string): Float64Array {
  const c = table.columns.find((x) => x.name === name);
  if (!c) {
    throw new InvalidInputError(
      `${flag} "${name}" is not a column; columns are ${table.columns.map((x) => x.name).join(', ')}`,
    );
  }
  if (c.kind !== 'numeric')
    throw new InvalidInputError(`${flag} "${name}" must be numeric, but the file has text in it`);
  return c.values as Float64Array;
}

/** Registers `adnova monitor ...`. */
export function registerMonitorCommands(program: Command, io: CliIo): void {
  const monitor = program.command('monitor').description('drift, skew and performance estimation');

  const drift = monitor
    .command('drift')
    .description('compare a current file with a reference file or stored reference profile')
    .option('--reference <file>', 'reference CSV or Parquet file')
    .option('--reference-profile <file>', 'stored reference profile (from `monitor profile`)')
    .requiredOption('--current <file>', 'current CSV or Parquet file')
    .option(
      '--model <dir>',
      'model artifact directory: its split gain weights the dataset verdict; without --reference, its training profile is the reference',
    )
    .option('--importance <file>', 'JSON { feature: weight } for the weighted drifted share');
  addTableOptions(drift)
    .option('--categorical <cols>', 'comma-separated columns to treat as categorical')
    .option(
      '--learn-thresholds',
      'learn per-feature thresholds from reference chunks (mean + 3 std, widened for few chunks)',
    )
    .option('--chunk-rows <n>', 'rows per reference chunk when learning thresholds (default: current rows)')
    .option(
      '--chunk-col <col>',
      'learn thresholds with one reference chunk per value of this column (e.g. a date); the column is not compared',
    )
    .option('--drift-share <x>', 'dataset drifts at this (weighted) share of drifted features (default 0.5)')
    .option('--multivariate', 'also train a domain classifier (GBDT) to tell reference from current rows')
    .option('--json', 'print the JSON report')
    .option('--out <file>', 'write the JSON report to a file')
    .option('--html <file>', 'write the self-contained HTML report')
    .action(async (opts: DriftCliOptions) => {
      if (opts.reference && opts.referenceProfile) {
        throw new InvalidInputError(
          'monitor drift takes one of --reference FILE or --reference-profile FILE, not both',
        );
      }
      if (!opts.reference && !opts.referenceProfile) {
        if (!opts.model)
          throw new InvalidInputError(
            'monitor drift needs a reference: --reference FILE, --reference-profile FILE, or --model DIR (its training profile)',
          );
        await driftAgainstModelCommand(opts, io);
        return;
      }
      const referenceProfile: DatasetProfile | undefined = opts.referenceProfile
        ? parseProfile(
            existsSync(opts.referenceProfile)
              ? readFileSync(opts.referenceProfile, 'utf8')
              : (() => {
                  throw new InvalidInputError(`--reference-profile: ${opts.referenceProfile} does not exist`);
                })(),
            opts.referenceProfile,
          )
        : undefined;
      const importance = loadImportance(opts);
      const driftShare = shareOption(opts.driftShare, '--drift-share');
      const chunkRows = positiveInt(opts.chunkRows, '--chunk-rows');
      if (opts.chunkCol && chunkRows) throw new InvalidInputError('give --chunk-rows or --chunk-col, not both');
      if (opts.chunkCol && !opts.learnThresholds) throw new InvalidInputError('--chunk-col needs --learn-thresholds');
      const run = await driftFromFiles({
        ...(opts.reference ? { reference: opts.reference } : {}),
        ...(referenceProfile ? { referenceProfile } : {}),
        current: opts.current,
        ...tableReadOptions(opts),
        onNote: (n: string) => io.err(n),
        ...(opts.categorical ? { categorical: opts.categorical.split(',').map((s) => s.trim()) } : {}),
        ...(opts.learnThresholds ? { learnThresholds: true } : {}),
        ...(chunkRows ? { chunkRows } : {}),
        ...(opts.chunkCol ? { chunkColumn: opts.chunkCol } : {}),
        ...(opts.multivariate ? { domainClassifier: true } : {}),
        drift: {
          ...(importance ? { importance } : {}),
          ...(driftShare !== undefined ? { datasetDriftShare: driftShare } : {}),
        },
      });
      const mv = run.multivariate;
      const report = {
        ...driftReportJson(run.result),
        ...(mv
          ? {
              multivariate: {
                method: 'domain_classifier',
                auc: mv.auc,
                threshold: mv.threshold,
                drifted: mv.drifted,
                features: mv.features.map((f) => ({ name: f.name, gain_share: f.gainShare })),
              },
            }
          : {}),
      };
      if (opts.out) writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
      if (opts.html) writeFileSync(opts.html, renderDriftHtml(run.result));
      if (opts.json) printJson(io, report);
      else {
        io.out(formatDrift(run.result));
        if (mv) {
          const used = mv.features
            .slice(0, 5)
            .map((f) => `${f.name} ${(f.gainShare * 100).toFixed(0)}%`)
            .join(', ');
          io.out(
            `domain classifier AUC ${mv.auc.toFixed(3)} (threshold ${mv.threshold}): ${mv.drifted ? 'DRIFT' : 'ok'}; used ${used}`,
          );
        }
      }
    });

  const estimate = monitor
    .command('estimate')
    .description('CBPE: estimate ROC AUC, precision and recall from calibrated scores (+ realized when labels exist)')
    .requiredOption('--data <file>', 'CSV or Parquet file with a score column')
    .requiredOption('--score-col <col>', 'calibrated score column (probability of the positive class)')
    .option('--label-col <col>', 'label column (1/0; empty while not matured)')
    .option('--threshold <t>', 'decision threshold for precision and recall', '0.5');
  addTableOptions(estimate)
    .option('--json', 'machine-readable output')
    .action(
      async (
        opts: TableCliOptions & {
          data: string;
          scoreCol: string;
          labelCol?: string;
          threshold: string;
          json?: boolean;
        },
      ) => {
        const threshold = shareOption(opts.threshold, '--threshold') as number;
        const table = await readTable(opts.data, { ...tableReadOptions(opts), onNote: (n) => io.err(n) });
        const scores = numericColumnOf(table, opts.scoreCol, '--score-col');
        const labels = opts.labelCol ? numericColumnOf(table, opts.labelCol, '--label-col') : undefined;
        const e = estimatePerformance(scores, labels, { threshold });
        if (opts.json) printJson(io, estimateJson(e));
        else io.out(formatEstimate(e));
      },
    );

  const skew = monitor
    .command('skew')
    .description('training-serving skew: join served and recomputed feature rows on a key')
    .requiredOption('--left <file>', 'served feature vectors (CSV or Parquet)')
    .requiredOption('--right <file>', 'recomputed offline feature vectors (CSV or Parquet)')
    .requiredOption('--key <col>', 'join key column');
  addTableOptions(skew)
    .option('--json', 'machine-readable output')
    .action(async (opts: TableCliOptions & { left: string; right: string; key: string; json?: boolean }) => {
      const readOpts = { ...tableReadOptions(opts), categorical: [opts.key], onNote: (n: string) => io.err(n) };
      const left = await readTable(opts.left, readOpts);
      const right = await readTable(opts.right, readOpts);
      const s = computeSkew(left, right, opts.key);
      if (opts.json) {
        printJson(io, skewJson(s));
        return;
      }
      const lines = [
        `joined ${s.joined} rows on "${s.key}" (only left ${s.onlyLeft}, only right ${s.onlyRight}, duplicate right keys ${s.duplicateKeysRight})`,
        `${'feature'.padEnd(28)} ${'mismatch'.padStart(9)} ${'distance'.padStart(9)}`,
        ...s.features.map(
          (f) =>
            `${f.name.padEnd(28)} ${(f.mismatchRate * 100).toFixed(2).padStart(8)}% ${f.distance === null ? ''.padStart(9) : f.distance.toFixed(4).padStart(9)}`,
        ),
      ];
      io.out(lines.join('\n'));
    });

  const profile = monitor
    .command('profile')
    .description('compute and store a reference profile (mergeable summaries per feature)')
    .requiredOption('--data <file>', 'CSV or Parquet file')
    .requiredOption('--out <file>', 'where to write the profile (JSON)');
  addTableOptions(profile)
    .option('--categorical <cols>', 'comma-separated columns to treat as categorical')
    .option('--learn-thresholds', 'also learn per-feature thresholds from chunks of the data')
    .option('--chunk-rows <n>', 'rows per chunk for --learn-thresholds (match your monitoring window)')
    .option('--chunk-col <col>', 'or one chunk per value of this column (e.g. a date); the column is not profiled')
    .option('--json', 'machine-readable summary')
    .action(
      async (
        opts: TableCliOptions & {
          data: string;
          out: string;
          categorical?: string;
          learnThresholds?: boolean;
          chunkRows?: string;
          chunkCol?: string;
          json?: boolean;
        },
      ) => {
        const chunkRows = positiveInt(opts.chunkRows, '--chunk-rows');
        if (opts.chunkCol && chunkRows) throw new InvalidInputError('give --chunk-rows or --chunk-col, not both');
        if (opts.chunkCol && !opts.learnThresholds) throw new InvalidInputError('--chunk-col needs --learn-thresholds');
        if (opts.learnThresholds && !chunkRows && !opts.chunkCol)
          throw new InvalidInputError('--learn-thresholds needs --chunk-rows N or --chunk-col COL');
        const profile = await profileFile(opts.data, {
          ...tableReadOptions(opts),
          onNote: (n: string) => io.err(n),
          ...(opts.categorical ? { categorical: opts.categorical.split(',').map((s) => s.trim()) } : {}),
          ...(opts.learnThresholds && chunkRows ? { learnChunkRows: chunkRows } : {}),
          ...(opts.learnThresholds && opts.chunkCol ? { learnChunkColumn: opts.chunkCol } : {}),
        });
        const text = serializeProfile(profile);
        writeFileSync(opts.out, text);
        const summary = {
          out: opts.out,
          rows: profile.rows,
          features: profile.features.length,
          bytes: Buffer.byteLength(text),
          learned_thresholds: profile.thresholds ? Object.keys(profile.thresholds).length : 0,
        };
        if (opts.json) printJson(io, summary);
        else io.out(`wrote ${summary.out}: ${summary.rows} rows, ${summary.features} features, ${summary.bytes} bytes`);
      },
    );
}

/** The monitor stage of `adnova demo`: a reference and a drifted window, profiled and compared (no services). */
/** Columns of a batch snapshot that identify or date a row; they move every day by construction. */
const SNAPSHOT_KEY_COLUMNS = new Set(['user_id', 'snapshot_date', 'event_ts', 'created_ts']);

/**
 * Drift of the World's own warehouse snapshots: the day before the scenario's drift day (reference) against the
 * last day (current), features only. With `unit-change` the moved column should lead the list.
 */
async function worldSnapshotDrift(worldDir: string, workDir: string): Promise<Record<string, unknown>> {
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
    writeFileSync(join(workDir, 'monitor-drift.html'), renderDriftHtml(result));
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

export const monitorDemoStage: DemoStage = {
  name: 'monitor',
  description: 'profile serving windows and detect drift',
  run: async ({ workDir, state }) => {
    if (state.worldDir) return worldSnapshotDrift(state.worldDir, workDir);
    const rng = new Rng(7);
    const rows = 3000;
    const write = (path: string, shift: number): void => {
      const lines = ['age,spend,channel,score'];
      for (let i = 0; i < rows; i++) {
        const channel = rng.next() < 0.6 - shift * 0.2 ? 'email' : rng.next() < 0.5 ? 'push' : 'in_app';
        lines.push(
          `${Math.round(35 + 10 * rng.normal())},${(Math.exp(rng.normal()) * (1 + shift * 99)).toFixed(2)},${channel},${Math.min(1, Math.max(0, 0.3 + 0.1 * rng.normal())).toFixed(4)}`,
        );
      }
      writeFileSync(path, `${lines.join('\n')}\n`);
    };
    const ref = join(workDir, 'monitor-reference.csv');
    const cur = join(workDir, 'monitor-current.csv');
    write(ref, 0);
    write(cur, 1); // spend switched units (x100) and the channel mix moved
    const profilePath = join(workDir, 'monitor-reference-profile.json');
    writeFileSync(profilePath, serializeProfile(await profileFile(ref)));
    const run = await driftFromFiles({
      referenceProfile: parseProfile(readFileSync(profilePath, 'utf8')),
      current: cur,
    });
    writeFileSync(join(workDir, 'monitor-drift.html'), renderDriftHtml(run.result));
    return {
      features: run.result.features.length,
      drifted: run.result.features.filter((f) => f.drifted).map((f) => f.comparison.name),
      datasetDrifted: run.result.drifted,
    };
  },
};
