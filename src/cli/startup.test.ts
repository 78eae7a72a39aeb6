import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Start-up time comes from the module graph (bench/cli.ts has the figures); this pins its shape, not a time:
// a command's registration and --help load none of the heavy packages or domain modules.
const HEAVY_PACKAGES = ['@duckdb', 'zod', 'pino', 'prom-client', 'ioredis', 'nats', 'yaml', 'cli-progress'];
const DOMAIN_INDEXES = ['core', 'features', 'model', 'monitor', 'stream', 'world'].map((m) => `/src/${m}/index.ts`);

const dir = mkdtempSync(join(tmpdir(), 'adnova-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in a fresh process under tsx with a resolve hook, and returns every module URL it loaded. */
function modulesLoadedBy(commands: readonly (readonly string[])[]): string[] {
  const log = join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(log, '');
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(log, r.url + '\\n');
  return r;
}
`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { log: process.env.STARTUP_TEST_LOADED_LOG } });
`,
  );
  const script = `
const { runCli } = await import(${JSON.stringify(new URL('./program.ts', import.meta.url).href)});
const { capturingIo } = await import(${JSON.stringify(new URL('./test-io.ts', import.meta.url).href)});
for (const argv of ${JSON.stringify(commands)}) {
  const io = capturingIo();
  const code = await runCli(argv, io);
  if (code !== 0) throw new Error(argv.join(' ') + ' exited ' + code + ': ' + io.stderr());
}
`;
  execFileSync(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(register).href, '--input-type=module'], {
    input: script,
    env: { ...process.env, STARTUP_TEST_LOADED_LOG: log },
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const heavy = (urls: readonly string[]): string[] =>
  urls.filter(
    (u) => HEAVY_PACKAGES.some((p) => u.includes(`/node_modules/${p}/`)) || DOMAIN_INDEXES.some((m) => u.endsWith(m)),
  );

describe('CLI start-up', () => {
  it('version, --help and every command group help load no heavy package and no domain module', () => {
    const loaded = modulesLoadedBy([
      ['version'],
      ['--help'],
      ['model', 'train', '--help'],
      ['model', 'score', '--help'],
      ['monitor', 'drift', '--help'],
      ['features', 'training-set', '--help'],
      ['stream', 'run', '--help'],
      ['world', 'generate', '--help'],
      ['campaign', 'create', '--help'],
      ['audience', 'evaluate', '--help'],
      ['demo', '--help'],
    ]);
    expect(loaded.some((u) => u.endsWith('/src/cli/program.ts'))).toBe(true);
    expect(heavy(loaded)).toEqual([]);
  }, 60_000);

  it('an action still loads what it runs (the hook sees lazy imports)', () => {
    const loaded = modulesLoadedBy([['config', 'show', '--json']]);
    expect(heavy(loaded)).toEqual(expect.arrayContaining([expect.stringContaining('/node_modules/zod/')]));
  }, 60_000);
});
