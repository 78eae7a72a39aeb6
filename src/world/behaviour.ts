/**
 * The behavioural model of the simulated world: distributions, latent traits and outcome probabilities.
 * Pure functions over numbers and typed arrays; the simulator drives them.
 */
import { MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, Rng } from '../core/index.js';
import type { ExponentialMixture, LogNormalDelay, WorldDistributions } from './manifest.js';
import { CONCEPT_DRIFT_CONVERT_FACTOR } from './scenarios.js';
import { AGE_BANDS, COUNTRIES, PLATFORMS, TOPICS, VERTICALS } from './schema.js';

export const N_TOPICS = TOPICS.length;
/** Standardized traits the filler columns correlate with: log activity, price, fatigue, responsiveness, 20 interests. */
export const N_TRAITS = 4 + N_TOPICS;

/** UTC offset in hours per COUNTRIES entry (for local time of day). */
export const COUNTRY_UTC_OFFSET_H = [-5, 0, 1, 1, 1, 1, -3, -6, 9, 5.5] as const;

export const LATENESS: ExponentialMixture = {
  kind: 'exponential-mixture',
  components: [
    { share: 0.9, meanMs: 2_000 },
    { share: 0.08, meanMs: 2 * MS_PER_MINUTE },
    { share: 0.02, meanMs: 3 * MS_PER_HOUR },
  ],
};
export const OPEN_DELAY: LogNormalDelay = {
  kind: 'lognormal',
  medianMs: 1.5 * MS_PER_HOUR,
  sigma: 1.0,
  maxMs: 48 * MS_PER_HOUR,
};
export const CLICK_DELAY: LogNormalDelay = {
  kind: 'lognormal',
  medianMs: 10 * MS_PER_MINUTE,
  sigma: 1.2,
  maxMs: 24 * MS_PER_HOUR,
};
export const CONVERSION_DELAY: LogNormalDelay = {
  kind: 'lognormal',
  medianMs: MS_PER_DAY,
  sigma: 1.0,
  maxMs: 14 * MS_PER_DAY,
};
export const CONVERSION_DELAY_LATE: LogNormalDelay = {
  kind: 'lognormal',
  medianMs: 5 * MS_PER_DAY,
  sigma: 0.6,
  maxMs: 14 * MS_PER_DAY,
};
/** After an outage, held-back events arrive uniformly within this long after it ends. */
export const OUTAGE_BURST_MS = 30 * MS_PER_MINUTE;
export const DAILY_DELETION_RATE = 0.0002;
export const FREQUENCY_CAP_PER_DAY = 3;
export const EXPLORE_SHARE = 0.1;

export function distributions(defectShare: number, labelDelay: boolean): WorldDistributions {
  return {
    lateness: LATENESS,
    openDelay: OPEN_DELAY,
    clickDelay: CLICK_DELAY,
    conversionDelay: CONVERSION_DELAY,
    conversionDelayAfterChange: labelDelay ? CONVERSION_DELAY_LATE : CONVERSION_DELAY,
    defectShare,
  };
}

/** A 32-bit seed for an independent stream, mixed from the world seed and up to three integers. */
export function streamSeed(seed: number, a: number, b = 0, c = 0): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [a, b, c]) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    h = (h + Math.floor(v / 4294967296)) >>> 0;
  }
  return h;
}

/** Stream kinds, so (user, day) streams for different purposes never coincide. */
export const STREAM = {
  user: 1,
  userDay: 2,
  campaignDay: 3,
  send: 4,
  fillerStable: 5,
  fillerDaily: 6,
  day: 7,
  sendTime: 8,
} as const;

// 65,536 standard-normal quantiles: a draw is one table lookup (filler columns need billions of draws).
export const NORMAL_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let k = 0; k < 65536; k++) t[k] = inverseNormalCdf((k + 0.5) / 65536);
  return t;
})();

export function fastNormal(rng: Rng): number {
  return NORMAL_TABLE[rng.nextUint32() >>> 16] as number;
}

/** Acklam's rational approximation (relative error < 1.2e-9). */
export function inverseNormalCdf(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628274631,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  if (p > 1 - pl) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}

