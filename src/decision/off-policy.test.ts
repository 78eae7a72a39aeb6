import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { estimatePolicyValue, type UniformExplorationLog, wilsonInterval } from './off-policy.js';

interface SyntheticCampaign {
  /** Goal probability of each pool user. */
  readonly p: Float64Array;
  /** Pool rows of the policy's audience (the users it would send to that the logging policy could reach). */
  readonly audience: Uint8Array;
  readonly logged: number;
}

/** Campaigns shaped like a World's: pools of ~2,000, audiences of ~2% chosen by a noisy score, a few logged sends. */
function campaigns(rng: Rng, count: number, logged: () => number): SyntheticCampaign[] {
  const out: SyntheticCampaign[] = [];
  for (let c = 0; c < count; c++) {
    const n = 1500 + rng.int(1000);
    const p = new Float64Array(n);
    const score = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      p[i] = 1 / (1 + Math.exp(-(-2.5 + 1.2 * z)));
      score[i] = z + 0.7 * rng.normal();
    }
    const k = 20 + rng.int(60);
    const top = Array.from(score.keys())
      .sort((a, b) => (score[b] as number) - (score[a] as number))
      .slice(0, k);
    const audience = new Uint8Array(n);
    for (const i of top) audience[i] = 1;
    out.push({ p, audience, logged: Math.min(n, logged()) });
  }
  return out;
}

const truth = (cs: readonly SyntheticCampaign[]) => {
  let t = 0;
  for (const c of cs) for (let i = 0; i < c.p.length; i++) if (c.audience[i]) t += c.p[i] as number;
  return t;
};

/** One replicate of the logging policy: a uniform draw without replacement per campaign, outcomes drawn from p. */
function logsOf(rng: Rng, cs: readonly SyntheticCampaign[]): UniformExplorationLog[] {
  return cs.map((c) => {
    const n = c.p.length;
    const picked = new Set<number>();
    while (picked.size < c.logged) picked.add(rng.int(n));
    const rows = [...picked];
    let policyInPool = 0;
    for (const a of c.audience) policyInPool += a;
    return {
      poolSize: n,
      inPolicy: Uint8Array.from(rows, (i) => c.audience[i] as number),
      outcome: Uint8Array.from(rows, (i) => (rng.next() < (c.p[i] as number) ? 1 : 0)),
      policyInPool,
    };
  });
}

describe('estimatePolicyValue (self-normalised IPS from uniform exploration)', () => {
  it('is unbiased for the audiences expected outcomes when the logs are dense', () => {
    const rng = new Rng(11);
    const cs = campaigns(rng, 20, () => 400);
    const t = truth(cs);
    let sum = 0;
    const reps = 300;
    let covered = 0;
    for (let r = 0; r < reps; r++) {
      const e = estimatePolicyValue(logsOf(rng, cs));
      sum += e.estimate;
      if (e.ci95[0] <= t && t <= e.ci95[1]) covered++;
    }
    expect(Math.abs(sum / reps - t) / t).toBeLessThan(0.02);
    expect(covered / reps).toBeGreaterThan(0.92);
  });

  it('keeps 95% coverage when only a handful of logged sends fall in the audiences (a World evaluation)', () => {
    const rng = new Rng(5);
    // ~80 campaigns, 1-8 exploration sends each: about 6 land in the audiences, as on a 3,000-user World
    const cs = campaigns(rng, 80, () => 1 + rng.int(8));
    const t = truth(cs);
    const reps = 1000;
    let covered = 0;
    let normalCovered = 0;
    let matched = 0;
    for (let r = 0; r < reps; r++) {
      const logs = logsOf(rng, cs);
      const e = estimatePolicyValue(logs);
      matched += e.matched;
      if (e.ci95[0] <= t && t <= e.ci95[1]) covered++;
      // the plain Horvitz-Thompson sum with a normal interval, for contrast
      let ht = 0;
      let v = 0;
      for (const l of logs) {
        const w = l.poolSize / l.inPolicy.length;
        for (let i = 0; i < l.inPolicy.length; i++)
          if (l.inPolicy[i] && l.outcome[i]) {
            ht += w;
            v += w * w;
          }
      }
      const half = 1.96 * Math.sqrt(v);
      if (ht - half <= t && t <= ht + half) normalCovered++;
    }
    expect(matched / reps).toBeGreaterThan(2);
    expect(matched / reps).toBeLessThan(15);
    expect(covered / reps).toBeGreaterThan(0.93);
    // with a few hits (often none) the normal interval collapses to a point: far below 95%
    expect(normalCovered / reps).toBeLessThan(0.88);
  });

  it('says the estimate is about the audience inside the pools only', () => {
    const e = estimatePolicyValue([
      { poolSize: 10, inPolicy: [1, 1, 0, 0], outcome: [1, 0, 1, 0], policyInPool: 4 },
      { poolSize: 5, inPolicy: [], outcome: [], policyInPool: 2 },
    ]);
    // one campaign logged: matched rate 1/2, 4 audience users in its pool
    expect(e.estimate).toBeCloseTo(2, 12);
    expect(e).toMatchObject({ campaigns: 1, logged: 4, matched: 2, hits: 1, policyInPool: 4 });
    expect(e.ci95[0]).toBeLessThan(2);
    expect(e.ci95[1]).toBeGreaterThan(2);
    expect(e.ci95[1]).toBeLessThanOrEqual(4);
  });

  it('refuses logs it cannot read', () => {
    expect(() => estimatePolicyValue([{ poolSize: 1, inPolicy: [1, 0], outcome: [1, 0], policyInPool: 1 }])).toThrow(
      /poolSize must be an integer >= the 2 logged sends, got 1/,
    );
    expect(() => estimatePolicyValue([{ poolSize: 4, inPolicy: [1], outcome: [1, 0], policyInPool: 1 }])).toThrow(
      /1 inPolicy flags but 2 outcomes/,
    );
    expect(() => estimatePolicyValue([{ poolSize: 4, inPolicy: [1], outcome: [0.5], policyInPool: 1 }])).toThrow(
      /outcome\[0\] must be 0 or 1, got 0.5/,
    );
    expect(() => estimatePolicyValue([{ poolSize: 4, inPolicy: [1], outcome: [1], policyInPool: 5 }])).toThrow(
      /policyInPool must be an integer in \[0, 4\], got 5/,
    );
  });

  it('gives a Wilson interval that stays open at zero hits', () => {
    const [lo, hi] = wilsonInterval(0, 6);
    expect(lo).toBe(0);
    expect(hi).toBeCloseTo(0.39, 2);
    const [a, b] = wilsonInterval(0.5, 100);
    expect(a).toBeCloseTo(0.404, 3);
    expect(b).toBeCloseTo(0.596, 3);
  });
});
