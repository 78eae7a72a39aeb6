import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread on the module `name` of this directory (src/model or dist/model): the compiled .js when
 * it exists (the built CLI, dist/), else the .ts source through tsx's CommonJS hook (vitest and tsx run this module
 * from src/). Node 20 does not apply ESM loader hooks (`--import tsx`, inherited or not) inside worker threads,
 * while the CommonJS hook is registered by the worker itself, so one path serves vitest, tsx and the built CLI alike.
 */
export function spawnModelWorker(name: string, workerData: unknown): Worker {
  const js = new URL(`./${name}.js`, import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData });
  const ts = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  if (!existsSync(ts)) throw new Error(`neither ${fileURLToPath(js)} nor ${ts} exists`);
  let hook: string;
  try {
    hook = createRequire(import.meta.url).resolve('tsx/cjs/api');
  } catch (err) {
    throw new Error(`running ${ts} needs tsx (a dev dependency); build with \`npm run build\` instead`, {
      cause: err,
    });
  }
  const source = `require(${JSON.stringify(hook)}).register();\nrequire(${JSON.stringify(ts)});\n`;
  return new Worker(source, { eval: true, workerData });
}
