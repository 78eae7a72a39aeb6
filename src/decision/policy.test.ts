import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { parseCampaignSpec } from './campaign.js';
import {
  applyPolicy,
  inControlGroup,
  inHoldout,
  MemoryCapLedger,
  OUTCOME,
  POLICY_OUTCOMES,
  type ScoredCandidates,
} from './policy.js';

const AT = Date.UTC(2026, 2, 10, 9);

const campaign = (id: string, extra: Record<string, unknown> = {}) =>
  parseCampaignSpec({
    id,
    advertiserId: 'a1',
    channel: 'email',
    goal: 'open',
    vertical: 'apparel',
    desiredAudienceSize: 10,
    schedule: { launch: AT },
    ...extra,
  });

function scored(id: string, n: number, seed: number, extra: Record<string, unknown> = {}): ScoredCandidates {
  const rng = new Rng(seed);
  const userIds = Array.from({ length: n }, (_, i) => `u${String(i).padStart(5, '0')}`);
  return { campaign: campaign(id, extra), userIds, scores: Float64Array.from(userIds, () => rng.next()) };
}

const outcomeOf = (d: { outcome: Uint8Array }, row: number) => POLICY_OUTCOMES[d.outcome[row] as number];

describe('policy: one campaign', () => {
  it('takes the top k by score above the minimum score, within the budget', () => {
    const s = scored('c1', 200, 1, {
      desiredAudienceSize: 30,
      minScore: 0.2,
      budgetUsd: 0.025,
      pricePerSendUsd: 0.001,
    });
    const [d] = applyPolicy([s], { atMs: AT });
    if (!d) throw new Error('no decision');
    expect(d.slots).toBe(25);
    const ranked = [...s.userIds.keys()].sort((a, b) => (s.scores[b] as number) - (s.scores[a] as number));
    expect([...d.members]).toEqual(ranked.slice(0, 25));
    for (let r = 0; r < 200; r++) {
      const o = outcomeOf(d, r);
      expect(o).toBeDefined(); // every candidate has a reason
      if ((s.scores[r] as number) < 0.2) expect(o).toBe('min_score');
      else if (!d.members.includes(r)) expect(o).toBe('budget');
      expect(d.rank[r]).toBe(ranked.indexOf(r));
    }
    expect(Object.values(d.counts).reduce((a, b) => a + b, 0)).toBe(200);
    expect(d.counts.exploit).toBe(25);
  });

  it('says rank, not budget, when the desired size is what binds', () => {
    const [d] = applyPolicy([scored('c1', 50, 2, { desiredAudienceSize: 5 })], { atMs: AT });
    expect(d?.counts.rank).toBe(45);
    expect(d?.counts.budget).toBe(0);
  });

  it('holds out the same users on every run, whatever the candidate order and scores', () => {
    const s = scored('c7', 2000, 3, { holdoutShare: 0.1, desiredAudienceSize: 500 });
    const [a] = applyPolicy([s], { atMs: AT });
    const reversed: ScoredCandidates = {
      campaign: s.campaign,
      userIds: [...s.userIds].reverse(),
      scores: Float64Array.from([...s.scores].reverse().map((x) => 1 - x)),
    };
    const [b] = applyPolicy([reversed], { atMs: AT });
    const held = (d: typeof a, ids: readonly string[]) =>
      ids.filter((_, r) => d?.outcome[r] === OUTCOME.holdout).sort();
    expect(held(a, s.userIds)).toEqual(held(b, reversed.userIds));
    const share = held(a, s.userIds).length / 2000;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
    // the comparison group is the holdout users ranked above the last pick
    const lastRank = Math.max(...[...(a?.members ?? [])].map((r) => a?.rank[r] as number));
    for (const r of a?.holdoutMembers ?? []) expect(a?.rank[r]).toBeLessThan(lastRank);
    expect(a?.holdoutMembers.length).toBeGreaterThan(30);
    // a different campaign holds out different users; the user-only control group does not depend on it
    expect(inHoldout('c7', 'u00001', 0.5)).toBe(inHoldout('c7', 'u00001', 0.5));
    const overlap = s.userIds.filter((u) => inHoldout('c7', u, 0.1) && inHoldout('c8', u, 0.1)).length;
    expect(overlap).toBeLessThan(60);
    expect(s.userIds.filter((u) => inControlGroup(u, 0.05)).length).toBeGreaterThan(60);
  });

  it('explores a share drawn uniformly among the eligible users left, with its propensity', () => {
    const n = 400;
    const hits = new Float64Array(n);
    let propensity = 0;
    const runs = 300;
    for (let k = 0; k < runs; k++) {
      const s = scored(`c${k}`, n, 5, { desiredAudienceSize: 40, explorationShare: 0.25 });
      const [d] = applyPolicy([s], { atMs: AT });
      if (!d) throw new Error('no decision');
      expect(d.counts.exploit).toBe(30);
      expect(d.counts.explore).toBe(10);
      for (const r of d.members) if (d.outcome[r] === OUTCOME.explore) hits[r] = (hits[r] as number) + 1;
      const explored = [...d.members].filter((r) => d.outcome[r] === OUTCOME.explore);
      propensity = d.propensity[explored[0] as number] as number;
      expect(propensity).toBeCloseTo(10 / 370, 12);
      for (const r of d.members) if (d.outcome[r] === OUTCOME.exploit) expect(d.propensity[r]).toBe(1);
    }
    // every non-exploit user is picked about runs * propensity times (same scores each run: same exploit set)
    const expected = runs * propensity;
    let chi = 0;
    let cells = 0;
    for (let r = 0; r < n; r++) {
      if ((hits[r] as number) === 0 && expected === 0) continue;
      const [d] = applyPolicy([scored('c0', n, 5, { desiredAudienceSize: 40, explorationShare: 0.25 })], { atMs: AT });
      if (d?.outcome[r] === OUTCOME.exploit) continue;
      chi += ((hits[r] as number) - expected) ** 2 / expected;
      cells++;
    }
    // chi-square with 369 degrees of freedom: mean 369, sd ~27; 500 is far in the tail
    expect(cells).toBe(370);
    expect(chi).toBeLessThan(500);
  });
});

