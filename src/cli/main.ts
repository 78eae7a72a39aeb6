import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCli } from './program.js';

export { buildProgram, runCli } from './program.js';

// Run when executed directly (`tsx src/cli/main.ts`); bin/adnova.js imports runCli instead.
const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  process.exitCode = await runCli(process.argv.slice(2));
}