export function normalCdf(x: number): number {
  // Abramowitz-Stegun 7.1.26 via erf; accurate to ~1e-7, enough for KS tests on delays
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function poisson(rng: Rng, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * rng.normal()));
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rng.next();
  } while (p > l);
  return k - 1;
}

export function exponential(rng: Rng, mean: number): number {
  return -Math.log(1 - rng.next()) * mean;
}

/** A draw from a truncated log-normal delay (inverse CDF on the truncated range: exact, no rejection loop). */
export function sampleDelay(rng: Rng, d: LogNormalDelay): number {
  const pMax = normalCdf(Math.log(d.maxMs / d.medianMs) / d.sigma);
  const u = Math.min(Math.max(rng.next() * pMax, 1e-12), 1 - 1e-12);
  return Math.min(d.maxMs, d.medianMs * Math.exp(d.sigma * inverseNormalCdf(u)));
}

/** CDF of a truncated log-normal delay, for tests and monitors. */
export function delayCdf(d: LogNormalDelay, ms: number): number {
  if (ms <= 0) return 0;
  if (ms >= d.maxMs) return 1;
  const pMax = normalCdf(Math.log(d.maxMs / d.medianMs) / d.sigma);
  return normalCdf(Math.log(ms / d.medianMs) / d.sigma) / pMax;
}

export function sampleLateness(rng: Rng): number {
  const u = rng.next();
  let acc = 0;
  for (const comp of LATENESS.components) {
    acc += comp.share;
    if (u < acc) return Math.floor(exponential(rng, comp.meanMs));
  }
  return Math.floor(exponential(rng, (LATENESS.components[0] as { meanMs: number }).meanMs));
}

export function pickWeighted(rng: Rng, cumulative: Float64Array): number {
  const u = rng.next() * (cumulative[cumulative.length - 1] as number);
  let i = 0;
  while (i < cumulative.length - 1 && u >= (cumulative[i] as number)) i++;
  return i;
}

export function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let acc = 0;
  weights.forEach((w, i) => {
    acc += w;
    out[i] = acc;
  });
  return out;
}

export const COUNTRY_CUM = cumulative(COUNTRIES.map((c) => c[1]));
export const PLATFORM_CUM = cumulative([0.35, 0.4, 0.25]);
export const AGE_CUM = cumulative([0.14, 0.26, 0.22, 0.17, 0.12, 0.09]);
/** Local-hour activity curve: low at night, lunch bump, evening peak. */
export const HOUR_CUM = cumulative([
  0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.6, 1.2, 1.6, 1.6, 1.5, 1.6, 2.0, 1.8, 1.5, 1.5, 1.6, 1.9, 2.3, 2.7, 2.9, 2.6, 1.9,
  1.1,
]);
/** Launch hours (UTC) of campaigns: business hours. */
export const LAUNCH_HOUR_CUM = cumulative([
  0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.5, 2.5, 3, 3, 2.5, 2, 2.5, 3, 3, 2.5, 2, 1.5, 1, 0.6, 0.4, 0.2, 0.1,
]);
/** Weekday factor, Monday first. */
export const WEEKDAY_FACTOR = [0.95, 0.95, 1.0, 1.0, 1.05, 1.15, 1.1] as const;
export const CAMPAIGN_WEEKDAY_FACTOR = [1.15, 1.15, 1.1, 1.1, 1.0, 0.7, 0.6] as const;
/** Price level per topic (USD per unit), for purchase amounts. */
export const TOPIC_PRICE = [45, 30, 160, 70, 40, 55, 80, 30, 15, 20, 18, 50, 25, 35, 300, 90, 40, 35, 60, 200] as const;

export function weekdayOf(ts: number): number {
  return (new Date(ts).getUTCDay() + 6) % 7;
}

export const BASE_VERTICALS = VERTICALS.map((v, i) => ({ v, i })).filter((x) => !x.v.emerging);
export const EMERGING_VERTICALS = VERTICALS.map((v, i) => ({ v, i })).filter((x) => x.v.emerging);
export const BASE_VERTICAL_CUM = cumulative(BASE_VERTICALS.map((_, k) => 1 / (1 + k * 0.15)));
export const VERTICAL_TOPICS: readonly (readonly number[])[] = VERTICALS.map((v) =>
  v.topics.map((t) => (TOPICS as readonly string[]).indexOf(t)),
);

