import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MS_PER_DAY, Rng } from '../core/index.js';
import { parseCampaignSpec } from './campaign.js';
import { DecisionIndexCorruptError, UnknownTargetError } from './errors.js';
import { inControlGroup } from './policy.js';
import { retrievalReason, retrieve } from './retrieval.js';
import { INDEX_KEYS, newBitmap, SegmentIndex } from './segment-index.js';
import { UserIndex } from './user-index.js';

const DAY0 = Date.UTC(2026, 2, 10);
const COUNTRIES = ['US', 'GB', 'DE', 'FR'];
const PLATFORMS = ['ios', 'android', 'web'];
const BANDS = ['18-24', '25-34', '35-44'];

interface U {
  id: string;
  country: string;
  platform: string;
  ageBand: string;
  email: boolean;
  push: boolean;
  vip: boolean;
  lastActive: number;
}

function population(n: number, seed = 1): U[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `u${String(i).padStart(6, '0')}`,
    country: COUNTRIES[rng.int(COUNTRIES.length)] as string,
    platform: PLATFORMS[rng.int(PLATFORMS.length)] as string,
    ageBand: BANDS[rng.int(BANDS.length)] as string,
    email: rng.next() < 0.7,
    push: rng.next() < 0.4,
    vip: rng.next() < 0.2,
    lastActive: rng.next() < 0.1 ? Number.NaN : DAY0 - Math.floor(rng.next() * 40 * MS_PER_DAY),
  }));
}

function indexOf(users: U[]): SegmentIndex {
  const index = new SegmentIndex();
  for (const u of users)
    index.upsertUser(u.id, {
      country: u.country,
      platform: u.platform,
      ageBand: u.ageBand,
      consent: { email: u.email, push: u.push, in_app: true },
      segments: { vip: u.vip, all: true },
      lastActiveTs: u.lastActive,
    });
  return index;
}

