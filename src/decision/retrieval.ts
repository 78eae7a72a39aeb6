import type { Campaign } from './campaign.js';
import { UnknownTargetError } from './errors.js';
import {
  andBitmaps,
  andNotBitmaps,
  type Bitmap,
  INDEX_KEYS,
  orBitmaps,
  type ReadonlyBitmap,
  type SegmentIndex,
} from './segment-index.js';

/** Retrieval's rules in the order they apply; a user's exclusion reason is the first one it fails. */
export const RETRIEVAL_RULES = [
  'known_user',
  'consent',
  'country',
  'platform',
  'age_band',
  'segment',
  'active_within',
  'deleted',
  'suppression_list',
  'control_group',
  'frequency_cap',
] as const;
export type RetrievalRule = (typeof RETRIEVAL_RULES)[number];

export interface StageCount {
  readonly stage: 'retrieve' | 'score' | 'policy';
  readonly rule: string;
  /** Users still in after this rule. */
  readonly remaining: number;
}

export interface RetrievalContext {
  /** Decision time (UTC epoch ms): "active within N days" counts from its day start. */
  readonly atMs: number;
  /** Users of the global control group (no campaign may reach them). */
  readonly controlGroup?: ReadonlyBitmap;
  /** Users who already reached their cap on this campaign's channel today. */
  readonly capped?: ReadonlyBitmap;
}

export interface Retrieval {
  readonly candidates: Bitmap;
  readonly stages: readonly StageCount[];
}

/** One rule of a campaign: keep the users in any of its bitmaps, or remove them (`not`). */
interface Rule {
  readonly rule: RetrievalRule;
  /** Index keys of the rule's bitmaps; empty for the rules whose bitmap is not an index key. */
  readonly keys: readonly string[];
  readonly not: boolean;
  readonly detail: string;
  /** "active within N days": N. */
  readonly activeDays?: number;
}

interface Step {
  readonly rule: RetrievalRule;
  /** The users the rule keeps (or removes, `not`). */
  readonly bitmap: ReadonlyBitmap;
  readonly not: boolean;
}

/**
 * A campaign's rules in order, with their details, built once per campaign: an online request checks 50
 * campaigns per user, and their keys and detail strings do not change (campaign specs are immutable).
 */
const rulesOf = new WeakMap<Campaign, readonly Rule[]>();

function campaignRules(c: Campaign): readonly Rule[] {
  const cached = rulesOf.get(c);
  if (cached) return cached;
  const t = c.targeting;
  const out: Rule[] = [
    { rule: 'known_user', keys: [INDEX_KEYS.users], not: false, detail: 'known user' },
    { rule: 'consent', keys: [INDEX_KEYS.consent(c.channel)], not: false, detail: `${c.channel} consent` },
  ];
  const anyOf = (rule: RetrievalRule, keys: readonly string[], detail: string) =>
    out.push({ rule, keys, not: false, detail });
  if (t.countries) anyOf('country', t.countries.map(INDEX_KEYS.country), `country in ${t.countries.join(',')}`);
  if (t.platforms) anyOf('platform', t.platforms.map(INDEX_KEYS.platform), `platform in ${t.platforms.join(',')}`);
  if (t.ageBands) anyOf('age_band', t.ageBands.map(INDEX_KEYS.ageBand), `age band in ${t.ageBands.join(',')}`);
  if (t.segments) anyOf('segment', t.segments.map(INDEX_KEYS.segment), `segment in ${t.segments.join(',')}`);
  if (t.activeWithinDays !== undefined)
    out.push({
      rule: 'active_within',
      keys: [],
      not: false,
      detail: `active within ${t.activeWithinDays} days`,
      activeDays: t.activeWithinDays,
    });
  out.push({ rule: 'deleted', keys: [INDEX_KEYS.deleted], not: true, detail: 'deleted user' });
  for (const list of c.suppressionLists)
    out.push({ rule: 'suppression_list', keys: [INDEX_KEYS.list(list)], not: true, detail: `list ${list}` });
  out.push({ rule: 'control_group', keys: [], not: true, detail: 'global control group' });
  out.push({ rule: 'frequency_cap', keys: [], not: true, detail: `${c.channel} cap reached today` });
  rulesOf.set(c, out);
  return out;
}