/** Hidden per-user traits and profile, held as typed arrays (users x fields), never as objects per user. */
export class Population {
  readonly n: number;
  readonly country: Uint8Array;
  readonly language: Uint8Array;
  readonly platform: Uint8Array;
  readonly ageBand: Uint8Array;
  readonly signupTs: Float64Array;
  readonly consent0: Uint8Array; // users x 3 (email, push, in_app) at signup
  readonly activity: Float32Array;
  readonly priceSens: Float32Array;
  readonly fatigueSens: Float32Array;
  readonly responsiveness: Float32Array;
  readonly interest: Float32Array; // users x N_TOPICS
  readonly interestCum: Float32Array; // users x N_TOPICS, cumulative
  readonly tier: Uint8Array;
  readonly aovScale: Float32Array;
  readonly conceptSegment: Uint8Array;
  /** Standardized traits for filler columns: users x N_TRAITS. */
  readonly traitZ: Float32Array;

  constructor(n: number, seed: number, startTs: number, days: number) {
    this.n = n;
    this.country = new Uint8Array(n);
    this.language = new Uint8Array(n);
    this.platform = new Uint8Array(n);
    this.ageBand = new Uint8Array(n);
    this.signupTs = new Float64Array(n);
    this.consent0 = new Uint8Array(n * 3);
    this.activity = new Float32Array(n);
    this.priceSens = new Float32Array(n);
    this.fatigueSens = new Float32Array(n);
    this.responsiveness = new Float32Array(n);
    this.interest = new Float32Array(n * N_TOPICS);
    this.interestCum = new Float32Array(n * N_TOPICS);
    this.tier = new Uint8Array(n);
    this.aovScale = new Float32Array(n);
    this.conceptSegment = new Uint8Array(n);
    this.traitZ = new Float32Array(n * N_TRAITS);
    const z = new Float64Array(N_TOPICS);
    for (let i = 0; i < n; i++) {
      const rng = new Rng(streamSeed(seed, STREAM.user, i));
      const country = pickWeighted(rng, COUNTRY_CUM);
      this.country[i] = country;
      this.language[i] = rng.next() < 0.1 ? 0 : country; // index into COUNTRIES for language, 0 = US English
      const platform = pickWeighted(rng, PLATFORM_CUM);
      this.platform[i] = platform;
      const age = pickWeighted(rng, AGE_CUM);
      this.ageBand[i] = age;
      this.signupTs[i] =
        rng.next() < 0.05
          ? startTs + Math.floor(rng.next() * days * MS_PER_DAY)
          : startTs - Math.floor(MS_PER_DAY * (1 + rng.next() * rng.next() * 3 * 365));
      const mobile = platform !== 2;
      this.consent0[i * 3] = rng.next() < 0.8 ? 1 : 0;
      this.consent0[i * 3 + 1] = rng.next() < (mobile ? 0.6 : 0.25) ? 1 : 0;
      this.consent0[i * 3 + 2] = rng.next() < (mobile ? 0.9 : 0.5) ? 1 : 0;
      const actZ = rng.normal();
      this.activity[i] = Math.min(20, 1.2 * Math.exp(0.9 * actZ));
      const priceZ = rng.normal();
      this.priceSens[i] = sigmoid(priceZ);
      const fatZ = rng.normal() - 0.5;
      this.fatigueSens[i] = sigmoid(fatZ);
      const resp = 0.8 * rng.normal();
      this.responsiveness[i] = resp;
      let max = -Infinity;
      for (let k = 0; k < N_TOPICS; k++) {
        z[k] = 1.5 * rng.normal();
        if ((z[k] as number) > max) max = z[k] as number;
      }
      let sum = 0;
      for (let k = 0; k < N_TOPICS; k++) {
        z[k] = Math.exp((z[k] as number) - max);
        sum += z[k] as number;
      }
      let acc = 0;
      const base = i * N_TOPICS;
      const tz = i * N_TRAITS;
      this.traitZ[tz] = actZ;
      this.traitZ[tz + 1] = priceZ;
      this.traitZ[tz + 2] = fatZ + 0.5;
      this.traitZ[tz + 3] = resp / 0.8;
      for (let k = 0; k < N_TOPICS; k++) {
        const share = (z[k] as number) / sum;
        this.interest[base + k] = share;
        acc += share;
        this.interestCum[base + k] = acc;
        // log share relative to uniform, roughly standardized
        this.traitZ[tz + 4 + k] = (Math.log(share * N_TOPICS) + 1.2) / 1.6;
      }
      const tierScore = actZ - priceZ + 0.5 * rng.normal();
      this.tier[i] = tierScore > 1.5 ? 2 : tierScore > 0.5 ? 1 : 0;
      this.aovScale[i] = (1.4 - this.priceSens[i]!) * Math.exp(0.3 * rng.normal());
      this.conceptSegment[i] = platform === 1 && age <= 1 ? 1 : 0;
    }
  }

