import { join } from 'node:path';
import type { DemoStage } from './stage.js';

/** The world stage of `adnova demo`: a small world with a unit change on day 5, so later stages see drift. */
export const worldDemoStage: DemoStage = {
  name: 'world',
  description: 'simulate users, events, campaigns and outcomes',
  run: async (ctx) => {
    const dir = join(ctx.workDir, 'world');
    const { generateWorld } = await import('../../world/index.js');
    const manifest = await generateWorld({
      outDir: dir,
      users: 2000,
      days: 7,
      seed: 42,
      features: 200,
      scenarios: ['unit-change'],
      driftDay: 5,
      overwrite: true,
    });
    ctx.state.worldDir = dir;
    return {
      dir,
      users: manifest.tables.users?.rows ?? 0,
      events: manifest.tables.events?.rows ?? 0,
      sends: manifest.tables.sends?.rows ?? 0,
      scenario: 'unit-change@day5',
    };
  },
};
