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
// - delayed-labels.ts 96.97% (160 of 165: 150 killed, 10 timeout; 5 survived, all equivalent; 5 min), measured
//   before truncatedDelayCdf was added (not rerun since).
// - contracts.ts 93.00% (518 of 557; 32 survived and 7 no coverage, all equivalent or unreachable; 24 min).
// - drift-stats.ts quantileSorted (lines 132-144) 24 of 25.
// Equivalent survivors (file:line mutant: why no input can tell it from the original):
// - drift-stats.ts `if (n === 1)` -> `if (false)` in quantileSorted: with one element the q = 1 branch right after
//   it already returns sorted[0], so no input can tell them apart.
// - delayed-labels.ts:120 and :140 `i < n` -> `i <= n`: index n reads undefined (a Map key undefined no outcome id
//   equals; a send time undefined fails `s + windowMs <= asOfMs`), so nothing changes.
// - delayed-labels.ts:124 `k < m` -> `k <= m`: the columns are checked to be m long, so kind[m] is undefined.
// - delayed-labels.ts:129 `i === undefined` -> `false`: an unknown send gives delay NaN (neither late nor within the
//   window) and firstOutcome[undefined] is undefined, so the outcome is dropped all the same.
// - delayed-labels.ts:136 `t < cur` -> `t <= cur`: on a tie it overwrites the first outcome with the same time.
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
// Measured 2026-12-06, each file with only its own unit tests, concurrency 1, load 15-18: metrics.ts 91.60% (218 of
// 238, 21.6 min), calibration.ts 90.60% (482 of 532, 60 min), drift-stats.ts 91.83% (371 of 404, 40 min); survivors:
// - metrics.ts:41, 81, 156, 169 `<` -> `<=` on a loop bound: the extra pass touches index n, which a typed array
//   ignores on write and reads as undefined (`undefined === 1` and `undefined > 0` are false): nothing changes.
// - metrics.ts:58, 91 tie-group `i < n` -> `true` / `<=`: past the end scores[order[n]] is undefined, never `=== s`,
//   so the group ends at the same row. metrics.ts:172 `i < n` -> `true` / `<=`: the same (k > n only for f > 1).
// - metrics.ts:69 rocAuc's NaN guard (`false`, `&&`, either side `false`): with tp or fp = 0 (weights >= 0) every
//   term of area has a zero factor (dfp, or tp + dtp / 2), so area / (tp * fp) is 0 / 0 = NaN, as the guard returns.
// - metrics.ts:176, 177, 198 `x > 0 ?` -> `true` / `>=` (lift, capture, positive rate): when x is 0 the numerator
//   is 0 too (no positives, no rows), so the division is the NaN the guard returns.
// - drift-stats.ts:57 `i < n1 || j < n2` -> `&&` or either side `false`: the walk stops once one sample is used up;
//   after that the ECDF difference moves monotonically to 0 and never beats the extremes already seen, and the final
//   0 only counts through Math.max(-minS, 0) and `negMin > maxS`, where it gives the same d.
// - drift-stats.ts:58, 105 `i < n1 ? a[i] : +Inf` -> `true` / `<=`: a[n1] is undefined and `undefined <= vb` is
//   false, so v = vb as with +Inf (the loop only runs while b has values). :60, 107 `va <= vb` -> `<`: on a tie v
//   is the same value. :61, 62, 109, 110 `i < n1 &&` -> `true` / `<=`: a[n1] is undefined, never `=== v`.
// - drift-stats.ts:64, 65, 68 `>` -> `>=`, `<` -> `<=`: on equality the same value is kept.
// - drift-stats.ts:78 `prob >= 0` -> `true`: the exact recursions multiply and average non-negative terms, so prob
//   is never below 0, and NaN still fails `prob <= 1`.
// - drift-stats.ts:151 `out.length === 0 ||` -> `false ||`: out[-1] is undefined, which `e !== ...` passes too.
// - drift-stats.ts:159 binOf `k < edges.length` -> `true` / `<=`: edges[length] is undefined, `undefined < x` false.
// - drift-stats.ts:210 relEntr `y > 0` -> `true` / `>=`: with x > 0, y = (x + other share) / 2 > 0 already. :211
//   `x === 0 && y >= 0` (`true`, `||`, either side `true`): reached only with x = 0 (shares are >= 0; x > 0
//   returned above) and y >= 0, so it is always true.
// - drift-stats.ts:254 `c < k` -> `c <= k`: ref[k] + cur[k] is NaN, not > 0.
// - drift-stats.ts:275 Benjamini-Hochberg tie-break `x - y` -> `x + y`: tied p-values get the same adjusted value
//   in any order (the step-up minimum from the higher rank covers the lower), and different p-values still sort.
// - calibration.ts:25 `s >= 0` -> `s > 0` and :80, 81 likewise: at s = 0 both branches give the same (log 2; 1/2).
// - calibration.ts:49, 152 `<` -> `<=` on a loop bound: labels[n] is undefined (not 1); the extra isotonic pass
//   pushes an undefined block no comparison merges and fills fitted[xs.length], which the knot loop never reads.
// - calibration.ts:99 `step >= 1e-10` -> `>`: step is a power of 2, never 1e-10.
// - calibration.ts:139 `xs.length > 0 &&` -> `true` / `>=`: xs[-1] is undefined, never `=== x`. :156
//   `blockY.length > 1` -> `true` / `>=`: with one block blockY[-1] is undefined and `undefined > y` is false.
// - calibration.ts:166 `new Array(xs.length)` -> `new Array()`: every index is assigned in order, same contents.
// - calibration.ts:176 `i > 0` -> `true` / `>=`, :177 `i + 1 < xs.length` -> `true` / `<=`: fitted[-1] and
//   fitted[xs.length] are undefined, what the guards give.
// - calibration.ts:195 `chosen === 'none'` -> `false` / `""`: fitCalibration('none') returns the same { none }.
// - calibration.ts:234 `folds[i % 2]?.push` -> `.push`: i % 2 is 0 or 1, both folds exist.
// - calibration.ts:353 `p <= x[0]` -> `<`: at p = x[0] the search stops at lo = 0, giving y0 + (y1 - y0) * 0 = y0.
//   :356 `hi = n - 1` -> `n + 1`: x[n], x[n + 1] are undefined (`<= p` false), so hi comes down to the same
//   interval. :366 `x1 === x0` -> `false`: the search keeps x[lo] <= p < x[hi], so x1 > x0 for any non-NaN p.
// - calibration.ts:376 `calibration.method !== 'none'` -> `true` / `""`: calibrate(none, p) returns p.
// Not killed, not equivalent bit for bit (left, with why no test sees them):
// - calibration.ts:25 (`true`, `false`, `s < 0`), 69, 91, 93, 96, 98, 103, 106, 112: how fitPlatt's Newton steps
//   and line search run and stop (overflow only past |s| > 709, the iteration cap, the stopping test, the
//   determinant guard that the ridge keeps positive, Armijo's condition, the acceptance flag). The objective is
//   strictly convex, so each converges to the same optimum within the gradient tolerance; tests check that
//   optimum (scikit-learn fixtures, a stationarity test at 1e-8), not the path to it.
// - calibration.ts:129 isotonic sort tie-break `i - j` -> `i + j` and :156 `>` -> `>=` (pooling equal blocks):
//   only the order of a pooled mean's sums changes, at most the last bit of a fitted value.
// - calibration.ts:263, 334 `>=` -> `>` at exactly raw AUC - CALIBRATION_AUC_TOLERANCE: no input with that exact
//   tie was constructed (after auto's isotonic ranking rule landed, the same mutant is at :282).
// - calibration.ts:278 (auto's isotonic ranking rule) `positives + negatives + 1` -> `- 1` in the null standard
//   error: the threshold moves by a factor sqrt((n - 1) / (n + 1)), under 0.1% of 2 SEs above 0.5 for a few
//   hundred rows, so only a raw AUC in that sliver tells them apart; :279 `>` -> `>=`: only a raw AUC exactly at
//   the threshold does. Measured on the rule's lines (calibration.ts:195-300, 2026-12-06, load ~18): 94.92% (108
//   killed, 4 timeout, 6 survived: these two, :282, and the equivalent :195 and :243 above).

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
