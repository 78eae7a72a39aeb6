import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFeatureMatrix, MetricsRegistry } from '../core/index.js';
import { CircuitBreaker } from './breaker.js';
import type { OnlineDecision } from './online.js';
import { RequestLog } from './request-log.js';

describe('the online store circuit breaker', () => {
  it('opens after consecutive failures, lets one probe through after the cooldown, and closes on its success', () => {
    let now = 0;
    const states: string[] = [];
    const b = new CircuitBreaker({
      failureThreshold: 2,
      cooldownMs: 100,
      now: () => now,
      onChange: (s) => states.push(s),
    });
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state).toBe('closed');
    b.success(); // a success resets the count
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    now = 100;
    expect(b.allow()).toBe(true); // the probe
    expect(b.allow()).toBe(false); // only one at a time
    b.failure();
    expect(b.state).toBe('open');
    now = 250;
    expect(b.allow()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
    expect(states).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
    expect(b.opened).toBe(2);
  });
});

function decisionFor(users: string[], campaigns: number): OnlineDecision {
  const m = createFeatureMatrix(users, ['v.a', 'v.b'], [{ name: 'v', start: 0, end: 2 }]);
  m.values.fill(1.5);
  return {
    atMs: 1000,
    featureSource: 'online',
    reasons: [],
    result: { features: m } as OnlineDecision['result'],
    users: users.map((userId) => ({
      userId,
      featureSource: 'online' as const,
      featureAgesMs: { v: 5 },
      degraded: [],
      campaigns: Array.from({ length: campaigns }, (_, k) => ({
        campaignId: `c${k}`,
        included: k === 0,
        score: 0.5,
        rank: 0,
        propensity: null,
        stage: 'policy' as const,
        rule: k === 0 ? 'exploit' : 'min_score',
        modelVersion: 'm1',
        degraded: [],
      })),
    })),
  };
}

describe('the request log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adnova-request-log-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('drops and counts rows when its queue is full instead of blocking, and erases users on request', async () => {
    const metrics = new MetricsRegistry();
    const log = new RequestLog({ dir, queueCapacity: 10, flushIntervalMs: 0, rowsPerFile: 1000, metrics });
    log.record(decisionFor(['u1', 'u2'], 4), { requestId: 'r1', keyId: 'k' }); // 8 rows
    log.record(decisionFor(['u3'], 4), { requestId: 'r2', keyId: 'k' }); // 4 more: over capacity
    expect(log.stats()).toMatchObject({ queued: 8, dropped: 4 });
    await log.flush();
    expect(log.stats()).toMatchObject({ queued: 0, written: 8, files: 1 });
    expect(await log.countUsers(['u1', 'u2', 'u3'])).toBe(2);
    expect(await log.removeUsers(['u1'])).toEqual({ removed: 4 });
    expect(await log.countUsers(['u1', 'u2'])).toBe(1);
    const m = await metrics.text();
    expect(m).toMatch(/adnova_serving_request_log_dropped_total 4/);
    await log.close();
  });

  it('samples decisions at the configured rate', async () => {
    let x = 0;
    const log = new RequestLog({
      dir: join(dir, 's'),
      sampleRate: 0.25,
      flushIntervalMs: 0,
      random: () => (x++ % 4) / 4,
    });
    for (let i = 0; i < 8; i++) log.record(decisionFor([`u${i}`], 1), { requestId: `r${i}`, keyId: 'k' });
    expect(log.stats()).toMatchObject({ queued: 2, sampledOut: 6 });
    await log.close();
  });
});
