import { InvalidInputError } from '../core/index.js';
import type { ArtifactColumn } from './artifact.js';
import type { CrossFeatures } from './cross-features.js';
import { buildDelayedLabels, type DelayedLabels, type Goal, type ImmaturePolicy } from './delayed-labels.js';
import type { Table, TableColumn } from './duckdb-table-io.js';
import type { ModelMatrix } from './model-matrix.js';
import { buildFeatureColumns, matrixFromTable } from './tabular-dataset.js';

/** Columns of a point-in-time training set that are keys or bookkeeping, not features. */
const NON_FEATURE = new Set(['label_row', 'user_id', 'ts', 'send_id', 'entity_id', 'event_ts', 'created_ts']);
/** Campaign features taken from the sends table (denormalised there). */
export const CAMPAIGN_FEATURES = ['channel', 'vertical', 'goal'] as const;

export interface SendTrainingSet {
  readonly matrix: ModelMatrix;
  readonly labels: Uint8Array;
  readonly weights: Float64Array;
  readonly columns: readonly ArtifactColumn[];
  /** Send time per row (epoch ms), for temporal splits. */
  readonly time: Float64Array;
  /** The send of each row. */
  readonly sendIds: readonly string[];
  /** Segment values per row (channel, vertical) for metrics by segment. */
  readonly segments: Record<string, string[]>;
  readonly labelStats: Omit<DelayedLabels, 'rows' | 'labels' | 'weights'>;
}

function col(t: Table, name: string, table: string): TableColumn {
  const c = t.columns.find((x) => x.name === name);
  if (!c)
    throw new InvalidInputError(
      `${table} has no column "${name}"; columns are ${t.columns.map((x) => x.name).join(', ')}`,
    );
  return c;
}

function textsOf(t: Table, name: string, table: string): string[] {
  const c = col(t, name, table);
  if (c.type === 'text') return (c.texts ?? []).map((v) => v ?? '');
  return Array.from(c.numbers ?? [], (v) => String(v));
}

function numbersOf(t: Table, name: string, table: string): Float64Array {
  const c = col(t, name, table);
  if (c.type !== 'number') throw new InvalidInputError(`${table} column "${name}" must be numeric, it holds text`);
  return c.numbers as Float64Array;
}

/**
 * A training set for one goal: point-in-time features per send (a feature-store training set with a `send_id`
 * column: one row per send, features as of the send time) joined with the send's campaign features and its
 * delayed label (`buildDelayedLabels`). Feature columns whose name contains `__` (status, age bookkeeping) are left
 * out. Rows keep the training set's order.
 */
