import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// The tests `npm run mutation` runs (see stryker.config.mjs): the unit tests of the core rule files. Selected here
// rather than with Stryker's `testFiles`, which activates static mutants too late (stryker-js issue 6144), so a
// mutated contract table would be reported as surviving without being tested.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: [
        'src/features/ttl-rule*.test.ts',
        'src/features/pit-semantics.test.ts',
        'src/features/pit-sql*.test.ts',
        'src/stream/contracts*.test.ts',
        'src/model/delayed-labels*.test.ts',
        'src/model/metrics*.test.ts',
        'src/model/calibration*.test.ts',
        'src/monitor/drift-stats*.test.ts',
      ],
    },
  }),
);
