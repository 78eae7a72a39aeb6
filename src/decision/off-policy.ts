import { InvalidInputError } from '../core/index.js';

/**
 * One campaign's logged exploration: the logging policy drew `logged` users uniformly without replacement from a
 * pool of `poolSize`, so every user of the pool had the same propensity logged / poolSize. For each logged send:
 * whether the evaluated policy would have sent to its user, and the observed (final) outcome.
 */
export interface UniformExplorationLog {
  readonly poolSize: number;
  /** 1 where the evaluated policy's audience holds the logged send's user, else 0. */
  readonly inPolicy: ArrayLike<number>;
  /** The logged send's observed outcome, 0 or 1 (its label must be final). */
  readonly outcome: ArrayLike<number>;
  /** Users of the evaluated audience inside the pool: the only ones the log can say anything about. */
  readonly policyInPool: number;
}

export interface PolicyValueEstimate {
  /** Estimated expected outcomes of the evaluated audiences, over their users inside the logging pools. */
  readonly estimate: number;
  /** 95% interval of the estimate. */
  readonly ci95: readonly [number, number];
  readonly campaigns: number;
  readonly logged: number;
  /** Logged sends whose user the evaluated policy would also have sent to. */
  readonly matched: number;
  /** Matched sends with a positive outcome. */
  readonly hits: number;
  /** Kish's effective number of matched sends, (sum w)^2 / sum w^2. */
  readonly effectiveMatched: number;
  /** The users the estimate is about: the evaluated audiences inside the logging pools. */
  readonly policyInPool: number;
}

const Z95 = 1.959963984540054;

/**
 * Wilson score interval of a proportion `p` measured on `n` (effective) draws. Unlike the normal interval it stays
 * honest when hits are few or none (0 of 6 gives [0, 0.39], not [0, 0]).
 */
export function wilsonInterval(p: number, n: number, z = Z95): [number, number] {
  if (!(n > 0)) return [0, 1];
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * Off-policy value of a deterministic audience policy from uniform exploration logs, as a self-normalised
 * inverse-propensity (Hajek) estimate: the outcome rate of the logged sends that fell in the policy's audiences,
 * each weighted by 1 / its propensity (pool / logged of its campaign), times the number of audience users inside
 * the pools. The estimand is sum over campaigns of the expected outcomes of the audience's users that the logging
 * policy could reach (users outside a pool have propensity 0: no log says anything about them). The interval is the
 * Wilson interval of the weighted rate at Kish's effective sample size, scaled the same way: a policy audience of a
 * few percent of a pool meets only a handful of exploration sends, and a normal interval around a handful of
 * Bernoulli draws (or none) is not a 95% interval.
 */
export function estimatePolicyValue(logs: readonly UniformExplorationLog[]): PolicyValueEstimate {
  let weightSum = 0;
  let weightSq = 0;
  let weightedHits = 0;
  let logged = 0;
  let matched = 0;
  let hits = 0;
  let policyInPool = 0;
  let campaigns = 0;
  logs.forEach((log, c) => {
    const m = log.inPolicy.length;
    if (log.outcome.length !== m)
      throw new InvalidInputError(`logs[${c}]: ${m} inPolicy flags but ${log.outcome.length} outcomes`);
    if (!(Number.isInteger(log.poolSize) && log.poolSize >= m))
      throw new InvalidInputError(
        `logs[${c}].poolSize must be an integer >= the ${m} logged sends, got ${String(log.poolSize)}`,
      );
    if (!(Number.isInteger(log.policyInPool) && log.policyInPool >= 0 && log.policyInPool <= log.poolSize))
      throw new InvalidInputError(
        `logs[${c}].policyInPool must be an integer in [0, ${log.poolSize}], got ${String(log.policyInPool)}`,
      );
    if (m === 0) return;
    campaigns++;
    logged += m;
    policyInPool += log.policyInPool;
    const w = log.poolSize / m;
    for (let i = 0; i < m; i++) {
      const y = log.outcome[i] as number;
      if (y !== 0 && y !== 1) throw new InvalidInputError(`logs[${c}].outcome[${i}] must be 0 or 1, got ${y}`);
      if (log.inPolicy[i] !== 1) continue;
      matched++;
      hits += y;
      weightSum += w;
      weightSq += w * w;
      weightedHits += w * y;
    }
  });
  const rate = weightSum > 0 ? weightedHits / weightSum : 0;
  const effective = weightSq > 0 ? (weightSum * weightSum) / weightSq : 0;
  const [lo, hi] = wilsonInterval(rate, effective);
  return {
    estimate: policyInPool * rate,
    ci95: [policyInPool * lo, policyInPool * hi],
    campaigns,
    logged,
    matched,
    hits,
    effectiveMatched: effective,
    policyInPool,
  };
}
