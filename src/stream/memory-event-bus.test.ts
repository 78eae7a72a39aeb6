import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/index.js';
import { MemoryEventBus } from './memory-event-bus.js';
import { describeEventBus } from './testing/event-bus-conformance.js';

describeEventBus('memory', () => new MemoryEventBus(), {
  writeRaw: async (bus, topic, text) => {
    await (bus as MemoryEventBus).publishRaw(topic, [{ key: 'raw', text }]);
  },
});

describe('MemoryEventBus with a manual clock', () => {
  it('redelivers exactly when the ack deadline passes, counting deliveries', async () => {
    const clock = new ManualClock(1_000_000);
    const bus = new MemoryEventBus({ clock, ackWaitMs: 5000 });
    await bus.publish('t', [
      { key: 'u1', payload: { n: 1 } },
      { key: 'u2', payload: { n: 2 } },
    ]);
    const a = await bus.consumer('t', { group: 'g', name: 'a' });
    const b = await bus.consumer('t', { group: 'g', name: 'b' });
    const first = await a.pull({ waitMs: 0 });
    expect(first.map((m) => m.deliveryCount)).toEqual([1, 1]);
    clock.advance(4999);
    expect(await b.pull({ waitMs: 0 })).toEqual([]);
    await a.ack(first.slice(0, 1));
    clock.advance(1);
    const again = await b.pull({ waitMs: 0 });
    expect(again.map((m) => [m.key, m.deliveryCount])).toEqual([['u2', 2]]);
    clock.advance(5000);
    const third = await a.pull({ waitMs: 0 });
    expect(third.map((m) => [m.key, m.deliveryCount])).toEqual([['u2', 3]]);
    await bus.close();
  });

  it('gives a member that rejoins under its name what it held, at once', async () => {
    const clock = new ManualClock(0);
    const bus = new MemoryEventBus({ clock, ackWaitMs: 60_000 });
    await bus.publish('t', [{ key: 'u', payload: 'x' }]);
    const before = await bus.consumer('t', { group: 'g', name: 'w1' });
    expect(await before.pull({ waitMs: 0 })).toHaveLength(1);
    await before.close();
    const stranger = await bus.consumer('t', { group: 'g', name: 'w2' });
    expect(await stranger.pull({ waitMs: 0 })).toEqual([]);
    const restarted = await bus.consumer('t', { group: 'g', name: 'w1' });
    const back = await restarted.pull({ waitMs: 0 });
    expect(back.map((m) => [m.payload, m.deliveryCount])).toEqual([['x', 2]]);
    await bus.close();
  });

  it('wakes a waiting pull when an event is published, and resolves empty on close', async () => {
    const bus = new MemoryEventBus();
    const c = await bus.consumer('t', { group: 'g', name: 'c' });
    const waiting = c.pull({ waitMs: 5000 });
    await bus.publish('t', [{ key: 'u', payload: 1 }]);
    expect((await waiting).map((m) => m.payload)).toEqual([1]);
    const idle = c.pull({ waitMs: 5000 });
    await bus.close();
    expect(await idle).toEqual([]);
  });

  it('hands out fresh payload copies: mutating a message changes nothing stored', async () => {
    const bus = new MemoryEventBus();
    const payload = { list: [1, 2] };
    await bus.publish('t', [{ key: 'u', payload }]);
    payload.list.push(3);
    const a = await bus.consumer('t', { group: 'a', name: 'c' });
    const [m] = await a.pull({ waitMs: 0 });
    expect(m?.payload).toEqual({ list: [1, 2] });
    (m!.payload as { list: number[] }).list.push(9);
    const b = await bus.consumer('t', { group: 'b', name: 'c' });
    expect((await b.pull({ waitMs: 0 }))[0]?.payload).toEqual({ list: [1, 2] });
    await bus.close();
  });
});
