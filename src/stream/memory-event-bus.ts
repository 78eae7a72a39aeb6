import { type Clock, InvalidInputError, systemClock } from '../core/index.js';
import {
  type BusConsumer,
  type BusEventInput,
  type BusMessage,
  type ConsumerOptions,
  closedError,
  DEFAULT_ACK_WAIT_MS,
  decodeMessage,
  type EventBus,
  encodeBatch,
  type PublishResult,
  type PullOptions,
  resolvePullOptions,
  type StartAt,
  validateAckWaitMs,
  validateBusName,
  validateStartAt,
} from './event-bus.js';

export interface MemoryEventBusOptions {
  /** Publish times and ack deadlines; a ManualClock makes redelivery deterministic in tests. */
  readonly clock?: Clock;
  readonly ackWaitMs?: number;
}

/** Never changed once in `pending`: a first delivery's is shared by every message of its pull (no object each). */
interface Delivery {
  readonly consumer: string;
  readonly deliveredAt: number;
  readonly count: number;
}

interface GroupState {
  /** Index of the next never-delivered message. */
  next: number;
  readonly ackWaitMs: number;
  /**
   * Delivered, not acknowledged, by log index. Map order is delivery order (redelivery re-inserts), and the
   * deadline is group-wide, so the first entry is always the next to expire.
   */
  readonly pending: Map<number, Delivery>;
}

interface TopicLog {
  readonly keys: string[];
  readonly payloads: string[];
  readonly publishedTs: number[];
  readonly groups: Map<string, GroupState>;
  /** Pulls waiting for a publish. */
  readonly waiters: Set<() => void>;
}

/**
 * The embedded bus: one in-process log per topic, stored as serialized JSON so consumers get fresh copies.
 * Durable for the life of the process (a consumer that dies and rejoins finds its group where it left it),
 * with the same group, ack and redelivery semantics as the Redis and NATS adapters. Retention is unbounded.
 */
export class MemoryEventBus implements EventBus {
  readonly kind = 'memory' as const;
  readonly #clock: Clock;
  readonly #ackWaitMs: number;
  readonly #topics = new Map<string, TopicLog>();
  #closed = false;

  constructor(options: MemoryEventBusOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#ackWaitMs = validateAckWaitMs(options.ackWaitMs, DEFAULT_ACK_WAIT_MS);
  }

