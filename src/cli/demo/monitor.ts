import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../core/random.js';
import type { DemoStage } from './stage.js';

/** The monitor stage of `adnova demo`: a reference and a drifted window, profiled and compared (no services). */
export const monitorDemoStage: DemoStage = {
  name: 'monitor',
  description: 'profile serving windows and detect drift',
  run: async ({ workDir, state }) => {
    if (state.worldDir) {
      const { worldSnapshotDrift } = await import('../../monitor/index.js');
      return worldSnapshotDrift(state.worldDir, join(workDir, 'monitor-drift.html'));
    }
    const { driftFromFiles, parseProfile, profileFile, renderDriftHtml, serializeProfile } = await import(
      '../../monitor/index.js'
    );
    const rng = new Rng(7);
    const rows = 3000;
    const write = (path: string, shift: number): void => {
      const lines = ['age,spend,channel,score'];
      for (let i = 0; i < rows; i++) {
        const channel = rng.next() < 0.6 - shift * 0.2 ? 'email' : rng.next() < 0.5 ? 'push' : 'in_app';
        lines.push(
          `${Math.round(35 + 10 * rng.normal())},${(Math.exp(rng.normal()) * (1 + shift * 99)).toFixed(2)},${channel},${Math.min(1, Math.max(0, 0.3 + 0.1 * rng.normal())).toFixed(4)}`,
        );
      }
      writeFileSync(path, `${lines.join('\n')}\n`);
    };
    const ref = join(workDir, 'monitor-reference.csv');
    const cur = join(workDir, 'monitor-current.csv');
    write(ref, 0);
    write(cur, 1); // spend switched units (x100) and the channel mix moved
    const profilePath = join(workDir, 'monitor-reference-profile.json');
    writeFileSync(profilePath, serializeProfile(await profileFile(ref)));
    const run = await driftFromFiles({
      referenceProfile: parseProfile(readFileSync(profilePath, 'utf8')),
      current: cur,
    });
    writeFileSync(join(workDir, 'monitor-drift.html'), renderDriftHtml(run.result));
    return {
      features: run.result.features.length,
      drifted: run.result.features.filter((f) => f.drifted).map((f) => f.comparison.name),
      datasetDrifted: run.result.drifted,
    };
  },
};
