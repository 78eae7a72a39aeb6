import type { AdnovaConfig, Clock } from '../core/index.js';
import type { EventBus } from './event-bus.js';
import { MemoryEventBus } from './memory-event-bus.js';
import { NatsEventBus } from './nats-event-bus.js';
import { RedisStreamsEventBus } from './redis-streams-event-bus.js';

export interface CreateEventBusOptions {
  /** Default ack deadline of groups this bus creates (default 30 s). */
  readonly ackWaitMs?: number;
  /** Memory bus only: publish times and ack deadlines. */
  readonly clock?: Clock;
}

/**
 * The bus `config.bus.kind` names: `memory` (in-process), `redis` (Redis Streams at `redis.url`, keys under
 * `redis.keyPrefix`) or `nats` (JetStream at `nats.url`, streams named `${nats.streamPrefix}_<topic>`).
 * Connects before resolving, so an unreachable service fails here with BackendUnavailableError.
 */
export async function createEventBus(config: AdnovaConfig, options: CreateEventBusOptions = {}): Promise<EventBus> {
  const ackWaitMs = options.ackWaitMs === undefined ? {} : { ackWaitMs: options.ackWaitMs };
  switch (config.bus.kind) {
    case 'memory':
      return new MemoryEventBus({ ...ackWaitMs, ...(options.clock ? { clock: options.clock } : {}) });
    case 'redis':
      return RedisStreamsEventBus.connect({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, ...ackWaitMs });
    case 'nats':
      return NatsEventBus.connect({ url: config.nats.url, streamPrefix: config.nats.streamPrefix, ...ackWaitMs });
  }
}
