import { Redis, type RedisOptions } from 'ioredis';
import { BackendUnavailableError, backoffMs, describeError, InvalidInputError } from '../core/index.js';
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
  undecodableMessage,
  validateAckWaitMs,
  validateBusName,
  validateStartAt,
} from './event-bus.js';

export interface RedisStreamsEventBusOptions {
  readonly url: string;
  /** Prepended to every key: `${keyPrefix}bus:${topic}` is the topic's stream. */
  readonly keyPrefix: string;
  readonly ackWaitMs?: number;
  /**
   * Approximate cap on entries per topic stream (`XADD MAXLEN ~ n`). Default: no cap. A cap trims the oldest
   * entries whether or not every group has consumed them, so set it well above (peak rate x worst consumer lag);
   * trimmed entries that were pending are acknowledged away when found (XAUTOCLAIM reports them deleted).
   */
  readonly maxLen?: number;
  /** Reconnect attempts a command waits through before it fails with BackendUnavailableError. Default 20 (about 35 s). */
  readonly maxRetriesPerRequest?: number;
  readonly connectTimeoutMs?: number;
}

type StreamEntry = [id: string, fields: string[] | null];

const PUBLISH_CHUNK = 2000;
/** How long past its block time a read may go unanswered before the connection is presumed dead. */
const STALL_GRACE_MS = 2000;
const MAX_SEQ = '18446744073709551615';
const ENTRY_ID = /^\d+-\d+$/;

/**
 * Redis Streams: one stream per topic, one Redis consumer group per bus group. Publishing is pipelined XADD;
 * pulling is XAUTOCLAIM of entries idle longer than the ack deadline, then XREADGROUP `>` (blocking); acks
 * are XACK. Each consumer has its own connection (blocking reads would stall others). ioredis reconnects with
 * backoff and re-sends commands in flight; a read whose reply was lost leaves its entries pending, and the
 * consumer takes them back from its own pending list as soon as its connection is ready again.
 */
export class RedisStreamsEventBus implements EventBus {
  readonly kind = 'redis' as const;
  readonly #client: Redis;
  readonly #options: RedisStreamsEventBusOptions;
  readonly #ackWaitMs: number;
  readonly #consumers = new Set<RedisBusConsumer>();
  #closed = false;

  private constructor(client: Redis, options: RedisStreamsEventBusOptions) {
    this.#client = client;
    this.#options = options;
    this.#ackWaitMs = validateAckWaitMs(options.ackWaitMs, DEFAULT_ACK_WAIT_MS);
  }

