import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../core/index.js';
import { HashSet64, KeyedHasher, loadOrCreatePrivacyKey } from './keys.js';
import { openTombstoneLedger } from './tombstone-ledger.js';

describe('tombstone ledger', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-tomb-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is durable across opens, keyed by HMAC: the file holds no user id', async () => {
    const a = await openTombstoneLedger({ dir });
    expect(a.isDeleted('u0001')).toBe(false);
    const added = await a.add(['u0001', 'u0002', 'u0001'], 'del_1', 1000);
    expect(added.length).toBe(2);
    expect(a.isDeleted('u0001')).toBe(true);
    expect(a.isDeleted('u0003')).toBe(false);
    // a second request for the same user keeps the first record
    expect((await a.add(['u0002', 'u0003'], 'del_2', 2000)).length).toBe(1);
    expect(a.recordOf('u0002')?.requestId).toBe('del_1');
    const text = readFileSync(join(dir, 'tombstones.log'), 'utf8');
    expect(text).not.toContain('u0001');
    expect(text.trim().split('\n').length).toBe(3);
    const b = await openTombstoneLedger({ dir });
    expect(b.size).toBe(3);
    expect(['u0001', 'u0002', 'u0003', 'u0004'].map((u) => b.isDeleted(u))).toEqual([true, true, true, false]);
  });

  it('creates its key once with mode 0600, and refuses a key others can read', async () => {
    const k1 = loadOrCreatePrivacyKey(dir);
    expect(statSync(join(dir, 'key')).mode & 0o777).toBe(0o600);
    expect(loadOrCreatePrivacyKey(dir).equals(k1)).toBe(true);
    chmodSync(join(dir, 'key'), 0o644);
    expect(() => loadOrCreatePrivacyKey(dir)).toThrow(/mode 644/);
  });

  it('another key gives other hashes: the same id does not match', async () => {
    const a = await openTombstoneLedger({ dir });
    await a.add(['u42'], 'del_1', 1);
    const other = await openTombstoneLedger({ dir: join(dir, 'other'), log: a.log });
    expect(other.size).toBe(1);
    expect(other.isDeleted('u42')).toBe(false);
  });

  it('ignores a line torn by a crash and appends after it on a fresh line', async () => {
    const a = await openTombstoneLedger({ dir });
    await a.add(['u1'], 'del_1', 1);
    appendFileSync(join(dir, 'tombstones.log'), 'ab12cd');
    const b = await openTombstoneLedger({ dir });
    expect(b.size).toBe(1);
    await b.add(['u2'], 'del_2', 2);
    const c = await openTombstoneLedger({ dir });
    expect(c.isDeleted('u1') && c.isDeleted('u2')).toBe(true);
    appendFileSync(join(dir, 'tombstones.log'), 'this is not a tombstone line at all\nnor this\n');
    await expect(openTombstoneLedger({ dir })).rejects.toThrow(/is not a tombstone line/);
  });

  it('rejects a malformed id, naming it', async () => {
    const a = await openTombstoneLedger({ dir });
    await expect(a.add(['ok1', 'bad id'], 'del_1', 1)).rejects.toThrow(InvalidInputError);
    await expect(a.add(['-x'], 'del_1', 1)).rejects.toThrow(/"-x"/);
    expect(a.size).toBe(0);
  });
});

describe('prefilter', () => {
  it('HashSet64 finds what it holds across growth and nothing else', () => {
    const h = new KeyedHasher(Buffer.alloc(32, 7));
    const s = new HashSet64(4);
    for (let i = 0; i < 5000; i++) {
      const f = h.fastInto(`u${i}`);
      expect(s.add(f[0] as number, f[1] as number)).toBe(true);
    }
    expect(s.size).toBe(5000);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) {
      const f = h.fastInto(`u${i}`);
      if (s.has(f[0] as number, f[1] as number)) hits++;
    }
    expect(hits).toBe(5000);
  });

  it('depends on the key and on every character', () => {
    const a = new KeyedHasher(Buffer.alloc(32, 1));
    const b = new KeyedHasher(Buffer.alloc(32, 2));
    const ha = [...a.fastInto('user-1')];
    expect([...b.fastInto('user-1')]).not.toEqual(ha);
    expect([...a.fastInto('user-2')]).not.toEqual(ha);
    expect([...a.fastInto('user-1')]).toEqual(ha);
    expect(a.hmac('user-1')).toMatch(/^[0-9a-f]{64}$/);
  });
});
