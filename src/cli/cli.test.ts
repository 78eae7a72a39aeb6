import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultConfig } from '../core/index.js';
import { UNIT_CHANGE_COLUMN } from '../world/index.js';
import { nonCamelKeys } from './json-keys.js';
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
    expect(await runCli(['config', 'show'], io)).toBe(2);
    expect(io.stderr()).toMatch(/CONFIG_INVALID.*ADNOVA_SERVING_PORT="abc".*expected an integer from 1 to 65535/);
    const json = capturingIo();
    expect(await runCli(['config', 'show', '--json'], json)).toBe(2);
    const { error } = JSON.parse(json.stderr()) as { error: { code: string; message: string } };
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/ADNOVA_SERVING_PORT="abc".*expected an integer from 1 to 65535/);
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

  it('with --json a usage or input error is one JSON object on stderr and exits 2', async () => {
    const usage = capturingIo();
    expect(await runCli(['model', 'train', '--data', 'x.csv', '--json'], usage)).toBe(2);
    expect(JSON.parse(usage.stderr())).toEqual({
      error: {
        code: 'INVALID_USAGE',
        message: "required option '--label <col>' not specified",
        details: { reason: 'commander.missingMandatoryOptionValue' },
      },
    });
    vi.stubEnv('ADNOVA_SERVING_PORT', 'abc');
    const input = capturingIo();
    expect(await runCli(['config', 'show', '--json'], input)).toBe(2);
    const { error } = JSON.parse(input.stderr()) as { error: { code: string; message: string } };
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/ADNOVA_SERVING_PORT="abc".*expected an integer from 1 to 65535/);
    expect(input.stdout()).toBe('');
  });

  it('with --json a failure is one JSON object on stderr and exits 1', async () => {
    const store = mkdtempSync(join(tmpdir(), 'adnova-json-error-'));
    writeFileSync(join(store, 'registry.json'), '{ not json');
    const io = capturingIo();
    expect(await runCli(['features', 'list', '--store', store, '--json'], io)).toBe(1);
    const { error } = JSON.parse(io.stderr()) as { error: { code: string; message: string } };
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(error.message).toContain(join(store, 'registry.json'));
    expect(io.stdout()).toBe('');
    // without --json the same error stays a line of text
    const text = capturingIo();
    expect(await runCli(['features', 'list', '--store', store], text)).toBe(1);
    expect(text.stderr()).toMatch(/^adnova: BACKEND_UNAVAILABLE: feature registry /);
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
    expect(stages.filter((s) => s.status !== 'ok').map((s) => s.stage)).toEqual([]);
    // the stage summaries hold no data-named keys: every key is camelCase
    expect(nonCamelKeys(stages)).toEqual([]);
    expect(stages[0]?.status).toBe('ok');
    // the monitor stage compares the world's own snapshots around its unit-change day: that column must lead
    const monitor = stages.find((s) => s.stage === 'monitor');
    expect(monitor?.summary['source']).toBe('world batch snapshots');
    expect(monitor?.summary['drifted']).toEqual(expect.arrayContaining([UNIT_CHANGE_COLUMN]));
    expect((monitor?.summary['drifted'] as string[] | undefined)?.[0]).toBe(UNIT_CHANGE_COLUMN);
  }, 120_000);
});
