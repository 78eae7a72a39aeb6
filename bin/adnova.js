#!/usr/bin/env node
// The published entry point runs the compiled CLI; `npm ci` builds it (the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('adnova: dist/cli/main.js not found; run `npm run build` (npm ci runs it for you)\n');
  process.exit(1);
}
const { runCli } = await import(main.href);
process.exitCode = await runCli(process.argv.slice(2));
