import { type FeatureMatrix, FeatureStatusCode, InvalidInputError } from '../core/index.js';
import { type FeatureDefinitions, type ServiceLayout, withTransformInputs } from './definitions.js';
import { emptyMatrixFor, type OnlineStore, type ReadBuffers } from './online-store.js';
import { compileExpressionJs, expressionRefs } from './transform-expression.js';

/** Request-time values by request-view feature name: one number for every row, or one per row. */
export type RequestData = Readonly<Record<string, number | ArrayLike<number>>>;

/**
 * A full online read: stored views from the online store, request views from `request`, transforms computed from
 * the filled values (defaults included, exactly as the point-in-time join feeds them), in the service's layout.
 * A transform run is `present` when every input view is present, otherwise `defaulted`.
 */
export async function readOnlineFeatures(
  store: OnlineStore,
  defs: FeatureDefinitions,
  layout: ServiceLayout,
  entityIds: readonly string[],
  atMs: number,
  request: RequestData = {},
  buffers?: ReadBuffers,
): Promise<FeatureMatrix> {
  let ext = extended.get(layout);
  if (ext === undefined) {
    ext = withTransformInputs(defs, layout);
    extended.set(layout, ext);
  }
  const { layout: full, hiddenFrom } = ext;
  const m = await store.read(full, entityIds, atMs, buffers);
  fillRequestAndTransforms(full, m, request);
  return full === layout ? m : truncateMatrix(layout, m, hiddenFrom);
}

/** Drops hidden trailing columns (transform inputs): column-major, so the kept columns are one prefix. */
export function truncateMatrix(layout: ServiceLayout, m: FeatureMatrix, hiddenFrom: number): FeatureMatrix {
  const out = emptyMatrixFor(layout, m.entityIds);
  const rows = m.entityIds.length;
  out.values.set(m.values.subarray(0, hiddenFrom * rows));
  out.status.set(m.status.subarray(0, layout.runs.length * rows));
  (out.ageMs as Float64Array).set(m.ageMs.subarray(0, layout.runs.length * rows));
  return out;
}

const extended = new WeakMap<ServiceLayout, { layout: ServiceLayout; hiddenFrom: number }>();

// compiled once per parsed expression (layouts are cached by the store, so their Expr objects are stable)
const compiled = new WeakMap<object, (inputs: ArrayLike<number>) => number>();
function compiledJs(expr: Parameters<typeof compileExpressionJs>[0]): (inputs: ArrayLike<number>) => number {
  let fn = compiled.get(expr);
  if (fn === undefined) {
    fn = compileExpressionJs(expr);
    compiled.set(expr, fn);
  }
  return fn;
}

interface TransformPlan {
  readonly run: number;
  /** Runs whose status decides this run's: every stored/request view an output reads. */
  readonly inputRuns: readonly number[];
  readonly outputs: ReadonlyArray<{ cols: Int32Array; fn: (inputs: ArrayLike<number>) => number; column: number }>;
}

// resolved once per layout: the input columns of every transform output (a lookup by name per read is O(columns))
const transformPlans = new WeakMap<ServiceLayout, readonly TransformPlan[]>();
function transformPlanOf(layout: ServiceLayout): readonly TransformPlan[] {
  let plans = transformPlans.get(layout);
  if (plans !== undefined) return plans;
  const runOfView = new Map<string, number>();
  layout.runs.forEach((run, r) => {
    if (run.kind !== 'transform' && !runOfView.has(run.name)) runOfView.set(run.name, r);
  });
  const built: TransformPlan[] = [];
  layout.runs.forEach((run, r) => {
    if (run.kind !== 'transform') return;
    const inputsOfRun = new Set<number>();
    const outputs = run.expressions.map((expr, k) => {
      const cols = expressionRefs(expr).map((ref) => {
        const c = layout.columns.indexOf(ref);
        if (c < 0) throw new RangeError(`transform input ${ref} is not in the read layout`);
        const owner = runOfView.get(ref.slice(0, ref.indexOf('.')));
        if (owner !== undefined) inputsOfRun.add(owner);
        return c;
      });
      return { cols: Int32Array.from(cols), fn: compiledJs(expr), column: run.start + k };
    });
    built.push({ run: r, inputRuns: [...inputsOfRun], outputs });
  });
  plans = built;
  transformPlans.set(layout, plans);
  return plans;
}

export function fillRequestAndTransforms(layout: ServiceLayout, m: FeatureMatrix, request: RequestData): void {
  const rows = m.entityIds.length;
  layout.runs.forEach((run, r) => {
    if (run.kind !== 'request') return;
    for (let k = 0; k < run.features.length; k++) {
      const f = run.features[k] as (typeof run.features)[number];
      const given = request[f.name];
      if (given !== undefined && typeof given !== 'number' && given.length !== rows)
        throw new InvalidInputError(`request value "${f.name}" has ${given.length} entries for ${rows} entities`);
      for (let row = 0; row < rows; row++) {
        const v = given === undefined ? f.default : typeof given === 'number' ? given : (given[row] as number);
        m.values[(run.start + k) * rows + row] = v;
        if (k === 0)
          m.status[r * rows + row] = given === undefined ? FeatureStatusCode.missing : FeatureStatusCode.present;
      }
    }
  });
  for (const t of transformPlanOf(layout)) {
    for (const { cols, fn, column } of t.outputs) {
      const x = new Float64Array(cols.length);
      let dst = column * rows;
      for (let row = 0; row < rows; row++, dst++) {
        for (let i = 0; i < cols.length; i++) x[i] = m.values[(cols[i] as number) * rows + row] as number;
        m.values[dst] = fn(x);
      }
    }
    for (let row = 0; row < rows; row++) {
      let all = true;
      for (const owner of t.inputRuns) if (m.status[owner * rows + row] !== FeatureStatusCode.present) all = false;
      m.status[t.run * rows + row] = all ? FeatureStatusCode.present : FeatureStatusCode.defaulted;
    }
  }
}
