import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
// registering the commands loads only import-free modules; each action imports the monitor code it runs
import { InvalidInputError } from '../../core/errors.js';
import type {
  DatasetDriftResult,
  DatasetProfile,
  FeatureDriftResult,
  LabelDriftReport,
  PerformanceEstimate,
  readColumnTable,
  SkewResult,
} from '../../monitor/index.js';
import { type CliIo, printJson } from '../io.js';
import { positiveInt, share } from '../options.js';
import { startProgress } from '../progress.js';
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
  exclude?: string;
  labelCol?: string;
  positive?: string;
  json?: boolean;
  out?: string;
  html?: string;
}

const listOption = (value: string | undefined): string[] =>
  value === undefined
    ? []
    : value
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');

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
async function loadImportance(opts: DriftCliOptions): Promise<Record<string, number> | undefined> {
  if (!opts.importance && opts.model && existsSync(join(opts.model, 'model.json'))) {
    const { loadArtifact } = await import('../../model/index.js');
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

const num = (x: number | null, digits = 4): string =>
  x === null || !Number.isFinite(x) ? '' : Math.abs(x) < 1e-3 && x !== 0 ? x.toExponential(1) : x.toPrecision(digits);

const verdictOf = (f: FeatureDriftResult): string => (f.drifted ? 'DRIFT' : f.alarm ? 'QUALITY' : 'ok');

const DRIFT_COLUMNS = [
  ['feature', 28],
  ['kind', 11],
  ['method', 21],
  ['score', 10],
  ['threshold', 10],
  ['p-value', 9],
  ['rank', 8],
] as const;

function driftRow(name: string, f: FeatureDriftResult): string {
  const method = `${f.method}${f.comparison.binned ? ' on bins' : ''}`;
  const cells = [
    name.padEnd(28),
    (f.comparison.binned?.featureKind ?? f.comparison.kind).padEnd(11), // featureKindOf, without loading monitor
    method.padEnd(21),
    num(f.score).padStart(10),
    num(f.threshold).padStart(10),
    num(f.pvalue, 3).padStart(9),
    num(f.rank, 3).padStart(8),
  ];
  return `${cells.join(' ')}  ${verdictOf(f)}`;
}

/** The label of the model artifact in DIR, if there is one (the model's label is never a feature). */
async function modelLabel(dir: string | undefined): Promise<{ column: string; positive: string } | undefined> {
  if (!dir || !existsSync(join(dir, 'model.json'))) return undefined;
  const { loadArtifact } = await import('../../model/index.js');
  return loadArtifact(dir).header.label ?? undefined;
}

function formatDrift(
  r: DatasetDriftResult,
  extras: { prediction?: FeatureDriftResult; label?: LabelDriftReport } = {},
  top = 20,
): string {
  const header = DRIFT_COLUMNS.map(([h, w], i) => (i < 3 ? h.padEnd(w) : h.padStart(w))).join(' ');
  const lines = [
    `rows: reference ${r.rowsReference}, current ${r.rowsCurrent}`,
    `drifted share ${r.driftedShare.toFixed(3)}, weighted ${r.weightedDriftedShare.toFixed(3)}: dataset ${r.drifted ? 'DRIFTED' : 'not drifted'}; data-quality alarms ${r.qualityAlarms}`,
    'sorted by rank = max(drift severity, data-quality severity), > 1 is an alarm; drift severity = score / threshold,',
    'or log10(p) / log10(alpha) when the score is an adjusted p-value (ks, chi2); p-value = the unadjusted test p-value',
    `${header}  verdict`,
  ];
  for (const f of r.features.slice(0, top)) {
    lines.push(driftRow(f.comparison.name, f));
    for (const issue of f.quality.issues) lines.push(`${''.padEnd(30)}data quality: ${issue}`);
  }
  if (r.features.length > top) lines.push(`... ${r.features.length - top} more (use --json or --html for all)`);
  if (extras.prediction) {
    lines.push('prediction drift (model scores):');
    lines.push(driftRow('score', extras.prediction));
  }
  if (extras.label) lines.push(formatLabelDrift(extras.label));
  return lines.join('\n');
}

function formatLabelDrift(l: LabelDriftReport): string {
  const sign = l.difference >= 0 ? '+' : '';
  return `label drift ("${l.column}", matured labels ${l.maturedReference} / ${l.maturedCurrent}): base rate ${num(l.baseRateReference)} -> ${num(l.baseRateCurrent)} (${sign}${num(l.difference, 3)}), p-value ${num(l.pvalue, 3)}: ${l.drifted ? 'DRIFT' : 'ok'}`;
}

/** `monitor drift --model DIR --current FILE`: against the model's training profile, on the model's bins. */
async function driftAgainstModelCommand(opts: DriftCliOptions, io: CliIo): Promise<void> {
  const { driftAgainstModel, driftReportJson, renderDriftHtml } = await import('../../monitor/index.js');
  for (const [flag, set] of [
    ['--learn-thresholds', opts.learnThresholds],
    ['--chunk-rows', opts.chunkRows],
    ['--chunk-col', opts.chunkCol],
    ['--multivariate', opts.multivariate],
    ['--importance', opts.importance],
    ['--categorical', opts.categorical],
    ['--positive', opts.positive],
  ] as const) {
    if (set)
      throw new InvalidInputError(
        `${flag} does not apply against --model DIR alone (the model fixes the columns, their kinds and their weights); give --reference FILE or --reference-profile FILE with it`,
      );
  }
  const driftShare = share('drift-share', opts.driftShare);
  const progress = startProgress(io, 'drift (steps)', { json: opts.json === true });
  const run = await driftAgainstModel({
    model: opts.model as string,
    current: opts.current,
    ...(opts.sep !== undefined ? { sep: opts.sep } : {}),
    parse: { ...tableReadOptions(opts), onNote: (n: string) => io.err(n) },
    ...(driftShare !== undefined ? { drift: { datasetDriftShare: driftShare } } : {}),
    ...(opts.exclude !== undefined ? { exclude: listOption(opts.exclude) } : {}),
    ...(opts.labelCol !== undefined ? { labelColumn: opts.labelCol } : {}),
    onProgress: progress.onProgress,
  }).finally(() => progress.stop());
  const extras = { prediction: run.prediction, ...(run.label ? { label: run.label } : {}) };
  // features keep the model's kind and say `binned`: their statistics are on the model's training bins
  const report = driftReportJson(run.result, extras);
  if (opts.out) writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  if (opts.html)
    writeFileSync(opts.html, renderDriftHtml(run.result, `adnova drift report against ${opts.model}`, extras));
  if (opts.json) printJson(io, report);
  else {
    io.out(`against the training profile of ${opts.model} (features on the model's bins)`);
    io.out(formatDrift(run.result, extras));
  }
}

const METRIC_NAMES = {
  rocAuc: 'roc_auc',
  precision: 'precision',
  recall: 'recall',
  positiveRate: 'pos_rate',
} as const;

/** Why a metric has no estimate (NaN): said instead of printing `NaN +- NaN`. */
function undefinedReason(key: keyof typeof METRIC_NAMES, e: PerformanceEstimate): string {
  if (key === 'precision') return `undefined: no score reaches the threshold ${e.threshold} (no predicted positives)`;
  if (key === 'recall') return 'undefined: every score is 0 (no expected positives)';
  if (key === 'rocAuc') return 'undefined: the scores expect only one class (all 0 or all 1)';
  return 'undefined';
}

function formatEstimate(e: PerformanceEstimate): string {
  const row = (key: keyof typeof METRIC_NAMES): string => {
    const m = e[key];
    const name = METRIC_NAMES[key].padEnd(10);
    const realized =
      m.realized === undefined
        ? ''
        : Number.isFinite(m.realized)
          ? `  realized ${m.realized.toFixed(4)}${m.alert ? '  OUTSIDE BAND' : ''}`
          : '  realized undefined on the matured rows';
    if (!Number.isFinite(m.estimated)) return `${name} ${undefinedReason(key, e)}${realized}`;
    const band = Number.isFinite(m.standardError)
      ? `+- ${(3 * m.standardError).toFixed(4)} (3 SE)`
      : '(no band: too few simulated draws define it)';
    return `${name} estimated ${m.estimated.toFixed(4)} ${band}${realized}`;
  };
  const fired = (e.conceptDriftMetrics ?? []).map((k) => {
    const m = e[k];
    return `realized ${METRIC_NAMES[k]} ${(m.realized as number).toFixed(4)} outside its band [${m.lower.toFixed(4)}, ${m.upper.toFixed(4)}]`;
  });
  return [
    `rows ${e.rows}${e.labeledRows === undefined ? '' : `, matured labels ${e.labeledRows}`}, threshold ${e.threshold}`,
    row('rocAuc'),
    row('precision'),
    row('recall'),
    row('positiveRate'),
    ...(e.conceptDrift === undefined
      ? []
      : [
          `concept drift (roc_auc or pos_rate outside its band): ${e.conceptDrift ? `YES (${fired.join('; ')})` : 'no'}`,
        ]),
  ].join('\n');
}

function estimateJson(e: PerformanceEstimate): Record<string, unknown> {
  const m = (key: keyof typeof METRIC_NAMES) => {
    const x = e[key];
    const fin = (v: number): number | null => (Number.isFinite(v) ? v : null);
    return {
      estimated: fin(x.estimated),
      standardError: fin(x.standardError),
      lower: fin(x.lower),
      upper: fin(x.upper),
      ...(Number.isFinite(x.estimated) ? {} : { undefinedReason: undefinedReason(key, e) }),
      ...(x.realized === undefined ? {} : { realized: fin(x.realized), alert: x.alert }),
    };
  };
  return {
    rows: e.rows,
    ...(e.labeledRows === undefined ? {} : { labeledRows: e.labeledRows }),
    threshold: e.threshold,
    rocAuc: m('rocAuc'),
    precision: m('precision'),
    recall: m('recall'),
    positiveRate: m('positiveRate'),
    ...(e.conceptDrift === undefined
      ? {}
      : { conceptDrift: e.conceptDrift, conceptDriftMetrics: e.conceptDriftMetrics ?? [] }),
  };
}

function skewJson(s: SkewResult): Record<string, unknown> {
  return {
    key: s.key,
    rowsLeft: s.rowsLeft,
    rowsRight: s.rowsRight,
    joined: s.joined,
    onlyLeft: s.onlyLeft,
    onlyRight: s.onlyRight,
    duplicateKeysRight: s.duplicateKeysRight,
    features: s.features.map((f) => ({
      name: f.name,
      kind: f.kind,
      compared: f.compared,
      mismatches: f.mismatches,
      mismatchRate: f.mismatchRate,
      distance: f.distance,
      psi: f.comparison.stats.psi,
    })),
  };
}

function numericColumnOf(table: Awaited<ReturnType<typeof readColumnTable>>, name: string, flag: string): Float64Array {
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
    .option('--exclude <cols>', 'comma-separated columns not to compare (ids, leaky columns)')
    .option(
      '--label-col <col>',
      "label column: reported as label drift (base rate of matured labels), not as a feature; with --model, the model's label by default",
    )
    .option('--positive <value>', 'the --label-col value that means 1 (default: 1/0, true/false, yes/no)')
    .option('--json', 'print the JSON report')
    .option('--out <file>', 'write the JSON report to a file')
    .option('--html <file>', 'write the self-contained HTML report')
    .action(async (opts: DriftCliOptions) => {
      const { driftFromFiles, driftReportJson, parseProfile, renderDriftHtml } = await import('../../monitor/index.js');
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
      const importance = await loadImportance(opts);
      const driftShare = share('drift-share', opts.driftShare);
      const chunkRows = positiveInt('chunk-rows', opts.chunkRows);
      if (opts.chunkCol && chunkRows) throw new InvalidInputError('give --chunk-rows or --chunk-col, not both');
      if (opts.chunkCol && !opts.learnThresholds) throw new InvalidInputError('--chunk-col needs --learn-thresholds');
      if (opts.positive !== undefined && opts.labelCol === undefined)
        throw new InvalidInputError('--positive names the positive value of --label-col; give --label-col too');
      const fromModel = opts.labelCol === undefined ? await modelLabel(opts.model) : undefined;
      const labelColumn = opts.labelCol ?? fromModel?.column;
      const positive = opts.positive ?? fromModel?.positive;
      const progress = startProgress(io, 'drift (steps)', { json: opts.json === true });
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
        ...(opts.exclude !== undefined ? { exclude: listOption(opts.exclude) } : {}),
        ...(labelColumn !== undefined ? { labelColumn } : {}),
        ...(positive !== undefined ? { labelPositive: positive } : {}),
        ...(fromModel ? { labelColumnFromModel: true } : {}),
        drift: {
          ...(importance ? { importance } : {}),
          ...(driftShare !== undefined ? { datasetDriftShare: driftShare } : {}),
        },
        onProgress: progress.onProgress,
      }).finally(() => progress.stop());
      const mv = run.multivariate;
      const extras = run.label ? { label: run.label } : {};
      const report = {
        ...driftReportJson(run.result, extras),
        ...(mv
          ? {
              multivariate: {
                method: 'domain_classifier',
                auc: mv.auc,
                threshold: mv.threshold,
                drifted: mv.drifted,
                features: mv.features.map((f) => ({ name: f.name, gainShare: f.gainShare })),
              },
            }
          : {}),
      };
      if (opts.out) writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
      if (opts.html) writeFileSync(opts.html, renderDriftHtml(run.result, undefined, extras));
      if (opts.json) printJson(io, report);
      else {
        io.out(formatDrift(run.result, extras));
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
        const threshold = share('threshold', opts.threshold) as number;
        const { estimatePerformance, readColumnTable } = await import('../../monitor/index.js');
        const table = await readColumnTable(opts.data, { ...tableReadOptions(opts), onNote: (n) => io.err(n) });
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
      const { computeSkew, readColumnTable } = await import('../../monitor/index.js');
      const left = await readColumnTable(opts.left, readOpts);
      const right = await readColumnTable(opts.right, readOpts);
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
        const chunkRows = positiveInt('chunk-rows', opts.chunkRows);
        if (opts.chunkCol && chunkRows) throw new InvalidInputError('give --chunk-rows or --chunk-col, not both');
        if (opts.chunkCol && !opts.learnThresholds) throw new InvalidInputError('--chunk-col needs --learn-thresholds');
        if (opts.learnThresholds && !chunkRows && !opts.chunkCol)
          throw new InvalidInputError('--learn-thresholds needs --chunk-rows N or --chunk-col COL');
        const { profileFile, serializeProfile } = await import('../../monitor/index.js');
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
          learnedThresholds: profile.thresholds ? Object.keys(profile.thresholds).length : 0,
        };
        if (opts.json) printJson(io, summary);
        else io.out(`wrote ${summary.out}: ${summary.rows} rows, ${summary.features} features, ${summary.bytes} bytes`);
      },
    );
}
