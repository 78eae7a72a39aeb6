import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { worldDefinitionsPath } from '../../features/world-definitions.js';
import type { DemoContext } from './stage.js';

/**
 * The deployment the audience, serving and privacy stages share: the one an earlier stage built
 * (`state.deploymentDir`), else one deployed now from the demo's World with small trees.
 */
export async function ensureDemoDeployment(ctx: DemoContext): Promise<string> {
  const existing = ctx.state.deploymentDir;
  if (typeof existing === 'string' && existsSync(join(existing, 'deployment.json'))) return existing;
  if (!ctx.state.worldDir) throw new InvalidInputError('this stage needs the world stage first');
  const dir = join(ctx.workDir, 'deployment');
  if (!existsSync(join(dir, 'deployment.json'))) {
    const { deployWorld } = await import('../../decision/index.js');
    await deployWorld({
      worldDir: ctx.state.worldDir,
      dir,
      definitionsPath: worldDefinitionsPath(),
      gbdt: { trees: 20 },
    });
  }
  ctx.state.deploymentDir = dir;
  return dir;
}
