import { FEATURE_STATUSES, type FeatureMatrix, type FeatureStatus } from '../core/index.js';
import type { ReadBuffers } from '../features/index.js';
import {
  type ArtifactColumn,
  CompiledModel,
  type CrossFeatureName,
  type CrossFeatures,
  ensembleOf,
  type ModelArtifact,
  type ModelRegistry,
  TreeContributions,
} from '../model/index.js';
import type { Campaign, CampaignGoal, FeaturePredicate } from './campaign.js';
import { ModelMissingError, UnknownTargetError } from './errors.js';

/** Request context that online calls may send and batch launches derive from the launch time. */
export interface DecisionContext {
  /** Local hour of the send, 0..23 (default: the UTC hour of the decision time). */
  readonly hourOfDay?: number;
}

/**
 * Where the decision reads user features: one point-in-time rule, two executions. The online store for online
 * calls and bulk launches; the offline store as of the launch time for back-tests. Both return the feature
 * service's columns in its fixed order.
 */
export interface FeatureSource {
  readonly name: string;
  /** With `buffers`, the matrix lives in them (valid until their next use). */
  read(
    userIds: readonly string[],
    atMs: number,
    context: DecisionContext,
    buffers?: ReadBuffers,
  ): Promise<FeatureMatrix>;
}

/** A model ready to score: the registry entry id, the compiled scorer and its columns. */
export interface ScoringModel {
  readonly id: string;
  readonly goal: string;
  readonly model: CompiledModel;
  readonly columns: readonly ArtifactColumn[];
  readonly contributions: TreeContributions | null;
  /** How the model's (user, campaign) columns are computed, as its training set computed them. */
  readonly crossFeatures: CrossFeatures | null;
}

export function scoringModelOf(
  id: string,
  goal: string,
  artifact: ModelArtifact,
  crossFeatures: CrossFeatures | null = null,
): ScoringModel {
  const model = new CompiledModel(artifact);
  const trees =
    artifact.header.modelKind === 'logistic-regression' ? null : new TreeContributions(ensembleOf(artifact));
  return { id, goal, model, columns: artifact.header.columns, contributions: trees, crossFeatures };
}

/** Which model scores a campaign: the champion of its goal. */
export interface ModelResolver {
  forCampaign(c: Campaign): ScoringModel;
}

/**
 * Champions from the model registry, loaded once per id. A goal without a champion falls back to the champion of
 * `fallbackGoal` when given (one model trained on all goals), else the campaign cannot be scored.
 */
export class RegistryModelResolver implements ModelResolver {
  readonly #registry: ModelRegistry;
  readonly #loaded = new Map<string, ScoringModel>();
  readonly #fallbackGoal: string | undefined;
  readonly #crossFeatures: CrossFeatures | null;
  readonly #role: 'champion' | 'fallback';

  /**
   * `crossFeatures`: the definition the champions' training sets used for their (user, campaign) columns. `role`:
   * `fallback` resolves the models trained on batch-only features (served while the online store is down).
   */
  constructor(
    registry: ModelRegistry,
    options: { fallbackGoal?: CampaignGoal; crossFeatures?: CrossFeatures; role?: 'champion' | 'fallback' } = {},
  ) {
    this.#registry = registry;
    this.#fallbackGoal = options.fallbackGoal;
    this.#crossFeatures = options.crossFeatures ?? null;
    this.#role = options.role ?? 'champion';
  }

