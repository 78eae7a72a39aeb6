import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The feature definitions of the simulated World (`examples/world-features.yaml`): its batch snapshot, stream
 * and warehouse views and the campaign scoring service. Found next to this file in the sources, or from the built
 * `dist/` (which holds no YAML) in the sources beside it. Imports only node builtins: the CLI resolves it while
 * registering commands.
 */
export function worldDefinitionsPath(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [
    resolve(here, 'examples/world-features.yaml'),
    resolve(here, '../../src/features/examples/world-features.yaml'),
  ];
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}
