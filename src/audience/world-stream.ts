import type { EventBus } from '../stream/index.js';
import { BusReplayTarget } from '../stream/index.js';
import { replayEvents } from '../world/index.js';

/**
 * Publishes the World's events that arrived in `(fromArrivalTs, toArrivalTs]` to a bus topic, in arrival order,
 * optionally re-stamped by `restamp` (the demo moves them to the present to measure event -> membership in wall
 * time). Returns how many were published.
 */
export async function publishWorldEvents(options: {
  readonly worldDir: string;
  readonly bus: EventBus;
  readonly topic: string;
  readonly fromArrivalTs: number;
  readonly toArrivalTs: number;
  readonly limit?: number;
  readonly restamp?: (envelope: { arrival_ts: number; message: Record<string, unknown> }) => void;
}): Promise<number> {
  const target = new BusReplayTarget(options.bus, options.topic);
  let n = 0;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  await replayEvents({
    dir: options.worldDir,
    target: {
      write: async (line: string) => {
        if (n >= limit) return;
        let env: { arrival_ts: number; message: Record<string, unknown> };
        try {
          env = JSON.parse(line) as typeof env;
        } catch {
          return;
        }
        if (!(env.arrival_ts > options.fromArrivalTs && env.arrival_ts <= options.toArrivalTs)) return;
        options.restamp?.(env);
        n++;
        await target.write(JSON.stringify(env));
      },
    },
  });
  await target.flush();
  return n;
}