  forCampaign(c: Campaign): ScoringModel {
    const role = this.#role;
    const find = (goal: string) => this.#registry.list().find((m) => m.goal === goal && m.role === role);
    const entry = find(c.goal) ?? (this.#fallbackGoal ? find(this.#fallbackGoal) : undefined);
    if (!entry)
      throw new ModelMissingError(
        `campaign ${c.id}: no ${role} model for goal ${c.goal}${this.#fallbackGoal ? ` or ${this.#fallbackGoal}` : ''} in ${this.#registry.root}; promote one with \`adnova model promote${role === 'fallback' ? ' --as fallback' : ''}\``,
      );
    let m = this.#loaded.get(entry.id);
    if (!m) {
      m = scoringModelOf(entry.id, entry.goal, this.#registry.load(entry.id), this.#crossFeatures);
      this.#loaded.set(entry.id, m);
    }
    return m;
  }
}

/** Campaign features every send-level model may take (the names the send training set gives them). */
export const CAMPAIGN_INPUTS = ['channel', 'vertical', 'goal'] as const;
const HOUR_INPUTS = ['hour_of_day', 'send_context.hour_of_day'];

/** How one model column is filled: from a feature matrix column, a constant per campaign, or a cross feature. */
type ColumnSource =
  | { readonly kind: 'matrix'; readonly col: number }
  | { readonly kind: 'campaign'; readonly value: number }
  | {
      readonly kind: 'cross';
      readonly cross: CrossFeatures;
      readonly name: CrossFeatureName;
      readonly vertical: string;
      /** Matrix column of each input the cross feature reads. */
      readonly inputs: ReadonlyMap<string, number>;
    };

function codeOf(spec: ArtifactColumn, text: string): number {
  if (spec.kind !== 'categorical' || !spec.vocabulary) {
    const v = Number(text);
    return Number.isFinite(v) ? v : Number.NaN;
  }
  const i = spec.vocabulary.indexOf(text);
  return i; // unknown category: -1 ("other"), as matrixFromTable does
}

/** How each model column is filled, with the matrix columns and constants as typed arrays for the gather. */
export interface ColumnPlan {
  readonly sources: readonly ColumnSource[];
  /** Matrix column of each model column, -1 where it is a campaign constant or a cross feature. */
  readonly matrixColumn: Int32Array;
  /** Value of each campaign constant column (0 elsewhere). */
  readonly constant: Float32Array;
  /** Model columns that are cross features. */
  readonly crossColumns: readonly number[];
  /**
   * Equal for two plans of one model that fill every column alike (the same matrix columns, constants and cross
   * features): campaigns that share it get the same score for the same user.
   */
  readonly signature: string;
}

/** Maps a model's columns onto a feature matrix's columns and the campaign's own features. */
export function planColumns(
  model: ScoringModel,
  matrixColumns: readonly string[],
  c: Campaign,
  hourOfDay: number,
): ColumnPlan {
  const sources = columnSources(model, matrixColumns, c, hourOfDay);
  const matrixColumn = new Int32Array(sources.length).fill(-1);
  const constant = new Float32Array(sources.length);
  const crossColumns: number[] = [];
  const parts: string[] = [];
  sources.forEach((src, k) => {
    if (src.kind === 'matrix') {
      matrixColumn[k] = src.col;
      parts.push(`m${src.col}`);
    } else if (src.kind === 'campaign') {
      constant[k] = src.value;
      parts.push(`c${src.value}`);
    } else {
      crossColumns.push(k);
      parts.push(`x${src.name}@${src.vertical}`);
    }
  });
  return { sources, matrixColumn, constant, crossColumns, signature: parts.join(' ') };
}

function columnSources(
  model: ScoringModel,
  matrixColumns: readonly string[],
  c: Campaign,
  hourOfDay: number,
): ColumnSource[] {
  const byName = new Map(matrixColumns.map((n, i) => [n, i]));
  return model.columns.map((spec) => {
    const j = byName.get(spec.name);
    if (j !== undefined && !HOUR_INPUTS.includes(spec.name)) return { kind: 'matrix', col: j };
    if ((CAMPAIGN_INPUTS as readonly string[]).includes(spec.name))
      return { kind: 'campaign', value: codeOf(spec, c[spec.name as (typeof CAMPAIGN_INPUTS)[number]]) };
    if (HOUR_INPUTS.includes(spec.name)) return { kind: 'campaign', value: hourOfDay };
    const cross = model.crossFeatures;
    if (cross?.has(spec.name)) {
      const inputs = new Map<string, number>();
      for (const name of cross.inputsOf(spec.name)) {
        const k = byName.get(name);
        if (k === undefined)
          throw new UnknownTargetError(
            `model ${model.id} needs cross feature "${spec.name}", which reads "${name}", a column the feature service does not serve`,
          );
        inputs.set(name, k);
      }
      return { kind: 'cross', cross, name: spec.name, vertical: c.vertical, inputs };
    }
    throw new UnknownTargetError(
      `model ${model.id} needs feature "${spec.name}", which the feature service does not serve (columns: ${matrixColumns.slice(0, 12).join(', ')}${matrixColumns.length > 12 ? ', ...' : ''})`,
    );
  });
}

/** Up to this many rows, a column is copied value by value (a subarray per column costs more). */
const ROW_BY_ROW_GATHER = 16;

/** Fills a column-major model input for `rows` (rows of the matrix) from the plan. */
export function gatherInput(
  m: FeatureMatrix,
  plan: ColumnPlan,
  rows: Uint32Array | null,
  out?: Float32Array,
): Float32Array {
  const total = m.entityIds.length;
  const width = plan.sources.length;
  const n = rows ? rows.length : total;
  const input = out && out.length >= n * width ? out.subarray(0, n * width) : new Float32Array(n * width);
  const values = m.values;
  const matrixColumn = plan.matrixColumn;
  if (rows && n === 1) {
    // one user (an online request: 50 campaigns x 200 columns): a plain loop over the typed plan
    const row = rows[0] as number;
    for (let c = 0; c < width; c++) {
      const col = matrixColumn[c] as number;
      input[c] = col >= 0 ? (values[col * total + row] as number) : (plan.constant[c] as number);
    }
  } else {
    // consecutive rows (a launch's chunk of candidates) copy as one block per column
    const first = rows && n > 0 ? (rows[0] as number) : 0;
    let consecutive = rows === null || n > ROW_BY_ROW_GATHER;
    for (let r = 0; rows && consecutive && r < n; r++) consecutive = rows[r] === first + r;
    for (let c = 0; c < width; c++) {
      const col = matrixColumn[c] as number;
      const at = c * n;
      if (col < 0) input.fill(plan.constant[c] as number, at, at + n);
      else if (consecutive) {
        const from = col * total + first;
        input.set(values.subarray(from, from + n), at);
      } else {
        const base = col * total;
        const r = rows as Uint32Array;
        for (let k = 0; k < n; k++) input[at + k] = values[base + (r[k] as number)] as number;
      }
    }
  }
  for (const c of plan.crossColumns) {
    const src = plan.sources[c] as Extract<ColumnSource, { kind: 'cross' }>;
    const column = (name: string) => {
      const k = src.inputs.get(name) as number;
      return values.subarray(k * total, (k + 1) * total);
    };
    src.cross.fill(src.name, src.vertical, column, rows, input.subarray(c * n, (c + 1) * n));
  }
  return input;
}

const OPS: Record<FeaturePredicate['op'], (a: number, b: number) => boolean> = {
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

/**
 * Feature predicates on the candidates the bitmaps left: index of the first predicate each row fails (-1 when all
 * hold). A missing value (NaN) satisfies no predicate.
 */
export function evaluatePredicates(
  c: Campaign,
  m: FeatureMatrix,
  rows: Uint32Array,
): { failed: Int16Array; columns: number[] } {
  const total = m.entityIds.length;
  const columns = c.targeting.features.map((p) => {
    const j = m.columns.indexOf(`${p.view}.${p.feature}`);
    if (j < 0)
      throw new UnknownTargetError(
        `campaign ${c.id}: feature predicate "${p.text}" names ${p.view}.${p.feature}, which the feature service does not serve`,
      );
    return j;
  });
  const failed = new Int16Array(rows.length).fill(-1);
  c.targeting.features.forEach((p, k) => {
    const col = m.values.subarray((columns[k] as number) * total, ((columns[k] as number) + 1) * total);
    const op = OPS[p.op];
    // Float32 storage: compare against the threshold as the store holds it, so `== 0.1` means what it says
    const threshold = Math.fround(p.value);
    for (let r = 0; r < rows.length; r++) {
      if ((failed[r] as number) >= 0) continue;
      const v = col[rows[r] as number] as number;
      if (Number.isNaN(v) || !op(v, threshold)) failed[r] = k;
    }
  });
  return { failed, columns };
}

/** A view that was not served fresh for a row: which, and in what state. */
export interface Degradation {
  readonly view: string;
  readonly status: Exclude<FeatureStatus, 'present'>;
}

/** The views of a row that were missing, expired or defaulted, in view order. */
export function degradationsOf(m: FeatureMatrix, row: number): Degradation[] {
  const out: Degradation[] = [];
  const rows = m.entityIds.length;
  m.views.forEach((v, k) => {
    const s = m.status[k * rows + row] as number;
    if (s !== 0) out.push({ view: v.name, status: FEATURE_STATUSES[s] as Degradation['status'] });
  });
  return out;
}

/** Age of each view for a row, in ms (-1 when unknown). */
export function viewAgesOf(m: FeatureMatrix, row: number): Record<string, number> {
  const rows = m.entityIds.length;
  return Object.fromEntries(m.views.map((v, k) => [v.name, m.ageMs[k * rows + row] as number]));
}
