import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultConfig } from '../core/index.js';
import { UNIT_CHANGE_COLUMN } from '../world/index.js';
import { runCli } from './program.js';
import { capturingIo } from './test-io.js';

afterEach(() => vi.unstubAllEnvs());

describe('adnova CLI', () => {
  it('prints its version as text and JSON', async () => {
    const io = capturingIo();
    expect(await runCli(['version', '--json'], io)).toBe(0);
    const info = JSON.parse(io.stdout());
    expect(info.name).toBe('adnova');
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('config show --json prints the effective config with environment overrides applied', async () => {
    vi.stubEnv('ADNOVA_SERVING_PORT', '9123');
    const io = capturingIo();
    expect(await runCli(['config', 'show', '--json'], io)).toBe(0);
    const config = JSON.parse(io.stdout());
    expect(config).toEqual({ ...defaultConfig(), serving: { ...defaultConfig().serving, port: 9123 } });
  });

  it('exits 2 with a message naming key, value and expectation for a bad config value', async () => {
    vi.stubEnv('ADNOVA_SERVING_PORT', 'abc');
    const io = capturingIo();
    expect(await runCli(['config', 'show', '--json'], io)).toBe(2);
    expect(io.stderr()).toMatch(/CONFIG_INVALID.*ADNOVA_SERVING_PORT="abc".*expected an integer from 1 to 65535/);
    expect(io.stdout()).toBe('');
  });

  it('exits 2 on unknown commands and options, 0 on --help', async () => {
    const io = capturingIo();
    expect(await runCli(['nonsense'], io)).toBe(2);
    expect(io.stderr()).toMatch(/unknown command 'nonsense'/);
    expect(await runCli(['version', '--bogus'], capturingIo())).toBe(2);
    const help = capturingIo();
    expect(await runCli(['--help'], help)).toBe(0);
    expect(help.stdout()).toMatch(/Usage: adnova/);
    expect(await runCli(['demo', '--help'], capturingIo())).toBe(0);
  });

  it('demo runs on embedded defaults and reports every stage', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'adnova-demo-'));
    vi.stubEnv('ADNOVA_STORE_DIR', storeDir);
    vi.stubEnv('ADNOVA_LOG_LEVEL', 'silent');
    const io = capturingIo();
    expect(await runCli(['demo', '--json'], io)).toBe(0);
    const { stages } = JSON.parse(io.stdout()) as {
      stages: Array<{ stage: string; status: string; summary: Record<string, unknown> }>;
    };
    expect(stages.map((s) => s.stage)).toEqual([
      'config',
      'world',
      'features',
      'stream',
      'model',
      'monitor',
      'decision',
      'audience',
      'serving',
      'privacy',
    ]);
    expect(stages.every((s) => s.status === 'ok' || s.status === 'not-built')).toBe(true);
    expect(stages[0]?.status).toBe('ok');
    // the monitor stage compares the world's own snapshots around its unit-change day: that column must lead
    const monitor = stages.find((s) => s.stage === 'monitor');
    expect(monitor?.summary['source']).toBe('world batch snapshots');
    expect(monitor?.summary['drifted']).toEqual(expect.arrayContaining([UNIT_CHANGE_COLUMN]));
    expect((monitor?.summary['drifted'] as string[] | undefined)?.[0]).toBe(UNIT_CHANGE_COLUMN);
  }, 120_000);
});
