import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/program.js';
import { capturingIo } from '../cli/test-io.js';
import { InvalidInputError, NotFoundError } from '../core/index.js';
import { FileKeyStore } from './keys.js';

describe('API keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adnova-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stores only a hash, authenticates in constant time by id, and refuses revoked, altered and unknown keys', () => {
    const store = new FileKeyStore(join(dir, 'a'));
    const { record, key } = store.create({ role: 'advertiser', advertiserId: 'adv-1' });
    expect(key).toMatch(/^adn_key_[a-z0-9]+_[A-Za-z0-9_-]{43}$/);
    const file = readFileSync(store.file, 'utf8');
    expect(file).not.toContain(key.split('_').pop());
    expect(file).toContain(record.sha256);
    expect(store.authenticate(key)).toEqual({ keyId: record.id, role: 'advertiser', advertiserId: 'adv-1' });
    const altered = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    expect(store.authenticate(altered)).toBeNull();
    expect(store.authenticate('nonsense')).toBeNull();
    // a second store instance (another process) sees the revocation through the file
    new FileKeyStore(join(dir, 'a')).revoke(record.id);
    expect(store.authenticate(key)).toBeNull();
    expect(() => store.revoke('key_missing')).toThrow(NotFoundError);
    expect(() => store.create({ role: 'advertiser' })).toThrow(InvalidInputError);
    expect(() => store.create({ role: 'admin', advertiserId: 'x' })).toThrow(InvalidInputError);
  });

  it('adnova keys create|list|revoke work on a deployment directory and exit 2 on bad usage', async () => {
    const d = join(dir, 'deployment');
    let io = capturingIo();
    expect(await runCli(['keys', 'create', '--advertiser', 'adv-9', '--deployment', d, '--json'], io)).toBe(0);
    const created = JSON.parse(io.stdout()) as { id: string; key: string; role: string };
    expect(created.role).toBe('advertiser');
    const store = new FileKeyStore(join(d, 'keys'));
    expect(store.authenticate(created.key)?.advertiserId).toBe('adv-9');
    io = capturingIo();
    expect(await runCli(['keys', 'list', '--deployment', d, '--json'], io)).toBe(0);
    const listed = JSON.parse(io.stdout()) as { keys: Record<string, unknown>[] };
    expect(listed.keys.map((k) => k['id'])).toEqual([created.id]);
    expect(JSON.stringify(listed)).not.toContain('sha256');
    io = capturingIo();
    expect(await runCli(['keys', 'revoke', created.id, '--deployment', d], io)).toBe(0);
    expect(store.authenticate(created.key)).toBeNull();
    expect(await runCli(['keys', 'create', '--deployment', d], capturingIo())).toBe(2);
    expect(await runCli(['keys', 'create', '--admin', '--advertiser', 'a', '--deployment', d], capturingIo())).toBe(2);
    expect(await runCli(['keys', 'revoke', 'key_nope', '--deployment', d], capturingIo())).toBe(2);
  });
});
