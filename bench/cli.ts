/**
 * CLI start-up: wall time of trivial commands through the published entry point (bin/adnova.js runs dist/), against
 * a bare `node -e 0` measured in the same run, interleaved (baseline, then each command, N rounds) so drift in the
 * machine's load hits both alike.
 *   npm run build && npx tsx bench/cli.ts [--runs 15]
 * Prints per command the median wall time, the median of the paired differences over the baseline (what adnova
 * itself costs) and the median paired ratio.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cliArgs, machineLine, median } from './lib.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = fileURLToPath(new URL('../bin/adnova.js', import.meta.url));

const COMMANDS: readonly (readonly string[])[] = [
  ['version'],
  ['--help'],
  ['model', 'train', '--help'],
  ['monitor', 'drift', '--help'],
];

const arg = cliArgs().num;

/** Wall milliseconds of one whole process, start to exit. */
function wallMs(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** Median wall times of `node bin/adnova.js ARGS` per command and of `node -e 0`, interleaved over `runs` rounds. */
export function cliStartup(runs: number): void {
  if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
    throw new Error('bench/cli.ts times the built CLI: run `npm run build` first');
  }
  const base: number[] = [];
  const times = COMMANDS.map(() => [] as number[]);
  wallMs(['-e', '0']); // warm-up: file cache
  for (const c of COMMANDS) wallMs([bin, ...c]);
  for (let r = 0; r < runs; r++) {
    base.push(wallMs(['-e', '0']));
    COMMANDS.forEach((c, i) => {
      times[i]?.push(wallMs([bin, ...c]));
    });
  }
  console.log(`CLI start-up, ${runs} runs each, interleaved with the baseline:`);
  console.log(`  ${'node -e 0 (baseline)'.padEnd(40)} median ${median(base).toFixed(0).padStart(5)} ms`);
  COMMANDS.forEach((c, i) => {
    const t = times[i] as number[];
    const over = median(t.map((ms, k) => ms - (base[k] as number)));
    const ratio = median(t.map((ms, k) => ms / (base[k] as number)));
    console.log(
      `  ${`adnova ${c.join(' ')}`.padEnd(40)} median ${median(t).toFixed(0).padStart(5)} ms  (+${over.toFixed(0)} ms over the baseline, ${ratio.toFixed(2)}x)`,
    );
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(machineLine());
  cliStartup(arg('runs', 15));
}