  /** Connects (failing fast with BackendUnavailableError when Redis is not there). */
  static async connect(options: RedisStreamsEventBusOptions): Promise<RedisStreamsEventBus> {
    if (options.maxLen !== undefined && !(Number.isInteger(options.maxLen) && options.maxLen > 0)) {
      throw new InvalidInputError(`redis bus maxLen: expected a positive integer, got ${options.maxLen}`);
    }
    validateAckWaitMs(options.ackWaitMs, DEFAULT_ACK_WAIT_MS);
    const client = new Redis(options.url, redisOptions(options, `${options.keyPrefix}bus-publisher`));
    client.on('error', () => {}); // surfaced through the commands that fail
    try {
      await client.connect();
    } catch (err) {
      client.disconnect();
      throw new BackendUnavailableError(
        `redis bus: cannot connect to ${redactUrl(options.url)}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
    return new RedisStreamsEventBus(client, options);
  }

  async publish(topic: string, events: readonly BusEventInput[]): Promise<PublishResult> {
    const { keys, payloads } = encodeBatch(topic, events);
    if (this.#closed) throw closedError('redis event bus');
    if (keys.length === 0) return { count: 0, firstPosition: undefined, lastPosition: undefined };
    const stream = this.streamKey(topic);
    const trim = this.#options.maxLen === undefined ? [] : ['MAXLEN', '~', String(this.#options.maxLen)];
    // chunks go out back to back on one connection, so Redis appends them in order
    const chunks: Promise<Array<[Error | null, unknown]> | null>[] = [];
    for (let start = 0; start < keys.length; start += PUBLISH_CHUNK) {
      const pipeline = this.#client.pipeline();
      const end = Math.min(keys.length, start + PUBLISH_CHUNK);
      for (let i = start; i < end; i++) {
        pipeline.xadd(stream, ...(trim as []), '*', 'k', keys[i] as string, 'p', payloads[i] as string);
      }
      chunks.push(pipeline.exec());
    }
    let results: Array<Array<[Error | null, unknown]> | null>;
    try {
      results = await Promise.all(chunks);
    } catch (err) {
      throw new BackendUnavailableError(`redis bus: publish to ${topic} failed: ${describeError(err)}`, { cause: err });
    }
    let first: string | undefined;
    let last: string | undefined;
    for (const chunk of results) {
      for (const [err, id] of chunk ?? []) {
        if (err)
          throw new BackendUnavailableError(`redis bus: XADD to ${topic} failed: ${err.message}`, { cause: err });
        first ??= id as string;
        last = id as string;
      }
    }
    return { count: keys.length, firstPosition: first, lastPosition: last };
  }

  async consumer(topic: string, options: ConsumerOptions): Promise<BusConsumer> {
    validateBusName('topic', topic);
    validateBusName('group', options.group);
    validateBusName('consumer name', options.name);
    const startAt = validateStartAt(options.startAt);
    const ackWaitMs = validateAckWaitMs(options.ackWaitMs, this.#ackWaitMs);
    if (this.#closed) throw closedError('redis event bus');
    const stream = this.streamKey(topic);
    try {
      await this.#client.xgroup('CREATE', stream, options.group, groupStartId(startAt), 'MKSTREAM');
    } catch (err) {
      if (!describeError(err).startsWith('BUSYGROUP')) {
        throw new BackendUnavailableError(
          `redis bus: cannot create group ${options.group} on ${topic}: ${describeError(err)}`,
          {
            cause: err,
          },
        );
      }
    }
    const connection = this.#client.duplicate(
      redisOptions(this.#options, `${this.#options.keyPrefix}bus-consumer:${topic}:${options.group}:${options.name}`),
    );
    connection.on('error', () => {});
    const consumer = new RedisBusConsumer(connection, topic, stream, options.group, options.name, ackWaitMs, (c) =>
      this.#consumers.delete(c),
    );
    this.#consumers.add(consumer);
    try {
      await connection.connect();
    } catch (err) {
      await consumer.close();
      throw new BackendUnavailableError(`redis bus: consumer cannot connect: ${describeError(err)}`, { cause: err });
    }
    return consumer;
  }

  async deleteTopic(topic: string): Promise<void> {
    validateBusName('topic', topic);
    if (this.#closed) throw closedError('redis event bus');
    try {
      await this.#client.del(this.streamKey(topic));
    } catch (err) {
      throw new BackendUnavailableError(`redis bus: cannot delete ${topic}: ${describeError(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const consumer of [...this.#consumers]) await consumer.close();
    this.#client.disconnect();
  }

  /** The Redis key holding `topic`'s stream. */
  streamKey(topic: string): string {
    return `${this.#options.keyPrefix}bus:${topic}`;
  }
}

function redisOptions(options: RedisStreamsEventBusOptions, connectionName: string): RedisOptions {
  return {
    lazyConnect: true,
    connectionName,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 20,
    retryStrategy: (attempt) => backoffMs(attempt),
    enableOfflineQueue: true,
    autoResendUnfulfilledCommands: true,
  };
}

function groupStartId(startAt: StartAt): string {
  switch (startAt.kind) {
    case 'earliest':
      return '0';
    case 'latest':
      return '$';
    case 'time':
      // the group's last-delivered id: everything appended at or after timeMs comes next
      return startAt.timeMs <= 0 ? '0' : `${Math.floor(startAt.timeMs) - 1}-${MAX_SEQ}`;
    case 'after':
      if (!ENTRY_ID.test(startAt.position)) {
        throw new InvalidInputError(
          `startAt.position: expected a Redis stream entry id like 1700000000000-0, got ${startAt.position}`,
        );
      }
      return startAt.position;
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured URL';
  }
}

class RedisBusConsumer implements BusConsumer {
  readonly #redis: Redis;
  readonly #stream: string;
  readonly #ackWaitMs: number;
  readonly #claimEveryMs: number;
  readonly #onClose: (c: RedisBusConsumer) => void;
  /** Set at start and after every reconnect: entries delivered to this name but not acked come back first. */
  #recoverOwn = true;
  #ownCursor = '0';
  #claimCursor = '0-0';
  #nextClaimAt = 0;
  #closed = false;

  constructor(
    redis: Redis,
    readonly topic: string,
    stream: string,
    readonly group: string,
    readonly name: string,
    ackWaitMs: number,
    onClose: (c: RedisBusConsumer) => void,
  ) {
    this.#redis = redis;
    this.#stream = stream;
    this.#ackWaitMs = ackWaitMs;
    this.#claimEveryMs = Math.max(25, Math.floor(ackWaitMs / 4));
    this.#onClose = onClose;
    redis.on('ready', () => {
      this.#recoverOwn = true;
      this.#ownCursor = '0';
    });
  }

  async pull(options?: PullOptions): Promise<BusMessage[]> {
    const { maxMessages, waitMs } = resolvePullOptions(options);
    if (this.#closed) return [];
    const giveUpAt = Date.now() + waitMs;
    try {
      for (;;) {
        const out: BusMessage[] = [];
        if (this.#recoverOwn) await this.#readOwnPending(maxMessages, out);
        if (out.length < maxMessages && Date.now() >= this.#nextClaimAt)
          await this.#claimExpired(maxMessages - out.length, out);
        if (out.length > 0) return out;
        const remaining = giveUpAt - Date.now();
        // block no longer than the claim interval, so expired entries of dead members are not left waiting
        const blockMs = Math.min(remaining, Math.max(1, this.#nextClaimAt - Date.now()));
        await this.#readNew(maxMessages, remaining > 0 ? blockMs : 0, out);
        if (out.length > 0 || this.#closed || Date.now() >= giveUpAt) return out;
      }
    } catch (err) {
      if (this.#closed) return [];
      throw new BackendUnavailableError(
        `redis bus: pull from ${this.topic} (${this.group}/${this.name}) failed: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  async ack(messages: readonly BusMessage[]): Promise<void> {
    if (this.#closed) throw closedError(`consumer ${this.name}`);
    const ids = messages.filter((m) => m.topic === this.topic).map((m) => m.position);
    try {
      for (let start = 0; start < ids.length; start += PUBLISH_CHUNK) {
        await this.#redis.xack(this.#stream, this.group, ...ids.slice(start, start + PUBLISH_CHUNK));
      }
    } catch (err) {
      throw new BackendUnavailableError(`redis bus: ack on ${this.topic} failed: ${describeError(err)}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose(this);
    this.#redis.disconnect();
  }

  async #readOwnPending(maxMessages: number, out: BusMessage[]): Promise<void> {
    const reply = (await this.#redis.xreadgroup(
      'GROUP',
      this.group,
      this.name,
      'COUNT',
      maxMessages,
      'STREAMS',
      this.#stream,
      this.#ownCursor,
    )) as Array<[string, StreamEntry[]]> | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length < maxMessages) {
      this.#recoverOwn = false;
      this.#ownCursor = '0';
    } else {
      this.#ownCursor = (entries[entries.length - 1] as StreamEntry)[0];
    }
    await this.#emitRedelivered(entries, out);
  }

  async #claimExpired(count: number, out: BusMessage[]): Promise<void> {
    const [next, entries, deleted] = (await this.#redis.xautoclaim(
      this.#stream,
      this.group,
      this.name,
      this.#ackWaitMs,
      this.#claimCursor,
      'COUNT',
      count,
    )) as [string, StreamEntry[], string[] | undefined];
    this.#claimCursor = next;
    if (next === '0-0') this.#nextClaimAt = Date.now() + this.#claimEveryMs;
    // entries trimmed away (MAXLEN) while pending: nothing left to deliver, so they leave the pending list
    if (deleted && deleted.length > 0) await this.#redis.xack(this.#stream, this.group, ...deleted);
    await this.#emitRedelivered(entries, out);
  }

  async #readNew(maxMessages: number, blockMs: number, out: BusMessage[]): Promise<void> {
    const args: Array<string | number> = ['GROUP', this.group, this.name, 'COUNT', maxMessages];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', this.#stream, '>');
    // a reply that never comes (half-open connection) would hang the pull: past the block time plus a grace,
    // force a reconnect; ioredis re-sends the read, and entries it had delivered come back as own pending
    const watchdog = setTimeout(() => {
      if (this.#redis.status === 'ready') this.#redis.disconnect(true);
    }, blockMs + STALL_GRACE_MS);
    let reply: Array<[string, StreamEntry[]]> | null;
    try {
      reply = (await this.#redis.call('XREADGROUP', ...args)) as Array<[string, StreamEntry[]]> | null;
    } finally {
      clearTimeout(watchdog);
    }
    for (const [id, fields] of reply?.[0]?.[1] ?? []) {
      if (fields !== null) out.push(this.#message(id, fields, 1));
    }
  }

  /** Delivery counts of re-read entries come from XPENDING (rare path: redeliveries only). */
  async #emitRedelivered(entries: StreamEntry[], out: BusMessage[]): Promise<void> {
    const live = entries.filter((e) => e[1] !== null);
    const gone = entries.filter((e) => e[1] === null).map((e) => e[0]);
    if (gone.length > 0) await this.#redis.xack(this.#stream, this.group, ...gone);
    if (live.length === 0) return;
    const first = (live[0] as StreamEntry)[0];
    const last = (live[live.length - 1] as StreamEntry)[0];
    const pending = (await this.#redis.xpending(
      this.#stream,
      this.group,
      first,
      last,
      live.length,
      this.name,
    )) as Array<[string, string, number, number]>;
    const counts = new Map(pending.map((p) => [p[0], Number(p[3])]));
    for (const [id, fields] of live) out.push(this.#message(id, fields as string[], counts.get(id) ?? 2));
  }

  #message(id: string, fields: string[], deliveryCount: number): BusMessage {
    let key = '';
    let payload: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'k') key = fields[i + 1] as string;
      else if (fields[i] === 'p') payload = fields[i + 1] as string;
    }
    const publishedTs = Number(id.slice(0, id.indexOf('-')));
    if (payload === undefined) {
      // an entry some other producer added with its own field names
      const names = fields.filter((_, i) => i % 2 === 0).map((f) => JSON.stringify(f));
      return undecodableMessage(this.topic, key, id, publishedTs, deliveryCount, {
        reason: `no payload field "p": expected fields "k" (key) and "p" (JSON payload), got ${names.length > 0 ? names.join(', ') : 'none'}`,
        text: '',
      });
    }
    return decodeMessage(this.topic, key, payload, id, publishedTs, deliveryCount);
  }
}
