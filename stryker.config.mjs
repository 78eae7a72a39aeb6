// Mutation testing of the core rule files (StrykerJS + its vitest runner): `npm run mutation`, not part of CI
// (slow: contracts.ts alone takes about 24 min at concurrency 1 on the shared 2-core machine under load).
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
// Target: >= 90% mutation score on each file; equivalent survivors are listed below with why.
// Two runner blind spots, both reported as Survived with 0 tests run: a mutant that makes a module throw on import
// (the files collect no tests: import it inside a test too, as contracts-load.test.ts does), and a mutant reached
// only in a beforeAll hook (a failing hook skips the tests rather than failing them: set up inside the test, as
// pit-sql.test.ts does).
// Measured (score = killed / (killed + survived + no coverage), concurrency 1, shared machine at load 3-19):
// - ttl-rule.ts 100% (30 of 30, 36 s; 3 min before the test list was narrowed).
// - pit-sql.ts 100% (188 of 188, 6.5 min).
// - delayed-labels.ts 96.97% (160 of 165: 150 killed, 10 timeout; 5 survived, all equivalent; 5 min).
// - contracts.ts 93.00% (518 of 557; 32 survived and 7 no coverage, all equivalent or unreachable; 24 min).
// - drift-stats.ts quantileSorted (lines 132-144) 24 of 25.
// Equivalent survivors (file:line mutant: why no input can tell it from the original):
// - drift-stats.ts `if (n === 1)` -> `if (false)` in quantileSorted: with one element the q = 1 branch right after
//   it already returns sorted[0], so no input can tell them apart.
// - delayed-labels.ts:80 and :100 `i < n` -> `i <= n`: index n reads undefined (a Map key undefined no outcome id
//   equals; a send time undefined fails `s + windowMs <= asOfMs`), so nothing changes.
// - delayed-labels.ts:84 `k < m` -> `k <= m`: the columns are checked to be m long, so kind[m] is undefined.
// - delayed-labels.ts:89 `i === undefined` -> `false`: an unknown send gives delay NaN (neither late nor within the
//   window) and firstOutcome[undefined] is undefined, so the outcome is dropped all the same.
// - delayed-labels.ts:96 `t < cur` -> `t <= cur`: on a tie it overwrites the first outcome with the same time.
// - contracts.ts:144-145 (keyword loop emptied, `!JSON_SCHEMA_KEYWORDS.has(k)` -> false, message text) and
//   :179-180 (default case and its text): contract v1's JSON Schema uses no other keyword or type, so the throw
//   is never reached.
// - contracts.ts:159 (4 mutants), :176:93 and :178:92 (`v > exclusiveMin` -> true / >=), :189 `'exclusiveMinimum'`:
//   no v1 schema has exclusiveMinimum, so the bound is always -Infinity.
// - contracts.ts:178:68 and :178:80 (`v >= min`, `v <= max` -> true / strict): the only non-integer number field
//   (amount) has no bounds (-Infinity, Infinity) and non-finite values are refused just before.
// - contracts.ts:164 `typeof s['minLength'] === 'number'` -> true: every plain string schema of v1 has minLength 1.
// - contracts.ts:171 `typeof v === 'string'` -> true (enum), :176:21 and :178:21 `typeof v === 'number'` -> true,
//   :330 and :352 `typeof x === 'number'` -> true: the next test (Set of strings, Number.isInteger,
//   Number.isFinite) is already false for any other type, since none of them coerces.
// - contracts.ts:361 `typeof type !== 'string'` -> false: KNOWN_TYPES.has() is false for a non-string anyway.
// - contracts.ts:426 `typeof id === 'string'` -> false and `'string'` -> "": String(id) of a string is itself.
// - contracts.ts:460 `field === 'arrival_ts'` -> true: for the payload and message fields the object read is not a
//   plain object (that is why it was refused), so objectField returns undefined all the same.
// - contracts.ts:489 (4 mutants: `payload === null || typeof payload !== 'object'` -> false / && / each side false):
//   objectField is only called with an envelope already checked to be a non-null object.
// - contracts.ts:500 `issue.path[0] ?? ''`: every zod issue of an object schema has a field path.
// - contracts.ts:523 and :541 (default cases): the contract's zod schemas raise only invalid_type, too_small,
//   too_big, invalid_value and invalid_union, all handled.
// - contracts.ts:540 `typeof value === 'string'` -> false and `'string'` -> "": a string event_id always matches
//   the string branch, so zod reports that branch's issue, never invalid_union with a string.
// - contracts.ts:553 `value === undefined` -> false: jsonTypeOf(undefined) is typeof undefined, 'undefined'.
// - contracts.ts:554 `typeof value === 'number'` -> true: Number.isInteger is false for any non-number.

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