  /** Log of the user's interest in a vertical's topics relative to a uniform user. */
  affinity(i: number, vertical: number): number {
    const topics = VERTICAL_TOPICS[vertical] as readonly number[];
    let s = 0;
    for (const t of topics) s += this.interest[i * N_TOPICS + t] as number;
    return Math.max(-3, Math.log((s * N_TOPICS) / topics.length + 1e-3));
  }

  /** A topic drawn from the user's interests. */
  topic(i: number, rng: Rng): number {
    const u = rng.next();
    const base = i * N_TOPICS;
    for (let k = 0; k < N_TOPICS - 1; k++) if (u < (this.interestCum[base + k] as number)) return k;
    return N_TOPICS - 1;
  }
}

export const PLATFORM_INDEX = { ios: 0, android: 1, web: 2 } as const;
export const CHANNEL_OPEN_BASE = [-1.6, -2.2, -1.0] as const;
export const TIER_BONUS = [0, 0.15, 0.3] as const;

export interface SendContext {
  readonly channel: number;
  readonly vertical: number;
  readonly recencyDays: number;
  readonly sends7: number;
  readonly lifetimeOrders: number;
  readonly purchaseMultiplier: number;
  readonly conceptDrift: boolean;
}

export interface SendProbabilities {
  pOpen: number;
  pClickGivenOpen: number;
  pConvertGivenClick: number;
}

/** The true outcome model: latent traits x vertical x channel x recency x fatigue. */
export function sendProbabilities(pop: Population, i: number, s: SendContext, out: SendProbabilities): void {
  const aff = pop.affinity(i, s.vertical);
  const resp = pop.responsiveness[i] as number;
  const web = pop.platform[i] === 2;
  const platformPenalty = web ? (s.channel === 1 ? -1.0 : s.channel === 2 ? -0.5 : 0) : 0;
  const recency = Math.min(30, s.recencyDays);
  const lo =
    (CHANNEL_OPEN_BASE[s.channel] as number) +
    resp +
    0.5 * aff -
    0.12 * recency -
    0.25 * (pop.fatigueSens[i] as number) * s.sends7 +
    platformPenalty;
  out.pOpen = sigmoid(lo);
  out.pClickGivenOpen = sigmoid(-1.5 + 0.9 * aff + 0.5 * resp);
  const aov = (VERTICALS[s.vertical] as { aov: number }).aov;
  const lc =
    -1.6 +
    0.8 * aff -
    1.2 * ((pop.priceSens[i] as number) - 0.5) * Math.log(aov / 50) +
    0.25 * Math.log1p(s.lifetimeOrders) +
    (TIER_BONUS[pop.tier[i] as number] as number);
  let pc = Math.min(0.95, sigmoid(lc) * s.purchaseMultiplier);
  if (s.conceptDrift && pop.conceptSegment[i] === 1) pc *= CONCEPT_DRIFT_CONVERT_FACTOR;
  out.pConvertGivenClick = pc;
}

export const PLATFORM_NAMES = PLATFORMS;
export const AGE_BAND_NAMES = AGE_BANDS;
