/**
 * What limits the decision's quality on a World: the oracle capture of rankings by the oracle's own formula with one
 * ingredient unknown (set to its population mean), over the candidates each campaign after the training period
 * retrieves, at its desired size (the day's caps and the intraday sends left out). A trait whose loss costs little
 * capture is not worth a feature; one whose loss costs much bounds what any model without it can reach.
 *
 *   npx tsx scripts/oracle-ablation.ts WORLD_DIR [TRAIN_DAYS=8]
 */
import { MS_PER_DAY } from '../src/core/index.js';
import { parseCampaignSpec } from '../src/decision/campaign.js';
import { retrieve } from '../src/decision/retrieval.js';
import { buildWorldSegmentIndex, worldCampaignSpecs } from '../src/decision/world-index.js';
import { Population, sendProbabilities } from '../src/world/behaviour.js';
import { WorldDb } from '../src/world/duckdb-world-db.js';
import { readManifest } from '../src/world/manifest.js';
import { CHANNELS, GOALS, VERTICAL_NAMES } from '../src/world/schema.js';

const dir = process.argv[2] as string;
const m = readManifest(dir);
const p = m.params as { users: number; days: number; seed: number; startTs: number };
const pop = new Population(p.users, p.seed, m.startTs, p.days);
const db = await WorldDb.open({ path: ':memory:' });
const trainEnd = m.startTs + Number(process.argv[3] ?? 8) * MS_PER_DAY;
const specs = (await worldCampaignSpecs(dir)).filter((s) => Number(s.schedule.launch) >= trainEnd);
const variants = ['oracle', 'noResp', 'noAff', 'noRecency', 'noFatigue', 'noPlatform', 'noPrice', 'noTier'] as const;
const sums: Record<string, { a: number; r: number; b: number }> = {};
for (const v of variants) sums[v] = { a: 0, r: 0, b: 0 };
const idx = new Map<number, Awaited<ReturnType<typeof buildWorldSegmentIndex>>>();
const state = new Map<number, Map<number, { la: number; lo: number; s7: number }>>();
for (const [n, s] of specs.entries()) {
  const c = parseCampaignSpec(s, `c${n}`);
  const day = Math.floor(c.launchTs / MS_PER_DAY) * MS_PER_DAY;
  if (!idx.has(day)) idx.set(day, await buildWorldSegmentIndex(db, dir, day));
  const d = Math.floor((day - m.startTs) / MS_PER_DAY);
  if (!state.has(d)) {
    const rows = await db.query(
      `SELECT CAST(substr(user_id,2) AS INTEGER) i, last_active_ts::DOUBLE la, lifetime_orders lo, sends_prior_6d s7 FROM read_parquet('${dir}/oracle_state.parquet') WHERE day=${d}`,
    );
    state.set(
      d,
      new Map(
        rows.map((r) => [
          Number(r.i),
          { la: r.la === null ? Number.NaN : Number(r.la), lo: Number(r.lo), s7: Number(r.s7) },
        ]),
      ),
    );
  }
  const st = state.get(d)!;
  const ret = retrieve(c, idx.get(day)!, { atMs: c.launchTs });
  const users = idx.get(day)!.users.usersOf(ret.candidates.toUint32Array());
  const k = Math.min(c.desiredAudienceSize, users.length);
  if (k === 0 || users.length === 0) continue;
  const ch = CHANNELS.indexOf(c.channel);
  const vt = VERTICAL_NAMES.indexOf(c.vertical as never);
  const g = GOALS.indexOf(c.goal);
  const probs = { pOpen: 0, pClickGivenOpen: 0, pConvertGivenClick: 0 };
  const score = (i: number, v: string) => {
    const s0 = st.get(i) ?? { la: Number.NaN, lo: 0, s7: 0 };
    const saved = {
      resp: pop.responsiveness[i]!,
      plat: pop.platform[i]!,
      price: pop.priceSens[i]!,
      tier: pop.tier[i]!,
      int: pop.interest.slice(i * 20, i * 20 + 20),
      fat: pop.fatigueSens[i]!,
    };
    if (v === 'noResp') pop.responsiveness[i] = 0;
    if (v === 'noPlatform') pop.platform[i] = 0;
    if (v === 'noPrice') pop.priceSens[i] = 0.5;
    if (v === 'noTier') pop.tier[i] = 0;
    if (v === 'noAff') pop.interest.fill(1 / 20, i * 20, i * 20 + 20);
    if (v === 'noFatigue') pop.fatigueSens[i] = 0;
    sendProbabilities(
      pop,
      i,
      {
        channel: ch,
        vertical: vt,
        recencyDays: v === 'noRecency' ? 3 : Number.isNaN(s0.la) ? 30 : Math.max(0, (day - s0.la) / MS_PER_DAY),
        sends7: s0.s7,
        lifetimeOrders: s0.lo,
        purchaseMultiplier: 1,
        conceptDrift: false,
      },
      probs,
    );
    pop.responsiveness[i] = saved.resp;
    pop.platform[i] = saved.plat;
    pop.priceSens[i] = saved.price;
    pop.tier[i] = saved.tier;
    pop.interest.set(saved.int, i * 20);
    pop.fatigueSens[i] = saved.fat;
    const pc = probs.pOpen * probs.pClickGivenOpen;
    return g === 0 ? probs.pOpen : g === 1 ? pc : pc * probs.pConvertGivenClick;
  };
  const ids = users.map((u) => Number(u.slice(1)));
  const truth = ids.map((i) => score(i, 'oracle'));
  const mean = truth.reduce((a, b) => a + b, 0) / truth.length;
  const best = [...truth]
    .sort((a, b) => b - a)
    .slice(0, k)
    .reduce((a, b) => a + b, 0);
  for (const v of variants) {
    const sv = ids.map((i) => score(i, v));
    const order = sv
      .map((x, j) => [x, j] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, k);
    const a = order.reduce((acc, [, j]) => acc + truth[j]!, 0);
    sums[v]!.a += a;
    sums[v]!.r += mean * k;
    sums[v]!.b += best;
  }
}
for (const v of variants) {
  const s = sums[v]!;
  console.log(v.padEnd(12), ((s.a - s.r) / (s.b - s.r)).toFixed(3));
}
db.close();
