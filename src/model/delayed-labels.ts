import { GOALS, type Goal, InvalidInputError, MS_PER_DAY, MS_PER_HOUR } from '../core/index.js';

export { GOALS, type Goal } from '../core/index.js';

/**
 * Attribution windows per goal: an outcome counts for a send when it happens within the window after the send, and
 * a send's label is final once the window has passed. Defaults cover the World's longest delays (open 48 h; click
 * 24 h after an open; conversion 14 days after a click).
 */
export const DEFAULT_ATTRIBUTION_WINDOWS_MS: Readonly<Record<Goal, number>> = {
  open: 48 * MS_PER_HOUR,
  click: 3 * MS_PER_DAY,
  convert: 17 * MS_PER_DAY,
};

export const IMMATURE_POLICIES = ['exclude', 'weight'] as const;
export type ImmaturePolicy = (typeof IMMATURE_POLICIES)[number];

export interface SendsColumns {
  readonly sendId: readonly string[];
  /** Send time, epoch ms. */
  readonly sendTs: ArrayLike<number>;
}

export interface OutcomesColumns {
  readonly sendId: readonly string[];
  /** open | click | convert */
  readonly kind: readonly string[];
  readonly outcomeTs: ArrayLike<number>;
}

export interface DelayedLabelOptions {
  readonly goal: Goal;
  /** What is known: outcomes after this time are invisible, sends younger than the window are immature. */
  readonly asOfMs: number;
  readonly windowMs?: number;
  /** exclude (default): drop immature sends. weight: keep them, see `DelayedLabels.weights`. */
  readonly immature?: ImmaturePolicy;
}

export interface DelayedLabels {
  /** Indices into the sends, in send order, of the rows kept. */
  readonly rows: Uint32Array;
  readonly labels: Uint8Array;
  /**
   * 1 for final labels (mature sends, and immature sends whose positive outcome is already seen). An immature send
   * with no outcome yet gets the probability that its label is already final: the share of mature positives whose
   * outcome came within the send's current age (empirical delay CDF), or without any mature positive the
   * truncation-corrected CDF of all visible positives (`truncatedDelayCdf`; a short history
   * has no mature conversion, and a CDF of none weighted every young negative 0). It is never a plain negative.
   */
  readonly weights: Float64Array;
  readonly mature: number;
  readonly immatureKept: number;
  readonly immatureExcluded: number;
  /** Outcomes of the goal later than the window (not attributed). */
  readonly lateOutcomes: number;
}

/**
 * Lynden-Bell's product-limit estimate of a delay CDF from right-truncated observations: each positive's delay is
 * seen only because it was at most the send's age. F(t) = prod over observed delays d_k > t of (1 - D_k / R_k), with
 * R_k the positives whose delay is <= d_k and whose age is >= d_k. Relative to the oldest age seen (nothing longer is
 * observable). Factors with fewer than 3 positives at risk are skipped: a lone long delay would otherwise set F to 0
 * below it, weighting every younger negative 0 again.
 */
const MIN_RISK_SET = 3;

export function truncatedDelayCdf(obs: readonly { delay: number; age: number }[]): (age: number) => number {
  const delays = [...new Set(obs.map((o) => o.delay))].sort((a, b) => a - b);
  // F just below each distinct delay, from the longest down
  const below = new Float64Array(delays.length);
  let f = 1;
  for (let k = delays.length - 1; k >= 0; k--) {
    const t = delays[k] as number;
    let r = 0;
    let d = 0;
    for (const o of obs) {
      if (o.delay <= t && o.age >= t) r++;
      if (o.delay === t) d++;
    }
    if (r >= MIN_RISK_SET) f *= 1 - d / r;
    below[k] = f;
  }
  return (age: number): number => {
    // F(age) = F just below the first delay greater than age
    let lo = 0;
    let hi = delays.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((delays[mid] as number) <= age) lo = mid + 1;
      else hi = mid;
    }
    return lo === delays.length ? 1 : (below[lo] as number);
  };
}

