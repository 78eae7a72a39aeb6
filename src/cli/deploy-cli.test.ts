import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from './test-io.js';

describe('adnova deploy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adnova-deploy-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 2 naming the option for a bad tree count or control share', async () => {
    const trees = await runCliCaptured(['deploy', '--world', dir, '--out', join(dir, 'd'), '--trees', '0']);
    expect(trees.code).toBe(2);
    expect(trees.err).toMatch(/--trees.*0/);
    const share = await runCliCaptured(['deploy', '--world', dir, '--out', join(dir, 'd'), '--control-share', '1.5']);
    expect(share.code).toBe(2);
    expect(share.err).toMatch(/control-share.*\[0, 1\].*1\.5/);
  });

  it('exits 2 when the World directory is not a World, as JSON with --json', async () => {
    const r = await runCliCaptured(['deploy', '--world', join(dir, 'missing'), '--out', join(dir, 'd2'), '--json']);
    expect(r.code).toBe(2);
    const err = JSON.parse(r.err) as { error: { code: string; message: string } };
    expect(err.error.message).toMatch(/missing/);
  });

  it('will not build over a directory that holds something', async () => {
    const used = join(dir, 'used');
    mkdirSync(used, { recursive: true });
    writeFileSync(join(used, 'keep.txt'), 'x');
    const world = join(dir, 'w');
    const g = await runCliCaptured([
      'world',
      'generate',
      '--out',
      world,
      '--users',
      '200',
      '--days',
      '3',
      '--features',
      '16',
    ]);
    expect(g.code).toBe(0);
    const r = await runCliCaptured(['deploy', '--world', world, '--out', used]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not empty/);
  }, 60_000);
});
