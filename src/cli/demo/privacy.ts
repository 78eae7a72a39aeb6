import { usersOfFile } from '../commands/privacy.js';
import { ensureDemoDeployment } from './deployment.js';
import type { DemoStage } from './stage.js';

/** The demo's privacy stage: deletes users of the demo World, verifies every store, prints the receipts' timings. */
export const privacyDemoStage: DemoStage = {
  name: 'privacy',
  description: "delete the World's deletion requests from every store of the deployment, verify, show receipt timings",
  run: async (ctx) => {
    const dir = await ensureDemoDeployment(ctx);
    const { openDeploymentPrivacy } = await import('../../privacy/index.js');
    const { readManifest, tableFiles } = await import('../../world/index.js');
    const worldDir = ctx.state.worldDir as string;
    const { deploymentLayout } = await import('../../decision/index.js');
    const { otherModuleErasers } = await import('../wiring.js');
    const p = await openDeploymentPrivacy({ dir, extraErasers: await otherModuleErasers(deploymentLayout(dir)) });
    try {
      const manifest = readManifest(worldDir);
      const file = tableFiles(worldDir, manifest, 'deletions')[0];
      let users = file === undefined ? [] : await usersOfFile(file, (sql) => p.deployment.store.offline.query(sql));
      // a World too small for its daily deletion rate to have asked: delete a few of its users instead
      if (users.length === 0)
        users = p.deployment.index.users.usersOf([0, 1, 2].filter((d) => d < p.deployment.index.users.size));
      const started = performance.now();
      const ids = (await p.service.submitMany(users.map((u) => ({ userIds: [u], requestedBy: 'demo' })))).map(
        (r) => r.id,
      );
      const applied = [];
      while (p.service.batchDue(Number.POSITIVE_INFINITY)) applied.push(await p.service.apply());
      const verify = await p.service.verify();
      const receipt = ids.length > 0 ? p.service.status(ids[0] as string) : null;
      const storeMs: Record<string, number> = {};
      for (const b of applied)
        for (const [s, ms] of Object.entries(b.storeMs)) storeMs[s] = Math.round((storeMs[s] ?? 0) + ms);
      return {
        users: users.length,
        totalMs: Math.round(performance.now() - started),
        requests: ids.length,
        complete: ids.filter((id) => p.service.status(id)?.status === 'complete').length,
        leftovers: verify.leftovers,
        storeMs,
        modelsToRetrain: receipt?.models.filter((m) => m.action === 'retrain').length ?? 0,
      };
    } finally {
      await p.close();
    }
  },
};
