// Mutation testing of the core rule files (StrykerJS + its vitest runner): `npm run mutation`, not part of CI
// (slow: contracts.ts alone took 14.5 min at concurrency 2 on the shared 2-core machine).
// Reports go to reports/mutation/ (gitignored): mutation.html and mutation.json.
//
// One file (or a comma-separated few):
//   MUTATE=src/model/metrics.ts npm run mutation
//   npm run mutation -- --mutate src/model/metrics.ts        (Stryker's own flag; overrides this list)
// Concurrency (default 2, the machine is shared): STRYKER_CONCURRENCY=1 npm run mutation
//
// Test selection: only the unit tests vitest.mutation.config.ts lists for the mutated files run (MUTATE narrows
// them; with `--mutate` instead, all listed tests run). vitest's related mode is off: it followed imports into the
// integration suites. Per-test coverage then runs only the tests that reach each mutant.
// Target: >= 90% mutation score on each file; equivalent survivors are listed below with why. A static mutant that
// makes a module throw on import is reported as Survived, not Killed (the file collects no tests).
// Measured: ttl-rule.ts 100% (30 of 30, 3 min); contracts.ts required-fields table (lines 74-95) 16 of 16;
// drift-stats.ts quantileSorted (lines 132-144) 24 of 25. Equivalent survivors:
// - drift-stats.ts `if (n === 1)` -> `if (false)` in quantileSorted: with one element the q = 1 branch right after
//   it already returns sorted[0], so no input can tell them apart.
// - delayed-labels.ts:80 and :100 `i < n` -> `i <= n`: index n reads undefined (a Map key undefined no outcome id
//   equals; a send time undefined fails `s + windowMs <= asOfMs`), so nothing changes.
// - delayed-labels.ts:84 `k < m` -> `k <= m`: the columns are checked to be m long, so kind[m] is undefined, not a goal.
// - delayed-labels.ts:89 `i === undefined` -> `false`: an unknown send gives delay NaN (neither late nor within the
//   window) and firstOutcome[undefined] is undefined, so the outcome is dropped all the same.
// - delayed-labels.ts:96 `t < cur` -> `t <= cur`: on a tie it overwrites the first outcome with the same time.

const CORE_RULE_FILES = [
  'src/features/ttl-rule.ts',
  'src/features/pit-sql.ts',
  'src/stream/contracts.ts',
  'src/model/delayed-labels.ts',
  'src/model/metrics.ts',
  'src/model/calibration.ts',
  'src/monitor/drift-stats.ts',
];

const selected = process.env.MUTATE?.trim();

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: selected ? selected.split(',').map((f) => f.trim()) : CORE_RULE_FILES,
  coverageAnalysis: 'perTest',
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  ignorePatterns: ['dist', 'coverage', 'reports', '.adnova'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
