import base from './vitest.config.js';

/**
 * The unit tests of each core rule file: what `npm run mutation` runs (see stryker.config.mjs). With `MUTATE=<files>`
 * only the tests of those files run, otherwise all of them. Selected here rather than with Stryker's `testFiles`,
 * which activates static mutants too late (stryker-js issue 6144), so a mutated contract table would be reported as
 * surviving without being tested; and rather than with vitest's related mode, which followed imports into the
 * integration suites (Redis, NATS) and made every run slow.
 */
export const MUTATION_TESTS: Readonly<Record<string, readonly string[]>> = {
  'src/features/ttl-rule.ts': ['src/features/ttl-rule*.test.ts', 'src/features/pit-semantics.test.ts'],
  'src/features/pit-sql.ts': [
    'src/features/pit-sql*.test.ts',
    'src/features/pit-semantics.test.ts',
    'src/features/pit-options.test.ts',
  ],
  'src/stream/contracts.ts': ['src/stream/contracts*.test.ts'],
  'src/model/delayed-labels.ts': ['src/model/delayed-labels*.test.ts'],
  'src/model/metrics.ts': ['src/model/metrics*.test.ts'],
  'src/model/calibration.ts': ['src/model/calibration*.test.ts'],
  'src/monitor/drift-stats.ts': ['src/monitor/drift-stats*.test.ts'],
};

function includeFor(mutate: string | undefined): string[] {
  const files = mutate?.trim() ? mutate.split(',').map((f) => f.trim()) : Object.keys(MUTATION_TESTS);
  const globs = files.map((f) => {
    const g = MUTATION_TESTS[f];
    if (g === undefined) throw new Error(`vitest.mutation.config.ts: no unit tests listed for ${f}`);
    return g;
  });
  return [...new Set(globs.flat())];
}

// replaced, not merged: vitest's mergeConfig concatenates arrays, which kept the base include (every test file)
export default { ...base, test: { ...base.test, include: includeFor(process.env['MUTATE']) } };
