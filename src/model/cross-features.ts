import { InvalidInputError } from '../core/index.js';

/** What the catalogue knows of a campaign vertical: the event categories it sells in and its typical order value. */
export interface VerticalProfile {
  readonly categories: readonly string[];
  /** Typical order value in USD (the price a conversion asks the user to pay). */
  readonly orderValueUsd?: number;
}

/**
 * Features of a (user, campaign) pair computed from the user's served features and the campaign's vertical through a
 * vertical -> categories taxonomy. The taxonomy is configuration (a World's schema for World runs, a catalogue in
 * production), never code in the decision.
 */
export interface CrossFeatureSpec {
  readonly taxonomy: Readonly<Record<string, VerticalProfile>>;
  /** The served column with the user's recent events in one category; `{category}` is replaced by its name. */
  readonly categoryCountColumn: string;
  /** The served column with the user's mean order value (USD), for the price ratio. */
  readonly orderValueColumn?: string;
  /** Pseudo-events of the uniform prior that smooths the share of users with few events. Default 4. */
  readonly priorEvents?: number;
}

/**
 * - `vertical_affinity`: log of the (smoothed) share of the user's category events in the vertical's categories,
 *   relative to a user spread evenly over all categories (0 = no preference);
 * - `vertical_events`: the user's events in the vertical's categories;
 * - `vertical_price_ratio`: log(vertical order value / the user's mean order value), NaN without orders;
 * - `vertical_order_value`: log of the vertical's order value in USD (a campaign constant).
 */
export const CROSS_FEATURES = [
  'vertical_affinity',
  'vertical_events',
  'vertical_price_ratio',
  'vertical_order_value',
] as const;
export type CrossFeatureName = (typeof CROSS_FEATURES)[number];

/** A column of served values by row; rows past the end or NaN count as missing. */
export type ColumnLookup = (column: string) => ArrayLike<number>;

/**
 * One definition of the cross features for the training-set builder and the scorer, so training and serving compute
 * them identically: inputs are rounded to float32 (what the feature matrix holds) before the arithmetic.
 */
export class CrossFeatures {
  readonly spec: CrossFeatureSpec;
  /** Every category of the taxonomy, sorted: the universe the share is taken over. */
  readonly categories: readonly string[];
  /** The cross features this spec can compute (the price features need order values). */
  readonly names: readonly CrossFeatureName[];
  readonly #countColumns: readonly string[];
  readonly #prior: number;

  constructor(spec: CrossFeatureSpec) {
    if (!spec.categoryCountColumn.includes('{category}'))
      throw new InvalidInputError(
        `cross features: categoryCountColumn must contain "{category}", got "${spec.categoryCountColumn}"`,
      );
    const all = new Set<string>();
    for (const [v, p] of Object.entries(spec.taxonomy)) {
      if (!Array.isArray(p.categories) || p.categories.length === 0)
        throw new InvalidInputError(`cross features: vertical "${v}" needs a non-empty list of categories`);
      for (const c of p.categories) all.add(c);
      if (p.orderValueUsd !== undefined && !(p.orderValueUsd > 0))
        throw new InvalidInputError(
          `cross features: vertical "${v}" orderValueUsd must be > 0, got ${String(p.orderValueUsd)}`,
        );
    }
    if (all.size === 0) throw new InvalidInputError('cross features: the taxonomy has no vertical');
    const prior = spec.priorEvents ?? 4;
    if (!(prior > 0)) throw new InvalidInputError(`cross features: priorEvents must be > 0, got ${prior}`);
    this.spec = spec;
    this.categories = [...all].sort();
    this.#countColumns = this.categories.map((c) => this.countColumnOf(c));
    this.#prior = prior;
    const values = Object.values(spec.taxonomy).some((p) => p.orderValueUsd !== undefined);
    this.names = CROSS_FEATURES.filter(
      (n) =>
        n === 'vertical_affinity' ||
        n === 'vertical_events' ||
        (n === 'vertical_order_value' && values) ||
        (n === 'vertical_price_ratio' && values && spec.orderValueColumn !== undefined),
    );
  }

  has(name: string): name is CrossFeatureName {
    return (this.names as readonly string[]).includes(name);
  }

  countColumnOf(category: string): string {
    return this.spec.categoryCountColumn.replaceAll('{category}', category);
  }

  /** The served columns a cross feature reads. */
  inputsOf(name: CrossFeatureName): string[] {
    if (name === 'vertical_affinity' || name === 'vertical_events') return [...this.#countColumns];
    if (name === 'vertical_price_ratio') return this.spec.orderValueColumn ? [this.spec.orderValueColumn] : [];
    return [];
  }

  /**
   * Feature `name` for a campaign of `vertical` at rows `rows[i]` (i < dst.length; `rows` null: row i) of the served
   * columns. A vertical the taxonomy does not know gives NaN (missing) for every row.
   */
  fill(
    name: CrossFeatureName,
    vertical: string,
    column: ColumnLookup,
    rows: ArrayLike<number> | null,
    dst: Float32Array | Float64Array,
  ): void {
    const n = dst.length;
    const profile = Object.hasOwn(this.spec.taxonomy, vertical) ? this.spec.taxonomy[vertical] : undefined;
    const at = (i: number) => (rows ? (rows[i] as number) : i);
    if (!profile) {
      dst.fill(Number.NaN);
      return;
    }
    if (name === 'vertical_order_value') {
      dst.fill(profile.orderValueUsd ? Math.log(profile.orderValueUsd) : Number.NaN);
      return;
    }
    if (name === 'vertical_price_ratio') {
      const col = this.spec.orderValueColumn ? column(this.spec.orderValueColumn) : undefined;
      if (!col || !profile.orderValueUsd) {
        dst.fill(Number.NaN);
        return;
      }
      const logValue = Math.log(profile.orderValueUsd);
      for (let i = 0; i < n; i++) {
        const aov = Math.fround(col[at(i)] as number);
        dst[i] = aov > 0 ? logValue - Math.log(aov) : Number.NaN;
      }
      return;
    }
    const inVertical = new Set(profile.categories);
    const cols = this.categories.map((c) => column(this.countColumnOf(c)));
    const own = cols.filter((_, k) => inVertical.has(this.categories[k] as string));
    const count = (v: number) => {
      const x = Math.fround(v);
      return x > 0 ? x : 0; // NaN (missing) and defaults count as no events
    };
    if (name === 'vertical_events') {
      for (let i = 0; i < n; i++) {
        const r = at(i);
        let s = 0;
        for (const c of own) s += count(c[r] as number);
        dst[i] = s;
      }
      return;
    }
    const share0 = inVertical.size / this.categories.length;
    const prior = this.#prior;
    for (let i = 0; i < n; i++) {
      const r = at(i);
      let s = 0;
      let total = 0;
      for (const c of own) s += count(c[r] as number);
      for (const c of cols) total += count(c[r] as number);
      dst[i] = Math.log((s + prior * share0) / (total + prior) / share0);
    }
  }
}
