import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { worldDemoStage } from '../cli/demo/world.js';
import { runCli } from '../cli/program.js';
import { capturingIo } from '../cli/test-io.js';
import { createLogger, defaultConfig } from '../core/index.js';
import { readManifest } from './manifest.js';

const root = mkdtempSync(join(tmpdir(), 'adnova-world-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('adnova world (in-process)', () => {
  const dir = join(root, 'w');

  it('generate writes a world and reports row counts as JSON', async () => {
    const io = capturingIo();
    const code = await runCli(
      [
        'world',
        'generate',
        '--users',
        '200',
        '--days',
        '3',
        '--seed',
        '9',
        '--features',
        '20',
        '--scenario',
        'stream-outage',
        '--out',
        dir,
        '--json',
      ],
      io,
    );
    expect(code, io.stderr()).toBe(0);
    const summary = JSON.parse(io.stdout()) as { rows: Record<string, number>; scenarios: string[] };
    expect(summary.scenarios).toEqual(['stream-outage']);
    expect(summary.rows['users']).toBe(200);
    expect(summary.rows['events']).toBe(readManifest(dir).tables.events?.rows);
  });

  it('replay prints NDJSON envelopes in arrival order, without truth columns', async () => {
    const io = capturingIo();
    expect(await runCli(['world', 'replay', '--dir', dir, '--limit', '500'], io)).toBe(0);
    const lines = io
      .stdout()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { arrival_ts: number; message: Record<string, unknown> });
    expect(lines).toHaveLength(500);
    for (let i = 1; i < lines.length; i++)
      expect(lines[i]!.arrival_ts).toBeGreaterThanOrEqual(lines[i - 1]!.arrival_ts);
    expect(lines.every((l) => !('defect' in l.message) && !('arrival_ts' in l.message))).toBe(true);
    expect(
      lines.some((l) => l.message['event_type'] === 'page_view' && typeof l.message['category'] === 'string'),
    ).toBe(true);
  });

  it('replay to a file writes every event; the memory bus target is refused with a hint', async () => {
    const file = join(root, 'events.ndjson');
    const io = capturingIo();
    expect(await runCli(['world', 'replay', '--dir', dir, '--to', 'file', '--out', file], io)).toBe(0);
    const n = readFileSync(file, 'utf8').trimEnd().split('\n').length;
    expect(n).toBe(readManifest(dir).tables.events?.rows);
    const bad = capturingIo();
    expect(await runCli(['world', 'replay', '--dir', dir, '--to', 'memory'], bad)).toBe(2);
    expect(bad.stderr()).toMatch(/the memory bus lives inside one process.*adnova stream parity --bus memory/);
  });

  it('rejects bad input with exit code 2 and says what was expected', async () => {
    const io = capturingIo();
    expect(await runCli(['world', 'generate', '--users', 'many', '--out', join(root, 'x')], io)).toBe(2);
    expect(io.stderr()).toMatch(/--users expects a non-negative integer, got "many"/);
    const io2 = capturingIo();
    expect(await runCli(['world', 'generate', '--scenario', 'drifty', '--out', join(root, 'y')], io2)).toBe(2);
    expect(io2.stderr()).toMatch(/unknown scenario "drifty"; expected one of baseline/);
    const io3 = capturingIo();
    expect(await runCli(['world', 'import', 'kaggle', '--file', 'x.csv', '--out', join(root, 'z')], io3)).toBe(2);
    expect(io3.stderr()).toMatch(/unknown import source "kaggle"/);
    const io4 = capturingIo();
    expect(await runCli(['world', 'info', '--dir', join(root, 'none')], io4)).toBe(2);
    expect(io4.stderr()).toMatch(/no world at/);
  });

  it('the demo stage writes a small world under the work dir and hands it on', async () => {
    const state: Record<string, unknown> = {};
    const workDir = join(root, 'demo');
    const summary = await worldDemoStage?.run?.({
      config: defaultConfig(),
      io: capturingIo(),
      logger: createLogger({ level: 'silent' }),
      workDir,
      state,
    });
    expect(state['worldDir']).toBe(join(workDir, 'world'));
    expect(summary?.['users']).toBe(2000);
    expect(readManifest(join(workDir, 'world')).timeline[0]?.scenario).toBe('unit-change');
  });
});