export function buildSendTrainingSet(
  trainingSet: Table,
  sends: Table,
  outcomes: Table,
  options: {
    goal: Goal;
    asOfMs: number;
    windowMs?: number;
    immature?: ImmaturePolicy;
    /** Appends the cross features of each send's user and campaign vertical (the scorer computes the same). */
    crossFeatures?: CrossFeatures;
    /** Columns left out of the model (served for the cross features only, or constant within a campaign). */
    exclude?: readonly string[];
  },
): SendTrainingSet {
  const sendIds = textsOf(sends, 'send_id', 'sends');
  const labelled = buildDelayedLabels(
    { sendId: sendIds, sendTs: numbersOf(sends, 'send_ts', 'sends') },
    {
      sendId: textsOf(outcomes, 'send_id', 'outcomes'),
      kind: textsOf(outcomes, 'kind', 'outcomes'),
      outcomeTs: numbersOf(outcomes, 'outcome_ts', 'outcomes'),
    },
    {
      goal: options.goal,
      asOfMs: options.asOfMs,
      ...(options.windowMs === undefined ? {} : { windowMs: options.windowMs }),
      ...(options.immature === undefined ? {} : { immature: options.immature }),
    },
  );
  const bySend = new Map<string, number>(); // send id -> index into labelled rows
  for (let k = 0; k < labelled.rows.length; k++) bySend.set(sendIds[labelled.rows[k] as number] as string, k);
  const tsSendIds = textsOf(trainingSet, 'send_id', 'training set');
  const keep: number[] = [];
  const keepLabel: number[] = [];
  for (let r = 0; r < trainingSet.rows; r++) {
    const k = bySend.get(tsSendIds[r] as string);
    if (k !== undefined) {
      keep.push(r);
      keepLabel.push(k);
    }
  }
  if (keep.length === 0)
    throw new InvalidInputError('no training-set row has a mature, labelled send; check send_id and asOf');
  // one table with the kept rows: training-set features + campaign features of the send
  const sendRowOf = new Map<string, number>();
  for (let i = 0; i < sendIds.length; i++) sendRowOf.set(sendIds[i] as string, i);
  const pickRows = (c: TableColumn, rows: number[]): TableColumn =>
    c.type === 'number'
      ? {
          name: c.name,
          type: 'number',
          numbers: Float64Array.from(rows, (r) => (c.numbers as Float64Array)[r] as number),
        }
      : { name: c.name, type: 'text', texts: rows.map((r) => (c.texts as (string | null)[])[r] ?? null) };
  const featureCols = trainingSet.columns.filter((c) => !NON_FEATURE.has(c.name) && !c.name.includes('__'));
  const sendRows = keep.map((r) => sendRowOf.get(tsSendIds[r] as string) as number);
  const campaignCols = CAMPAIGN_FEATURES.filter((n) => sends.columns.some((c) => c.name === n)).map((n) =>
    pickRows(col(sends, n, 'sends'), sendRows),
  );
  const crossCols = options.crossFeatures
    ? crossColumns(options.crossFeatures, trainingSet, sends, keep, sendRows)
    : [];
  const joined: Table = {
    rows: keep.length,
    columns: [...featureCols.map((c) => pickRows(c, keep)), ...campaignCols, ...crossCols],
  };
  const columns = buildFeatureColumns(joined, new Set(options.exclude ?? []));
  const sendTs = numbersOf(sends, 'send_ts', 'sends');
  return {
    matrix: matrixFromTable(joined, columns),
    labels: Uint8Array.from(keepLabel, (k) => labelled.labels[k] as number),
    weights: Float64Array.from(keepLabel, (k) => labelled.weights[k] as number),
    columns,
    time: Float64Array.from(sendRows, (i) => sendTs[i] as number),
    sendIds: sendRows.map((i) => sendIds[i] as string),
    segments: Object.fromEntries(
      campaignCols.filter((c) => c.name !== 'goal').map((c) => [c.name, (c.texts ?? []).map((v) => v ?? '(missing)')]),
    ),
    labelStats: {
      mature: labelled.mature,
      immatureKept: labelled.immatureKept,
      immatureExcluded: labelled.immatureExcluded,
      lateOutcomes: labelled.lateOutcomes,
    },
  };
}

/** The cross features of the kept rows, by the vertical of each row's send. */
function crossColumns(
  cross: CrossFeatures,
  trainingSet: Table,
  sends: Table,
  keep: readonly number[],
  sendRows: readonly number[],
): TableColumn[] {
  const verticals = textsOf(sends, 'vertical', 'sends');
  const byVertical = new Map<string, number[]>(); // vertical -> positions in keep
  sendRows.forEach((sr, k) => {
    const v = verticals[sr] as string;
    let list = byVertical.get(v);
    if (!list) byVertical.set(v, (list = []));
    list.push(k);
  });
  const column = (name: string) => numbersOf(trainingSet, name, 'training set');
  return cross.names.map((name) => {
    const out = new Float64Array(keep.length);
    for (const [v, positions] of byVertical) {
      const part = new Float64Array(positions.length);
      cross.fill(
        name,
        v,
        column,
        positions.map((k) => keep[k] as number),
        part,
      );
      positions.forEach((k, j) => {
        out[k] = part[j] as number;
      });
    }
    return { name, type: 'number' as const, numbers: out };
  });
}
