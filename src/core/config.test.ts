import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig, envNameFor, loadConfig } from './config.js';
import { ConfigError } from './errors.js';

const emptyDir = () => mkdtempSync(join(tmpdir(), 'adnova-config-'));

describe('loadConfig', () => {
  it('returns the embedded defaults when nothing overrides them', () => {
    const loaded = loadConfig({ env: {}, cwd: emptyDir() });
    expect(loaded.config).toEqual(defaultConfig());
    expect(loaded.file).toBeUndefined();
    expect(loaded.sources['serving.port']).toBe('default');
  });

  it('layers file over defaults and environment over file, recording sources', () => {
    const dir = emptyDir();
    const file = join(dir, 'adnova.config.json');
    writeFileSync(file, JSON.stringify({ serving: { port: 9000, host: '0.0.0.0' }, bus: { kind: 'nats' } }));
    const loaded = loadConfig({ env: { ADNOVA_SERVING_PORT: '9100' }, cwd: dir });
    expect(loaded.config.serving).toEqual({ host: '0.0.0.0', port: 9100, requestTimeoutMs: 1000 });
    expect(loaded.config.bus.kind).toBe('nats');
    expect(loaded.sources['serving.port']).toBe('env:ADNOVA_SERVING_PORT');
    expect(loaded.sources['serving.host']).toBe(`file:${file}`);
  });

  it('names the variable, the value and the expectation for a bad environment value', () => {
    const run = () => loadConfig({ env: { ADNOVA_SERVING_PORT: 'abc' }, cwd: emptyDir() });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/ADNOVA_SERVING_PORT="abc".*expected an integer from 1 to 65535/);
  });

  it('rejects out-of-range numbers, bad enums and bad URLs', () => {
    const cwd = emptyDir();
    expect(() => loadConfig({ env: { ADNOVA_SERVING_PORT: '70000' }, cwd })).toThrow(/65535/);
    expect(() => loadConfig({ env: { ADNOVA_BUS_KIND: 'kafka' }, cwd })).toThrow(
      /ADNOVA_BUS_KIND="kafka".*expected one of memory, redis, nats/,
    );
    expect(() => loadConfig({ env: { ADNOVA_REDIS_URL: 'http://x' }, cwd })).toThrow(/redis or rediss/);
  });

  it('rejects unknown ADNOVA_ variables instead of ignoring a typo', () => {
    expect(() => loadConfig({ env: { ADNOVA_SERVING_PROT: '1' }, cwd: emptyDir() })).toThrow(
      /unknown configuration variable ADNOVA_SERVING_PROT/,
    );
  });

  it('rejects unknown keys, wrong shapes and invalid JSON in the file', () => {
    const dir = emptyDir();
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ serving: { prot: 1 } }));
    expect(() => loadConfig({ file, env: {}, cwd: dir })).toThrow(/unknown key serving.prot/);
    writeFileSync(file, JSON.stringify({ serving: 5 }));
    expect(() => loadConfig({ file, env: {}, cwd: dir })).toThrow(/serving must be an object, got number/);
    writeFileSync(file, '{ nope');
    expect(() => loadConfig({ file, env: {}, cwd: dir })).toThrow(/not valid JSON/);
    writeFileSync(file, JSON.stringify({ serving: { port: 'x' } }));
    expect(() => loadConfig({ file, env: {}, cwd: dir })).toThrow(/serving.port="x" \(serving.port, from .*c.json\)/);
    expect(() => loadConfig({ file: join(dir, 'missing.json'), env: {}, cwd: dir })).toThrow(/does not exist/);
  });

  it('derives environment names from config paths', () => {
    expect(envNameFor(['serving', 'port'])).toBe('ADNOVA_SERVING_PORT');
    expect(envNameFor(['storeDir'])).toBe('ADNOVA_STORE_DIR');
    expect(envNameFor(['serving', 'requestTimeoutMs'])).toBe('ADNOVA_SERVING_REQUEST_TIMEOUT_MS');
  });
});

describe('README configuration table', () => {
  it('documents every configuration key with its environment variable and default', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const walk = (obj: Record<string, unknown>, prefix: string[] = []): string[][] =>
      Object.entries(obj).flatMap(([k, v]) =>
        typeof v === 'object' && v !== null ? walk(v as Record<string, unknown>, [...prefix, k]) : [[...prefix, k]],
      );
    const defaults = defaultConfig() as unknown as Record<string, unknown>;
    for (const path of walk(defaults)) {
      let value: unknown = defaults;
      for (const p of path) value = (value as Record<string, unknown>)[p];
      expect(readme).toContain(`| \`${path.join('.')}\` | \`${envNameFor(path)}\` | \`${String(value)}\` |`);
    }
  });
});