  async publish(topic: string, events: readonly BusEventInput[]): Promise<PublishResult> {
    const { keys, payloads } = encodeBatch(topic, events);
    if (this.#closed) throw closedError('memory event bus');
    const log = this.#log(topic);
    const first = log.keys.length;
    const now = this.#clock.now();
    for (let i = 0; i < keys.length; i++) {
      log.keys.push(keys[i] as string);
      log.payloads.push(payloads[i] as string);
      log.publishedTs.push(now);
    }
    if (keys.length > 0) wake(log);
    return {
      count: keys.length,
      firstPosition: keys.length > 0 ? String(first + 1) : undefined,
      lastPosition: keys.length > 0 ? String(log.keys.length) : undefined,
    };
  }

  /**
   * Appends payload texts as they are, unchecked: what a foreign producer can write to a real broker (a raw XADD,
   * a NATS publish), for tests of how consumers meet a message that is not JSON. Applications use `publish`.
   */
  async publishRaw(topic: string, entries: readonly { key: string; text: string }[]): Promise<PublishResult> {
    validateBusName('topic', topic);
    if (this.#closed) throw closedError('memory event bus');
    const log = this.#log(topic);
    const first = log.keys.length;
    const now = this.#clock.now();
    for (const { key, text } of entries) {
      log.keys.push(key);
      log.payloads.push(text);
      log.publishedTs.push(now);
    }
    if (entries.length > 0) wake(log);
    return {
      count: entries.length,
      firstPosition: entries.length > 0 ? String(first + 1) : undefined,
      lastPosition: entries.length > 0 ? String(log.keys.length) : undefined,
    };
  }

  async consumer(topic: string, options: ConsumerOptions): Promise<BusConsumer> {
    validateBusName('topic', topic);
    validateBusName('group', options.group);
    validateBusName('consumer name', options.name);
    const startAt = validateStartAt(options.startAt);
    const ackWaitMs = validateAckWaitMs(options.ackWaitMs, this.#ackWaitMs);
    if (this.#closed) throw closedError('memory event bus');
    const log = this.#log(topic);
    let group = log.groups.get(options.group);
    if (group === undefined) {
      group = { next: startIndex(log, startAt), ackWaitMs, pending: new Map() };
      log.groups.set(options.group, group);
    }
    return new MemoryBusConsumer(this, topic, options.group, options.name, log, group, this.#clock);
  }

  async deleteTopic(topic: string): Promise<void> {
    validateBusName('topic', topic);
    const log = this.#topics.get(topic);
    if (log === undefined) return;
    this.#topics.delete(topic);
    wake(log);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const log of this.#topics.values()) wake(log);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #log(topic: string): TopicLog {
    let log = this.#topics.get(topic);
    if (log === undefined) {
      log = { keys: [], payloads: [], publishedTs: [], groups: new Map(), waiters: new Set() };
      this.#topics.set(topic, log);
    }
    return log;
  }
}

function wake(log: TopicLog): void {
  for (const resolve of log.waiters) resolve();
  log.waiters.clear();
}

function startIndex(log: TopicLog, startAt: StartAt): number {
  switch (startAt.kind) {
    case 'earliest':
      return 0;
    case 'latest':
      return log.keys.length;
    case 'time': {
      // publish times are non-decreasing (one clock), so the first at or after timeMs is found by bisection
      let lo = 0;
      let hi = log.publishedTs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((log.publishedTs[mid] as number) < startAt.timeMs) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }
    case 'after': {
      const seq = Number(startAt.position);
      if (!/^\d+$/.test(startAt.position) || !Number.isSafeInteger(seq)) {
        throw new InvalidInputError(
          `startAt.position: expected a sequence number from a message, got ${startAt.position}`,
        );
      }
      return Math.min(seq, log.keys.length);
    }
  }
}

class MemoryBusConsumer implements BusConsumer {
  readonly #bus: MemoryEventBus;
  readonly #log: TopicLog;
  readonly #group: GroupState;
  readonly #clock: Clock;
  /** A member that rejoins under its name takes back what it held when it died, without waiting. */
  #recoverOwn = true;
  #closed = false;

  constructor(
    bus: MemoryEventBus,
    readonly topic: string,
    readonly group: string,
    readonly name: string,
    log: TopicLog,
    state: GroupState,
    clock: Clock,
  ) {
    this.#bus = bus;
    this.#log = log;
    this.#group = state;
    this.#clock = clock;
  }

  async pull(options?: PullOptions): Promise<BusMessage[]> {
    const { maxMessages, waitMs } = resolvePullOptions(options);
    if (this.#closed || this.#bus.closed) return [];
    const giveUpAt = Date.now() + waitMs;
    for (;;) {
      const messages = this.#take(maxMessages);
      if (messages.length > 0 || this.#closed || this.#bus.closed) return messages;
      const remaining = giveUpAt - Date.now();
      if (remaining <= 0) return [];
      await this.#waitForWork(remaining);
    }
  }

  async ack(messages: readonly BusMessage[]): Promise<void> {
    if (this.#closed) throw closedError(`consumer ${this.name}`);
    for (const message of messages) {
      if (message.topic !== this.topic) continue;
      this.#group.pending.delete(Number(message.position) - 1);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    wake(this.#log);
  }

  #take(maxMessages: number): BusMessage[] {
    const out: BusMessage[] = [];
    const now = this.#clock.now();
    const pending = this.#group.pending;
    if (this.#recoverOwn) {
      // collected first: redelivery re-inserts into the map being iterated
      const own: Array<[number, Delivery]> = [];
      for (const entry of pending) {
        if (own.length >= maxMessages) break;
        if (entry[1].consumer === this.name) own.push(entry);
      }
      for (const [index, delivery] of own) out.push(this.#redeliver(index, delivery, now));
      if (out.length < maxMessages) this.#recoverOwn = false;
    }
    for (const [index, delivery] of pending) {
      if (out.length >= maxMessages || delivery.deliveredAt + this.#group.ackWaitMs > now) break;
      out.push(this.#redeliver(index, delivery, now));
    }
    const end = this.#log.keys.length;
    let first: Delivery | undefined;
    while (out.length < maxMessages && this.#group.next < end) {
      const index = this.#group.next++;
      first ??= { consumer: this.name, deliveredAt: now, count: 1 };
      pending.set(index, first);
      out.push(this.#message(index, 1));
    }
    return out;
  }

  #redeliver(index: number, delivery: Delivery, now: number): BusMessage {
    const pending = this.#group.pending;
    pending.delete(index);
    const count = delivery.count + 1;
    pending.set(index, { consumer: this.name, deliveredAt: now, count });
    return this.#message(index, count);
  }

  #message(index: number, deliveryCount: number): BusMessage {
    return decodeMessage(
      this.topic,
      this.#log.keys[index] as string,
      this.#log.payloads[index] as string,
      String(index + 1),
      this.#log.publishedTs[index] as number,
      deliveryCount,
    );
  }

  /** Until a publish, a close, the next ack deadline (system clock) or `remainingMs`, whichever comes first. */
  #waitForWork(remainingMs: number): Promise<void> {
    let delay = remainingMs;
    const first = this.#group.pending.values().next();
    if (!first.done) {
      const untilDeadline = first.value.deliveredAt + this.#group.ackWaitMs - this.#clock.now();
      delay = Math.max(1, Math.min(delay, untilDeadline));
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#log.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, delay);
      this.#log.waiters.add(done);
    });
  }
}
