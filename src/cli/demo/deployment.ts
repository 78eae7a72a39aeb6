import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { worldDefinitionsPath } from '../../features/world-definitions.js';
import type { DemoContext } from './stage.js';

/** The deployment the audience, serving and privacy stages share: built once per demo run, from its World. */
export async function ensureDemoDeployment(ctx: DemoContext): Promise<string> {
  const { state, workDir } = ctx;
  if (typeof state.deploymentDir === 'string') return state.deploymentDir;
  if (!state.worldDir) throw new InvalidInputError('a deployment needs the world stage first');
  const { deployWorld } = await import('../../decision/index.js');
  const dir = join(workDir, 'deployment');
  mkdirSync(workDir, { recursive: true });
  await deployWorld({ worldDir: state.worldDir, dir, definitionsPath: worldDefinitionsPath(), gbdt: { trees: 15 } });
  state.deploymentDir = dir;
  return dir;
}