describe('policy: frequency caps across campaigns', () => {
  it('gives a user the campaigns with the highest expected value, never more than the cap', () => {
    const rng = new Rng(11);
    const users = Array.from({ length: 300 }, (_, i) => `u${i}`);
    const items: ScoredCandidates[] = Array.from({ length: 6 }, (_, k) => {
      const ids = users.filter(() => rng.next() < 0.7);
      return {
        campaign: campaign(`c${k}`, { desiredAudienceSize: 60 + 10 * k, channel: k % 2 ? 'push' : 'email' }),
        userIds: ids,
        scores: Float64Array.from(ids, () => rng.next()),
      };
    });
    const ledger = new MemoryCapLedger();
    ledger.add('u1', 'email', AT, 2);
    const caps = { email: 2, push: 1, in_app: 3 };
    const decisions = applyPolicy(items, { atMs: AT, capsPerDay: caps, ledger });
    const got = new Map<string, { value: number; k: number }[]>();
    decisions.forEach((d, k) => {
      expect(d.counts.exploit).toBeLessThanOrEqual(d.slots);
      for (const r of d.members) {
        const u = items[k]?.userIds[r] as string;
        got.set(`${u}/${d.campaign.channel}`, [
          ...(got.get(`${u}/${d.campaign.channel}`) ?? []),
          { value: items[k]?.scores[r] as number, k },
        ]);
      }
    });
    for (const [key, list] of got) expect(list.length).toBeLessThanOrEqual(caps[key.split('/')[1] as 'email' | 'push']);
    expect(got.has('u1/email')).toBe(false); // the ledger's two earlier sends fill u1's email cap
    // a user who lost a campaign to the cap got only campaigns worth at least as much
    let lostToCap = 0;
    decisions.forEach((d, k) => {
      for (let r = 0; r < d.outcome.length; r++) {
        if (d.outcome[r] !== OUTCOME.frequency_cap) continue;
        lostToCap++;
        const u = items[k]?.userIds[r] as string;
        if (u === 'u1' && d.campaign.channel === 'email') continue;
        for (const g of got.get(`${u}/${d.campaign.channel}`) ?? [])
          expect(g.value).toBeGreaterThanOrEqual(items[k]?.scores[r] as number);
      }
    });
    expect(lostToCap).toBeGreaterThan(20);
    // committed: a second launch the same day sees the allocations
    const first = items[0] as ScoredCandidates;
    const full = new Set(first.userIds.filter((u) => ledger.count(u, 'email', AT) >= 2));
    expect(full.size).toBeGreaterThan(10);
    const again = applyPolicy([first], { atMs: AT + 1000, capsPerDay: caps, ledger })[0];
    for (const r of again?.members ?? []) expect(full.has(first.userIds[r] as string)).toBe(false);
    const lastRank = Math.max(...[...(again?.members ?? [])].map((r) => again?.rank[r] as number));
    for (let r = 0; r < first.userIds.length; r++)
      if (full.has(first.userIds[r] as string) && (again?.rank[r] as number) < lastRank)
        expect(again?.outcome[r]).toBe(OUTCOME.frequency_cap);
    // a preview does not touch the ledger
    const before = ledger.count('u5', 'email', AT);
    applyPolicy(items, { atMs: AT, capsPerDay: caps, ledger, commit: false });
    expect(ledger.count('u5', 'email', AT)).toBe(before);
  });

  it('frees the cap the next day', () => {
    const ledger = new MemoryCapLedger();
    ledger.add('u00000', 'email', AT, 5);
    const s = scored('c1', 3, 1, { desiredAudienceSize: 3 });
    expect(applyPolicy([s], { atMs: AT, ledger })[0]?.outcome[0]).toBe(OUTCOME.frequency_cap);
    expect(applyPolicy([s], { atMs: AT + 86_400_000, ledger })[0]?.outcome[0]).toBe(OUTCOME.exploit);
  });
});