function listed(index: SegmentIndex, prefix: string): string {
  const names = index
    .keys()
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  return names.length ? names.join(', ') : 'none';
}

/** Segments and suppression lists the campaign names must exist in the index. */
function checkNames(c: Campaign, index: SegmentIndex): void {
  for (const s of c.targeting.segments ?? [])
    if (!index.has(INDEX_KEYS.segment(s)))
      throw new UnknownTargetError(
        `campaign ${c.id}: unknown segment ${JSON.stringify(s)}; known segments: ${listed(index, 'segment:')}`,
      );
  for (const list of c.suppressionLists)
    if (!index.has(INDEX_KEYS.list(list)))
      throw new UnknownTargetError(
        `campaign ${c.id}: unknown suppression list ${JSON.stringify(list)}; known lists: ${listed(index, 'list:')}`,
      );
}

/** The rule's bitmap now (the index may have changed since), or null when the rule does not apply. */
function bitmapOf(r: Rule, index: SegmentIndex, ctx: RetrievalContext): ReadonlyBitmap | null {
  if (r.keys.length) return index.union(r.keys);
  if (r.activeDays !== undefined) return index.activeWithin(r.activeDays, ctx.atMs);
  return (r.rule === 'control_group' ? ctx.controlGroup : ctx.capped) ?? null;
}

function steps(c: Campaign, index: SegmentIndex, ctx: RetrievalContext): Step[] {
  checkNames(c, index);
  const out: Step[] = [];
  for (const r of campaignRules(c)) {
    const bitmap = bitmapOf(r, index, ctx);
    if (bitmap) out.push({ rule: r.rule, bitmap, not: r.not });
  }
  return out;
}

/**
 * Stage 1: a campaign's candidates as a bitmap expression over the index: targeting rules intersect, suppressions
 * subtract. Feature predicates no bitmap covers are left to the scoring stage (they need the features it reads).
 */
export function retrieve(c: Campaign, index: SegmentIndex, ctx: RetrievalContext): Retrieval {
  const stages: StageCount[] = [];
  // each rule makes a new bitmap from the previous one, which is freed at once (clear); the index's bitmaps and
  // unions are only read (the first step borrows one). Narrowing one working copy in place (andInPlace) measured
  // 1.7x slower on 10M users (65 against 39 ms, same run).
  let cur: ReadonlyBitmap | null = null;
  let owned: Bitmap | null = null; // cur, when this call made it
  for (const s of steps(c, index, ctx)) {
    if (cur === null) cur = s.bitmap;
    else {
      const next: Bitmap = s.not ? andNotBitmaps(cur, s.bitmap) : andBitmaps(cur, s.bitmap);
      owned?.clear();
      cur = next;
      owned = next;
    }
    stages.push({ stage: 'retrieve', rule: s.rule, remaining: (cur as ReadonlyBitmap).size });
  }
  return { candidates: owned ?? orBitmaps([cur as ReadonlyBitmap]), stages };
}

/** Why retrieval leaves one user out: the first rule it fails (with the rule's detail), or null when it is in. */
export function retrievalReason(
  c: Campaign,
  index: SegmentIndex,
  dense: number | undefined,
  ctx: RetrievalContext,
): { rule: RetrievalRule; detail: string } | null {
  if (dense === undefined) return { rule: 'known_user', detail: 'unknown user' };
  checkNames(c, index);
  for (const r of campaignRules(c)) {
    let inAny: boolean;
    if (r.keys.length) {
      inAny = false;
      for (let k = 0; k < r.keys.length && !inAny; k++) inAny = index.bitmap(r.keys[k] as string).has(dense);
    } else if (r.activeDays !== undefined) inAny = index.activeWithin(r.activeDays, ctx.atMs).has(dense);
    else {
      const b = r.rule === 'control_group' ? ctx.controlGroup : ctx.capped;
      if (!b) continue;
      inAny = b.has(dense);
    }
    if (inAny === r.not) return { rule: r.rule, detail: r.detail };
  }
  return null;
}