const campaign = (targeting: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  parseCampaignSpec({
    id: 'c1',
    advertiserId: 'a1',
    channel: 'email',
    goal: 'open',
    vertical: 'apparel',
    targeting,
    desiredAudienceSize: 10,
    schedule: { launch: DAY0 },
    ...extra,
  });

/** The rules written out by hand, one user at a time: what the bitmap expression must equal. */
function expected(u: U, t: Record<string, unknown>, suppressed: Set<string>): boolean {
  if (!u.email) return false;
  if (t.countries && !(t.countries as string[]).includes(u.country)) return false;
  if (t.platforms && !(t.platforms as string[]).includes(u.platform)) return false;
  if (t.ageBands && !(t.ageBands as string[]).includes(u.ageBand)) return false;
  if (t.segments && !(u.vip && (t.segments as string[]).includes('vip')) && !(t.segments as string[]).includes('all'))
    return false;
  if (t.activeWithinDays !== undefined) {
    if (Number.isNaN(u.lastActive) || (DAY0 - u.lastActive) / MS_PER_DAY > (t.activeWithinDays as number)) return false;
  }
  return !suppressed.has(u.id);
}

describe('retrieval on bitmaps', () => {
  const users = population(3000);
  const index = indexOf(users);
  const suppressed = new Set(users.filter((_, i) => i % 17 === 0).map((u) => u.id));
  index.set(
    INDEX_KEYS.list('unsub_2026'),
    [...suppressed].map((id) => index.users.denseOf(id) as number),
  );

  const cases: Record<string, unknown>[] = [
    {},
    { countries: ['US', 'DE'] },
    { platforms: ['web'] },
    { ageBands: ['25-34', '35-44'] },
    { segments: ['vip'] },
    { activeWithinDays: 7 },
    { countries: ['GB'], platforms: ['ios', 'android'], ageBands: ['18-24'], segments: ['vip'], activeWithinDays: 30 },
  ];

  for (const t of cases) {
    it(`equals the rules applied user by user: ${JSON.stringify(t)}`, () => {
      const c = campaign(t, { suppressionLists: ['unsub_2026'] });
      const { candidates, stages } = retrieve(c, index, { atMs: DAY0 + 5 * 3_600_000 });
      const want = users.filter((u) => expected(u, t, suppressed)).map((u) => index.users.denseOf(u.id));
      expect(candidates.toArray()).toEqual(want);
      // stage counts never grow and end at the candidates
      for (let i = 1; i < stages.length; i++)
        expect(stages[i]?.remaining).toBeLessThanOrEqual(stages[i - 1]?.remaining as number);
      expect(stages[stages.length - 1]?.remaining).toBe(candidates.size);
      // every user out has a reason, every user in has none
      for (const u of users) {
        const d = index.users.denseOf(u.id) as number;
        const reason = retrievalReason(c, index, d, { atMs: DAY0 + 5 * 3_600_000 });
        expect(reason === null).toBe(candidates.has(d));
      }
    });
  }

  it('names the first rule a user fails', () => {
    const c = campaign({ countries: ['US'] }, { suppressionLists: ['unsub_2026'] });
    const noConsent = users.find((u) => !u.email) as U;
    const wrongCountry = users.find((u) => u.email && u.country !== 'US') as U;
    const listed = users.find((u) => u.email && u.country === 'US' && suppressed.has(u.id)) as U;
    const at = { atMs: DAY0 };
    expect(retrievalReason(c, index, index.users.denseOf(noConsent.id), at)?.rule).toBe('consent');
    expect(retrievalReason(c, index, index.users.denseOf(wrongCountry.id), at)?.rule).toBe('country');
    expect(retrievalReason(c, index, index.users.denseOf(listed.id), at)).toEqual({
      rule: 'suppression_list',
      detail: 'list unsub_2026',
    });
    expect(retrievalReason(c, index, undefined, at)?.rule).toBe('known_user');
  });

  it('applies the control group and the frequency cap bitmaps', () => {
    const c = campaign({});
    const all = retrieve(c, index, { atMs: DAY0 }).candidates;
    const control = newBitmap(all.toArray().filter((d) => d % 10 === 0));
    const capped = newBitmap(all.toArray().filter((d) => d % 10 === 1));
    const { candidates, stages } = retrieve(c, index, { atMs: DAY0, controlGroup: control, capped });
    expect(candidates.size).toBe(all.size - control.size - capped.size);
    expect(stages.map((s) => s.rule).slice(-2)).toEqual(['control_group', 'frequency_cap']);
    expect(retrievalReason(c, index, control.toArray()[0], { atMs: DAY0, controlGroup: control })?.rule).toBe(
      'control_group',
    );
  });

  it('leaves the index bitmaps as they were (one working copy, narrowed in place)', () => {
    const sizes = () => index.keys().map((k) => [k, index.bitmap(k).size]);
    const before = sizes();
    for (const t of cases) retrieve(campaign(t, { suppressionLists: ['unsub_2026'] }), index, { atMs: DAY0 });
    const single = retrieve(campaign({}), index, { atMs: DAY0 }).candidates;
    single.clear(); // the result is the caller's: changing it changes nothing in the index
    expect(sizes()).toEqual(before);
  });

  it('keeps a control group bitmap equal to the hash rule, extended for new users', () => {
    const idx = indexOf(users.slice(0, 500));
    const want = (n: number, share: number) =>
      users
        .slice(0, n)
        .filter((u) => inControlGroup(u.id, share))
        .map((u) => idx.users.denseOf(u.id));
    expect(idx.controlGroup(0.1).toArray()).toEqual(want(500, 0.1));
    for (const u of users.slice(500, 800)) idx.upsertUser(u.id, { country: u.country });
    expect(idx.controlGroup(0.1).toArray()).toEqual(want(800, 0.1));
    expect(idx.controlGroup(0.3).toArray()).toEqual(want(800, 0.3));
    expect(want(800, 0.3).length).toBeGreaterThan(want(800, 0.1).length);
  });

  it('sees an unsubscribe and new activity as soon as they are applied', () => {
    const idx = indexOf(users.slice(0, 200));
    const c = campaign({ activeWithinDays: 3 });
    const before = retrieve(c, idx, { atMs: DAY0 }).candidates;
    const member = before.toArray()[0] as number;
    idx.remove(INDEX_KEYS.consent('email'), member);
    expect(retrieve(c, idx, { atMs: DAY0 }).candidates.has(member)).toBe(false);
    const idle = users.slice(0, 200).findIndex((u) => u.email && !before.has(idx.users.denseOf(u.id) as number));
    const d = idx.users.denseOf((users[idle] as U).id) as number;
    idx.touch(d, DAY0 + 60_000);
    expect(retrieve(c, idx, { atMs: DAY0 + 120_000 }).candidates.has(d)).toBe(true);
  });

  it('keeps the union of a multi-value rule until one of its bitmaps changes', () => {
    const idx = indexOf(users.slice(0, 300));
    const keys = ['US', 'GB'].map(INDEX_KEYS.country);
    const fresh = () =>
      newBitmap([...keys.flatMap((k) => idx.bitmap(k).toArray())])
        .toArray()
        .sort((a, b) => a - b);
    const first = idx.union(keys);
    expect(first.toArray()).toEqual(fresh());
    expect(idx.union(keys)).toBe(first); // cached
    const inDe = users.slice(0, 300).find((u) => u.country === 'DE') as U;
    const inUs = users.slice(0, 300).find((u) => u.country === 'US') as U;
    const dOf = (u: U) => idx.users.denseOf(u.id) as number;
    // an upsert that changes nothing the union reads keeps it
    idx.upsertUser(inUs.id, { country: 'US', platform: 'web' });
    expect(idx.union(keys)).toBe(first);
    const changes: Array<[string, () => void, (u: ReturnType<typeof idx.union>) => boolean]> = [
      ['a user moved into GB', () => idx.upsertUser(inDe.id, { country: 'GB' }), (u) => u.has(dOf(inDe))],
      ['a user moved out of US', () => idx.upsertUser(inUs.id, { country: 'FR' }), (u) => !u.has(dOf(inUs))],
      ['a member added', () => idx.add(INDEX_KEYS.country('US'), 299), (u) => u.has(299)],
      ['a member removed', () => idx.remove(INDEX_KEYS.country('US'), 299), (u) => !u.has(299)],
      ['a bitmap replaced', () => idx.set(INDEX_KEYS.country('GB'), [1, 2, 3]), (u) => u.has(1) && u.has(2)],
      ['a user deleted', () => idx.markDeleted(idx.users.userOf(2)), (u) => !u.has(2)],
    ];
    for (const [what, change, holds] of changes) {
      const before = idx.union(keys);
      change();
      const after = idx.union(keys);
      expect(after, what).not.toBe(before);
      expect(holds(after), what).toBe(true);
      expect(after.toArray(), what).toEqual(fresh());
    }
    // the candidates follow: a campaign on those countries retrieves from the current union
    const c = campaign({ countries: ['US', 'GB'] });
    expect(retrieve(c, idx, { atMs: DAY0 }).candidates.has(2)).toBe(false);
  });

  it('never brings a deleted user back', () => {
    const idx = indexOf(users.slice(0, 50));
    const u = users[3] as U;
    expect(idx.markDeleted(u.id)).toBe(true);
    idx.upsertUser(u.id, { country: 'US', consent: { email: true } });
    const d = idx.users.denseOf(u.id) as number;
    expect(retrieve(campaign({}), idx, { atMs: DAY0 }).candidates.has(d)).toBe(false);
    expect(idx.bitmap(INDEX_KEYS.consent('email')).has(d)).toBe(false);
    expect(idx.markDeleted('u999999')).toBe(false);
  });

  it('refuses unknown segments and suppression lists, naming the known ones', () => {
    expect(() => retrieve(campaign({ segments: ['whales'] }), index, { atMs: DAY0 })).toThrow(UnknownTargetError);
    expect(() => retrieve(campaign({ segments: ['whales'] }), index, { atMs: DAY0 })).toThrow(
      /known segments: all, vip/,
    );
    expect(() => retrieve(campaign({}, { suppressionLists: ['nope'] }), index, { atMs: DAY0 })).toThrow(
      /known lists: unsub_2026/,
    );
  });
});

describe('persistence', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('saves and loads the index with the same dense ids, bitmaps and activity', () => {
    const dir = mkdtempSync(join(tmpdir(), 'adnova-segidx-'));
    dirs.push(dir);
    const users = population(500, 7);
    const index = indexOf(users);
    index.save(dir);
    // more users after a save append to the same user file
    index.upsertUser('late-user', { country: 'FR', consent: { email: true } });
    index.save(dir);
    const loaded = SegmentIndex.load(dir);
    expect(loaded.users.size).toBe(501);
    expect(loaded.users.denseOf('late-user')).toBe(500);
    expect(loaded.keys()).toEqual(index.keys());
    for (const k of index.keys()) expect(loaded.bitmap(k).toArray()).toEqual(index.bitmap(k).toArray());
    const c = campaign({ activeWithinDays: 14 });
    expect(retrieve(c, loaded, { atMs: DAY0 }).candidates.toArray()).toEqual(
      retrieve(c, index, { atMs: DAY0 }).candidates.toArray(),
    );
  });

  it('reports a corrupt file with its own error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'adnova-segidx-'));
    dirs.push(dir);
    indexOf(population(20)).save(dir);
    writeFileSync(join(dir, 'bitmaps.bin'), Buffer.from([5, 0, 0, 0, 1, 2]));
    expect(() => SegmentIndex.load(dir)).toThrow(DecisionIndexCorruptError);
    writeFileSync(join(dir, 'users.txt'), 'u1\nu1\n');
    expect(() => UserIndex.load(join(dir, 'users.txt'))).toThrow(/users.txt:2: expected a new user id/);
  });
});
