import { describe, expect, it } from 'vitest';
import { InvalidInputError, shardOf } from '../core/index.js';
import { encodeBatch, partitionTopic, partitionTopics, resolvePullOptions, validateStartAt } from './event-bus.js';
import { MemoryEventBus } from './memory-event-bus.js';

describe('partition topics', () => {
  it('routes a user to the topic of its stable shard and lists all partitions', () => {
    expect(partitionTopic('events', 'user-42', 8)).toBe(`events-p${shardOf('user-42', 8)}`);
    expect(partitionTopics('events', 3)).toEqual(['events-p0', 'events-p1', 'events-p2']);
    const counts = new Map<string, number>();
    for (let i = 0; i < 8000; i++) {
      const t = partitionTopic('events', `user-${i}`, 8);
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    expect(counts.size).toBe(8);
    for (const n of counts.values()) expect(n).toBeGreaterThan(800);
    expect(() => partitionTopic('events', 'u', 0)).toThrow(InvalidInputError);
    expect(() => partitionTopics('bad topic', 2)).toThrow(/topic/);
  });
});

describe('bus input validation', () => {
  it('serializes a batch once and names the first bad event', () => {
    expect(encodeBatch('t', [{ key: 'u', payload: { a: 1 } }])).toEqual({ keys: ['u'], payloads: ['{"a":1}'] });
    expect(() =>
      encodeBatch('t', [
        { key: 'u', payload: 1 },
        { key: 'x'.repeat(257), payload: 1 },
      ]),
    ).toThrow(/event 1 key/);
    expect(() => encodeBatch('t', 'nope' as never)).toThrow(/expected an array of events/);
  });

  it('checks pull options and start positions', () => {
    expect(resolvePullOptions(undefined)).toEqual({ maxMessages: 256, waitMs: 1000 });
    expect(() => resolvePullOptions({ maxMessages: 10_001 })).toThrow(
      /maxMessages: expected an integer from 1 to 10000, got 10001/,
    );
    expect(() => validateStartAt({ kind: 'sometime' } as never)).toThrow(
      /startAt: expected kind one of earliest, latest, time, after/,
    );
    expect(() => validateStartAt({ kind: 'after', position: '' })).toThrow(/startAt.position/);
  });

  it('refuses a memory position that is not a sequence number', async () => {
    const bus = new MemoryEventBus();
    await expect(
      bus.consumer('t', { group: 'g', name: 'c', startAt: { kind: 'after', position: '1700000000000-0' } }),
    ).rejects.toThrow(/expected a sequence number/);
    await bus.close();
  });
});