/** Labels for one goal from sends and outcomes as known at `asOfMs`. */
export function buildDelayedLabels(
  sends: SendsColumns,
  outcomes: OutcomesColumns,
  options: DelayedLabelOptions,
): DelayedLabels {
  const { goal, asOfMs } = options;
  if (!(GOALS as readonly string[]).includes(goal))
    throw new InvalidInputError(`goal must be one of ${GOALS.join(', ')}, got ${JSON.stringify(goal)}`);
  const windowMs = options.windowMs ?? DEFAULT_ATTRIBUTION_WINDOWS_MS[goal];
  if (!(windowMs > 0)) throw new InvalidInputError(`attribution window must be > 0 ms, got ${windowMs}`);
  if (!Number.isFinite(asOfMs)) throw new InvalidInputError(`asOfMs must be a finite epoch-ms time, got ${asOfMs}`);
  const policy = options.immature ?? 'exclude';
  const n = sends.sendId.length;
  if (sends.sendTs.length !== n) throw new InvalidInputError(`sends has ${n} ids and ${sends.sendTs.length} times`);
  const m = outcomes.sendId.length;
  if (outcomes.kind.length !== m || outcomes.outcomeTs.length !== m)
    throw new InvalidInputError(
      `outcomes has ${m} send ids, ${outcomes.kind.length} kinds and ${outcomes.outcomeTs.length} times`,
    );
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) index.set(sends.sendId[i] as string, i);
  // first visible outcome of the goal per send, within the window
  const firstOutcome = new Float64Array(n).fill(Number.NaN);
  let late = 0;
  for (let k = 0; k < m; k++) {
    if (outcomes.kind[k] !== goal) continue;
    const t = outcomes.outcomeTs[k] as number;
    if (!(t <= asOfMs)) continue;
    const i = index.get(outcomes.sendId[k] as string);
    if (i === undefined) continue;
    const delay = t - (sends.sendTs[i] as number);
    if (delay < 0 || delay > windowMs) {
      late++;
      continue;
    }
    const cur = firstOutcome[i] as number;
    if (Number.isNaN(cur) || t < cur) firstOutcome[i] = t;
  }
  // delay distribution of positives among mature sends: P(outcome seen by age a | positive)
  const delays: number[] = [];
  const truncated: { delay: number; age: number }[] = [];
  for (let i = 0; i < n; i++) {
    const s = sends.sendTs[i] as number;
    const f = firstOutcome[i] as number;
    if (Number.isNaN(f) || s > asOfMs) continue;
    if (s + windowMs <= asOfMs) delays.push(f - s);
    truncated.push({ delay: f - s, age: Math.min(windowMs, asOfMs - s) });
  }
  delays.sort((a, b) => a - b);
  const cdf =
    delays.length > 0 || truncated.length === 0
      ? (age: number): number => {
          if (delays.length === 0) return 0;
          let lo = 0;
          let hi = delays.length;
          while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if ((delays[mid] as number) <= age) lo = mid + 1;
            else hi = mid;
          }
          return lo / delays.length;
        }
      : truncatedDelayCdf(truncated);
  const rows: number[] = [];
  const labels: number[] = [];
  const weights: number[] = [];
  let mature = 0;
  let immatureKept = 0;
  let immatureExcluded = 0;
  for (let i = 0; i < n; i++) {
    const s = sends.sendTs[i] as number;
    if (s > asOfMs) continue; // sent after the cut-off: unknown
    const positive = !Number.isNaN(firstOutcome[i] as number);
    if (s + windowMs <= asOfMs) {
      mature++;
      rows.push(i);
      labels.push(positive ? 1 : 0);
      weights.push(1);
      continue;
    }
    if (policy === 'exclude') {
      immatureExcluded++;
      continue;
    }
    immatureKept++;
    rows.push(i);
    labels.push(positive ? 1 : 0);
    weights.push(positive ? 1 : cdf(asOfMs - s));
  }
  return {
    rows: Uint32Array.from(rows),
    labels: Uint8Array.from(labels),
    weights: Float64Array.from(weights),
    mature,
    immatureKept,
    immatureExcluded,
    lateOutcomes: late,
  };
}

/** Train / validation / test rows by send time: [.., validFromMs) / [validFromMs, testFromMs) / [testFromMs, ..). */
export function temporalSplit(
  timesMs: ArrayLike<number>,
  validFromMs: number,
  testFromMs: number,
): { train: Uint32Array; valid: Uint32Array; test: Uint32Array } {
  if (!(validFromMs <= testFromMs))
    throw new InvalidInputError(`validation start ${validFromMs} must not be after test start ${testFromMs}`);
  const train: number[] = [];
  const valid: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < timesMs.length; i++) {
    const t = timesMs[i] as number;
    (t < validFromMs ? train : t < testFromMs ? valid : test).push(i);
  }
  return { train: Uint32Array.from(train), valid: Uint32Array.from(valid), test: Uint32Array.from(test) };
}
