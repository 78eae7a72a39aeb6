import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, defaultConfig, ManualClock } from '../core/index.js';
import { createEventBus, MemoryEventBus } from './index.js';

describe('createEventBus', () => {
  it('builds the embedded bus by default, honouring clock and ack deadline', async () => {
    const clock = new ManualClock(1000);
    const bus = await createEventBus(defaultConfig(), { clock, ackWaitMs: 50 });
    expect(bus).toBeInstanceOf(MemoryEventBus);
    expect(bus.kind).toBe('memory');
    await bus.publish('t', [{ key: 'u', payload: 1 }]);
    const a = await bus.consumer('t', { group: 'g', name: 'a' });
    const [m] = await a.pull({ waitMs: 0 });
    expect(m?.publishedTs).toBe(1000);
    clock.advance(50);
    const b = await bus.consumer('t', { group: 'g', name: 'b' });
    expect((await b.pull({ waitMs: 0 })).map((x) => x.deliveryCount)).toEqual([2]);
    await bus.close();
  });

  it('fails fast with BackendUnavailableError when the configured Redis or NATS is not there', async () => {
    const config = defaultConfig();
    await expect(
      createEventBus({ ...config, bus: { kind: 'redis' }, redis: { url: 'redis://127.0.0.1:1', keyPrefix: 'x:' } }),
    ).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(
      createEventBus({ ...config, bus: { kind: 'nats' }, nats: { url: 'nats://127.0.0.1:1', streamPrefix: 'X' } }),
    ).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});
