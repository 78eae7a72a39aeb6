import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../../core/errors.js';
// the option lists come from a module with no imports; each action imports the model code it runs
import {
  ALGORITHMS,
  CALIBRATION_METHODS,
  GROWTH_POLICIES,
  MODEL_IMPORT_FORMATS,
  REGISTRY_ROLES,
  SCORER_POOL_MIN_ROWS,
} from '../../model/choices.js';
import type {
  Algorithm,
  BinaryMetrics,
  CalibrationMethod,
  GbdtParams,
  GrowthPolicy,
  ModelImportFormat,
  ModelRegistry,
  RegistryRole,
  SplitPart,
} from '../../model/index.js';
import { type CliIo, printJson } from '../io.js';
import { startProgress } from '../progress.js';
import { addTableOptions, type TableCliOptions, tableReadOptions } from './table-options.js';

function num(
  name: string,
  raw: string | undefined,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  const want = `${opts.integer ? 'an integer' : 'a number'}${opts.min !== undefined ? ` >= ${opts.min}` : ''}${opts.max !== undefined ? ` and <= ${opts.max}` : ''}`;
  if (
    raw.trim() === '' ||
    !Number.isFinite(v) ||
    (opts.integer && !Number.isInteger(v)) ||
    (opts.min !== undefined && v < opts.min) ||
    (opts.max !== undefined && v > opts.max)
  ) {
    throw new InvalidInputError(`${name} must be ${want}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw))
    throw new InvalidInputError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

const list = (raw: string | undefined): string[] =>
  raw
    ? raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
    : [];

async function registryFor(cmd: Command, dir: string | undefined): Promise<ModelRegistry> {
  const { ModelRegistry } = await import('../../model/index.js');
  if (dir) return new ModelRegistry(dir);
  const { loadConfig } = await import('../../core/index.js');
  const { config } = loadConfig({ file: (cmd.optsWithGlobals() as { config?: string }).config });
  return new ModelRegistry(join(config.storeDir, 'models'));
}

function metricsLines(m: BinaryMetrics): string[] {
  const f = (v: number): string => (Number.isFinite(v) ? v.toFixed(4) : 'n/a');
  return [
    `rows ${m.rows}  positives ${m.positives} (${(100 * m.positiveRate).toFixed(2)}%)`,
    `ROC AUC ${f(m.rocAuc)}  PR AUC ${f(m.prAuc)}  log loss ${f(m.logLoss)}  Brier ${f(m.brier)}  ECE ${f(m.ece)}`,
    `lift/capture ${m.lift.map((l) => `top ${l.fraction * 100}%: ${f(l.lift)}x/${(100 * l.capture).toFixed(1)}%`).join('  ')}`,
  ];
}

interface TrainOpts extends TableCliOptions {
  data: string;
  label: string;
  out: string;
  exclude?: string;
  timeCol?: string;
  testFraction?: string;
  validationFraction?: string;
  refit?: boolean;
  positive?: string;
  trees?: string;
  maxDepth?: string;
  maxLeaves?: string;
  growth?: string;
  learningRate?: string;
  maxBins?: string;
  lambda?: string;
  minChildWeight?: string;
  minSplitGain?: string;
  subsample?: string;
  colsample?: string;
  earlyStopping?: string;
  seed?: string;
  threads?: string;
  calibration?: string;
  algorithm?: string;
  segments?: string;
  register?: string;
  goal?: string;
  registry?: string;
  json?: boolean;
}

/** Registers `adnova model ...`. */
export function registerModelCommands(program: Command, io: CliIo): void {
  const model = program.command('model').description('train, score, import, evaluate and register models');

  const train = model
    .command('train')
    .description(
      'train a model on a CSV or Parquet file. Split, in file order (or by --time-col): the last --test-fraction of the rows are the test rows; the last --validation-fraction of the rest are validation rows (early stopping, calibration), never trained on unless --refit; the remaining rows train',
    )
    .requiredOption('--data <file>', 'CSV (any separator, quoted headers) or Parquet file')
    .requiredOption('--label <col>', 'label column: 1/0, true/false, yes/no (or --positive)')
    .requiredOption('--out <dir>', 'artifact directory to write');
  addTableOptions(train)
    .option('--exclude <cols>', 'comma-separated columns to leave out')
    .option('--time-col <col>', 'order rows by this column before the temporal split')
    .option('--test-fraction <f>', 'share of all rows held out at the end for test metrics (0..0.95)', '0.3')
    .option(
      '--validation-fraction <f>',
      'share of the non-test rows (their end) held back for early stopping and calibration (0 = none: no early stopping, no calibration)',
      '0.2',
    )
    .option('--refit', 'after early stopping picks the tree count, train again on train + validation rows')
    .option('--positive <value>', 'label value that means 1')
    .option('--algorithm <name>', `one of ${ALGORITHMS.join(', ')}`, 'gbdt')
    .option('--trees <n>', 'boosting rounds', '100')
    .option('--max-depth <n>', 'tree depth limit (0 = none, leaf-wise only)', '6')
    .option('--max-leaves <n>', 'leaf limit for leaf-wise growth', '31')
    .option('--growth <policy>', `${GROWTH_POLICIES.join(' or ')}`, 'depthwise')
    .option('--learning-rate <f>', 'shrinkage', '0.1')
    .option('--max-bins <n>', 'histogram bins per feature (2..255)', '255')
    .option('--lambda <f>', 'L2 regularisation', '1')
    .option('--min-child-weight <f>', 'minimum hessian sum in a child', '1')
    .option('--min-split-gain <f>', 'minimum loss reduction to split', '0')
    .option('--subsample <f>', 'row share per tree', '1')
    .option('--colsample <f>', 'feature share per tree', '1')
    .option('--early-stopping <n>', 'stop after n rounds without validation improvement (0 = off)', '0')
    .option('--seed <n>', 'random seed', '0')
    .option('--threads <n>', 'training threads: 2 builds large histograms on a helper thread (more count as 2)', '1')
    .option(
      '--calibration <method>',
      `${CALIBRATION_METHODS.join(', ')} (auto: none, platt or isotonic by cross-fitted log loss, never one that lowers ROC AUC; any map worse than none on the validation rows falls back to none with a warning)`,
      'auto',
    )
    .option('--segments <cols>', 'comma-separated columns to report test metrics by')
    .option('--register <name>', 'also register the model under this name')
    .option('--goal <goal>', 'goal the registered model serves', 'default')
    .option('--registry <dir>', 'registry directory (default <storeDir>/models)')
    .option('--json', 'machine-readable output')
    .action(async (o: TrainOpts, cmd: Command) => {
      const threads = num('--threads', o.threads, { integer: true, min: 1 }) ?? 1;
      const gbdt: Partial<GbdtParams> = {
        trees: num('--trees', o.trees, { integer: true, min: 1 }),
        maxDepth: num('--max-depth', o.maxDepth, { integer: true, min: 0, max: 30 }),
        maxLeaves: num('--max-leaves', o.maxLeaves, { integer: true, min: 2 }),
        growth: oneOf<GrowthPolicy>('--growth', o.growth, GROWTH_POLICIES),
        learningRate: num('--learning-rate', o.learningRate, { min: 0 }),
        maxBins: num('--max-bins', o.maxBins, { integer: true, min: 2, max: 255 }),
        lambda: num('--lambda', o.lambda, { min: 0 }),
        minChildWeight: num('--min-child-weight', o.minChildWeight, { min: 0 }),
        minSplitGain: num('--min-split-gain', o.minSplitGain, { min: 0 }),
        subsample: num('--subsample', o.subsample, { min: 0, max: 1 }),
        colsampleByTree: num('--colsample', o.colsample, { min: 0, max: 1 }),
        earlyStoppingRounds: num('--early-stopping', o.earlyStopping, { integer: true, min: 0 }),
        seed: num('--seed', o.seed, { integer: true }),
        threads,
      };
      const { trainModelOnTable } = await import('../../model/index.js');
      const progress = startProgress(io, 'train (trees)', { json: o.json === true });
      const summary = await trainModelOnTable({
        data: o.data,
        label: o.label,
        out: o.out,
        ...tableReadOptions(o),
        exclude: list(o.exclude),
        ...(o.timeCol ? { timeColumn: o.timeCol } : {}),
        testFraction: num('--test-fraction', o.testFraction, { min: 0, max: 0.95 }) ?? 0.3,
        validationFraction: num('--validation-fraction', o.validationFraction, { min: 0, max: 0.95 }) ?? 0.2,
        ...(o.refit ? { refit: true } : {}),
        ...(o.positive === undefined ? {} : { positive: o.positive }),
        algorithm: oneOf<Algorithm>('--algorithm', o.algorithm, ALGORITHMS) ?? 'gbdt',
        calibration: oneOf<CalibrationMethod>('--calibration', o.calibration, CALIBRATION_METHODS) ?? 'auto',
        segments: list(o.segments),
        gbdt,
        ...(o.register ? { name: o.register, goal: o.goal ?? 'default' } : {}),
        onProgress: progress.onProgress,
      }).finally(() => progress.stop());
      const registered = o.register
        ? (await registryFor(cmd, o.registry)).register(o.out, o.register, o.goal ?? 'default')
        : null;
      for (const note of summary.parsing) io.err(note);
      if (o.json) {
        printJson(io, { ...summary, ...(registered ? { registered } : {}) });
        return;
      }
      const range = (p: SplitPart): string =>
        p.count === 0
          ? ''
          : p.firstRow !== undefined
            ? ` (rows ${p.firstRow}-${p.lastRow})`
            : p.from
              ? ` (${p.from} .. ${p.to})`
              : '';
      const { rows } = summary;
      io.out(
        `trained ${summary.modelKind} (${summary.trees} trees) on ${summary.split.refit ? rows.train.count + rows.validation.count : rows.train.count} rows, ${summary.features} features (${summary.categorical} categorical) in ${summary.trainingTimeMs} ms`,
      );
      io.out(
        `split by ${summary.split.by === 'time' ? 'time' : 'file order'}: train ${rows.train.count}${range(rows.train)}, validation ${rows.validation.count}${range(rows.validation)}, test ${rows.test.count}${range(rows.test)}${summary.split.refit ? '; refit on train + validation' : ''}`,
      );
      const d = summary.distinctCalibratedScores;
      io.out(
        `calibration ${summary.calibration} (asked: ${summary.calibrationRequested}); distinct scores: validation ${d.validation ?? 'n/a'}, test ${d.test ?? 'n/a'}`,
      );
      const sel = summary.calibrationSelection;
      if (sel?.crossFittedLogLoss && sel.crossFittedRocAuc) {
        const ll = sel.crossFittedLogLoss;
        const auc = sel.crossFittedRocAuc;
        const f = (v: number): string => (Number.isFinite(v) ? v.toFixed(4) : 'n/a');
        io.out(
          `  auto, cross-fitted on the validation rows: log loss none ${f(ll.none)}, platt ${f(ll.platt)}, isotonic ${f(ll.isotonic)}; ROC AUC none ${f(auc.none)}, platt ${f(auc.platt)}, isotonic ${f(auc.isotonic)}${sel.rankingLosers?.length ? `; left out for the ranking: ${sel.rankingLosers.join(', ')}` : ''}`,
        );
      }
      for (const w of summary.warnings) io.out(`warning: ${w}`);
      if (summary.test) {
        io.out(`test ${rows.test.count} rows:`);
        for (const l of metricsLines(summary.test)) io.out(`  ${l}`);
        if (summary.testRaw)
          io.out(
            `  ROC AUC raw score ${summary.testRaw.rocAuc.toFixed(4)}, calibrated ${summary.test.rocAuc.toFixed(4)}; log loss raw ${summary.testRaw.logLoss.toFixed(4)}, calibrated ${summary.test.logLoss.toFixed(4)}`,
          );
      } else io.out('no test rows (--test-fraction 0)');
      io.out(`artifact written to ${summary.out}`);
      if (registered) io.out(`registered as ${registered.id} (goal ${registered.goal})`);
    });

  const score = model
    .command('score')
    .description(
      'copy a CSV/Parquet file with a "score" column (calibrated probability) added; a CSV keeps its separator and cell text',
    )
    .requiredOption('--model <dir>', 'artifact directory')
    .requiredOption('--data <file>', 'CSV or Parquet file with the model columns')
    .requiredOption('--out <file>', 'output file: .parquet for Parquet, otherwise CSV');
  addTableOptions(score)
    .option(
      '--threads <n>',
      `scoring threads: a CSV of at least 8 MB is read, scored and written on n threads (the main one and n - 1 workers); other inputs score tree models on files of at least ${SCORER_POOL_MIN_ROWS.toLocaleString('en-US')} rows on n worker threads (1: all on the main thread)`,
      String(availableParallelism()),
    )
    .option('--json', 'machine-readable output')
    .action(
      async (o: TableCliOptions & { model: string; data: string; out: string; threads?: string; json?: boolean }) => {
        const threads = num('--threads', o.threads, { integer: true, min: 1 }) ?? 1;
        const { scoreTableFile } = await import('../../model/index.js');
        const progress = startProgress(io, 'score', { json: o.json === true, unit: 'bytes' });
        const r = await scoreTableFile({
          model: o.model,
          data: o.data,
          out: o.out,
          threads,
          ...tableReadOptions(o),
          onProgress: progress.onProgress,
        }).finally(() => progress.stop());
        for (const note of r.parsing) io.err(note);
        if (o.json) printJson(io, r);
        else io.out(`scored ${r.rows} rows (mean score ${r.meanScore.toFixed(4)}) into ${r.out}`);
      },
    );

  model
    .command('import')
    .description('convert an XGBoost JSON (binary:logistic) or LightGBM text (binary) model into an artifact')
    .requiredOption('--format <format>', MODEL_IMPORT_FORMATS.join(' or '))
    .requiredOption('--file <file>', 'model file')
    .requiredOption('--out <dir>', 'artifact directory to write')
    .option('--json', 'machine-readable output')
    .action(async (o: { format: string; file: string; out: string; json?: boolean }) => {
      const { importModelFile } = await import('../../model/index.js');
      const format = oneOf<ModelImportFormat>('--format', o.format, MODEL_IMPORT_FORMATS) as ModelImportFormat;
      const a = importModelFile({ format, file: o.file, out: o.out });
      const summary = {
        out: o.out,
        modelKind: a.header.modelKind,
        trees: a.trees.length,
        features: a.header.columns.map((c) => c.name),
      };
      if (o.json) printJson(io, summary);
      else
        io.out(`imported ${summary.trees} trees over ${summary.features.length} features from ${o.file} into ${o.out}`);
    });

  const evaluate = model
    .command('eval')
    .description('metrics of a model on a labelled CSV/Parquet file, overall and by segment')
    .requiredOption('--model <dir>', 'artifact directory')
    .requiredOption('--data <file>', 'labelled CSV or Parquet file')
    .requiredOption('--label <col>', 'label column');
  addTableOptions(evaluate)
    .option('--positive <value>', 'label value that means 1')
    .option('--segments <cols>', 'comma-separated columns to report metrics by')
    .option('--json', 'machine-readable output')
    .action(
      async (
        o: TableCliOptions & {
          model: string;
          data: string;
          label: string;
          positive?: string;
          segments?: string;
          json?: boolean;
        },
      ) => {
        const { evaluateModelOnTable } = await import('../../model/index.js');
        const r = await evaluateModelOnTable({
          model: o.model,
          data: o.data,
          label: o.label,
          ...tableReadOptions(o),
          ...(o.positive === undefined ? {} : { positive: o.positive }),
          segments: list(o.segments),
        });
        for (const note of r.parsing) io.err(note);
        if (o.json) {
          printJson(io, r);
          return;
        }
        io.out('overall:');
        for (const l of metricsLines(r.overall)) io.out(`  ${l}`);
        for (const [seg, groups] of Object.entries(r.bySegment)) {
          for (const [value, m] of Object.entries(groups)) {
            io.out(`${seg}=${value}:`);
            for (const l of metricsLines(m)) io.out(`  ${l}`);
          }
        }
      },
    );

  model
    .command('list')
    .description('registered models with their champion/challenger role')
    .option('--registry <dir>', 'registry directory (default <storeDir>/models)')
    .option('--json', 'machine-readable output')
    .action(async (o: { registry?: string; json?: boolean }, cmd: Command) => {
      const entries = (await registryFor(cmd, o.registry)).list();
      if (o.json) {
        printJson(io, entries);
        return;
      }
      if (entries.length === 0) io.out('no models registered');
      for (const e of entries) {
        io.out(
          `${e.id.padEnd(24)} goal=${e.goal.padEnd(12)} ${(e.role ?? '-').padEnd(10)} ${e.modelKind.padEnd(20)} test AUC ${e.testRocAuc === null ? 'n/a' : e.testRocAuc.toFixed(4)}  ${e.registeredAt}`,
        );
      }
    });

  model
    .command('describe')
    .description('header of a model: columns, params, calibration, metrics, importance (a registry id or --model DIR)')
    .argument('[id]', 'registered model id, name@vN')
    .option('--model <dir>', 'artifact directory instead of a registry id')
    .option('--registry <dir>', 'registry directory (default <storeDir>/models)')
    .option('--json', 'machine-readable output (the whole header)')
    .action(async (id: string | undefined, o: { model?: string; registry?: string; json?: boolean }, cmd: Command) => {
      if (!id && !o.model) throw new InvalidInputError('describe needs a registered model id or --model DIR');
      const { loadArtifact } = await import('../../model/index.js');
      const dir = o.model ?? (await registryFor(cmd, o.registry)).artifactDir(id as string);
      const a = loadArtifact(dir);
      const h = a.header;
      if (o.json) {
        printJson(io, h);
        return;
      }
      io.out(
        `${id ?? dir}: ${h.modelKind}, ${a.trees.length} trees, created ${h.createdAt}, format v${h.formatVersion}`,
      );
      io.out(
        `columns (${h.columns.length}): ${h.columns.map((c) => (c.kind === 'categorical' ? `${c.name}[cat]` : c.name)).join(', ')}`,
      );
      io.out(`calibration: ${h.calibration.method}`);
      for (const w of h.warnings ?? []) io.out(`warning: ${w}`);
      if (h.metrics.test) for (const l of metricsLines(h.metrics.test)) io.out(`  test ${l}`);
      io.out(
        `importance (gain): ${h.importance
          .slice(0, 10)
          .map((e) => `${e.feature}=${e.gain.toFixed(1)}`)
          .join(', ')}`,
      );
      if (h.training) io.out(`training: ${h.training.rows} rows, data sha256 ${h.training.dataHash.slice(0, 16)}...`);
    });

  model
    .command('promote')
    .description("make a registered model its goal's champion (or challenger)")
    .argument('<id>', 'registered model id, name@vN')
    .option('--as <role>', REGISTRY_ROLES.join(' or '), 'champion')
    .option('--registry <dir>', 'registry directory (default <storeDir>/models)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { as?: string; registry?: string; json?: boolean }, cmd: Command) => {
      const role = oneOf<RegistryRole>('--as', o.as, REGISTRY_ROLES) ?? 'champion';
      const r = (await registryFor(cmd, o.registry)).promote(id, role);
      if (o.json) printJson(io, { id, role, ...r });
      else io.out(`${id} is now ${role} of goal ${r.goal}${r.previous ? ` (was ${r.previous})` : ''}`);
    });

  model
    .command('rollback')
    .description("restore a goal's previous champion")
    .argument('<goal>', 'goal')
    .option('--registry <dir>', 'registry directory (default <storeDir>/models)')
    .option('--json', 'machine-readable output')
    .action(async (goal: string, o: { registry?: string; json?: boolean }, cmd: Command) => {
      const r = (await registryFor(cmd, o.registry)).rollback(goal);
      if (o.json) printJson(io, r);
      else io.out(`goal ${r.goal}: champion ${r.from} -> ${r.to}`);
    });
}
