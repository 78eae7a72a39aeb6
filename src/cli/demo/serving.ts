import { demoAccess } from '../commands/serve.js';
import { ensureDemoDeployment } from './deployment.js';
import type { DemoStage } from './stage.js';

/** The demo's serving stage: the API on a free port, decisions over HTTP, the client's p99 and the degraded share. */
export const servingDemoStage: DemoStage = {
  name: 'serving',
  description: 'online decisions over HTTP: p99 and degraded share',
  run: async (ctx) => {
    const dir = await ensureDemoDeployment(ctx);
    const { startServing } = await import('../../serving/index.js');
    const srv = await startServing({ dir, config: ctx.config, port: 0, rateLimit: false, clock: 'deployment' });
    try {
      const access = await demoAccess(srv.deployment, srv.keys);
      const users = srv.deployment.index.users;
      const campaignIds = access.campaignIds.slice(0, 50);
      const requests = 200;
      const latencies: number[] = [];
      let degraded = 0;
      let included = 0;
      let evaluations = 0;
      const statuses = new Map<number, number>();
      let next = 0;
      const worker = async () => {
        while (next < requests) {
          const i = next++;
          const t0 = performance.now();
          const res = await fetch(`${srv.url}/v1/decisions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${access.advertiserKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ userId: users.userOf((i * 7919) % users.size), campaignIds }),
          });
          const body = (await res.json()) as { degraded?: string[]; campaigns?: { included: boolean }[] };
          latencies.push(performance.now() - t0);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (body.degraded?.length) degraded++;
          for (const c of body.campaigns ?? []) {
            evaluations++;
            if (c.included) included++;
          }
        }
      };
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 4 }, worker));
      const seconds = (performance.now() - t0) / 1000;
      latencies.sort((a, b) => a - b);
      const q = (p: number) =>
        Number((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(2));
      return {
        url: srv.url,
        campaigns: campaignIds.length,
        requests,
        non2xx: [...statuses].filter(([code]) => code < 200 || code >= 300).reduce((n, [, k]) => n + k, 0),
        requestsPerSecond: Math.round(requests / seconds),
        p50Ms: q(0.5),
        p99Ms: q(0.99),
        degradedShare: Number((degraded / requests).toFixed(3)),
        includedShare: Number((included / Math.max(1, evaluations)).toFixed(3)),
      };
    } finally {
      await srv.close();
    }
  },
};
