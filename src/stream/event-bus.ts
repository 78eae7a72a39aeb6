import { BackendUnavailableError, describeError, InvalidInputError, shardOf } from '../core/index.js';

/**
 * The event bus the stream module consumes from: an append-only log per topic, durable consumer groups with
 * explicit acknowledgement, redelivery of what a consumer took and did not acknowledge within `ackWaitMs`, and
 * replay from a position or a time. Delivery is at least once: consumers deduplicate by event id.
 */
export interface EventBus {
  readonly kind: EventBusKind;
  /**
   * Appends `events` to `topic` in order. The whole batch is validated (topic, keys, JSON payloads) before
   * anything is written, so a bad batch writes nothing. Resolves once every event is durable in the broker.
   */
  publish(topic: string, events: readonly BusEventInput[]): Promise<PublishResult>;
  /**
   * A member of consumer group `options.group` on `topic`. The group is created on first use, starting at
   * `options.startAt`; later members join it where it is (startAt is then ignored).
   */
  consumer(topic: string, options: ConsumerOptions): Promise<BusConsumer>;
  /** Removes the topic, its messages and its groups (tests, retention tools). Unknown topics are a no-op. */
  deleteTopic(topic: string): Promise<void>;
  /** Releases connections; pulls in flight resolve empty. Safe twice. */
  close(): Promise<void>;
}

export interface BusConsumer {
  readonly topic: string;
  readonly group: string;
  readonly name: string;
  /**
   * How many messages the group may hold delivered and unacknowledged before the broker stops delivering (NATS:
   * the group's max_ack_pending); undefined when the bus has no such limit. A consumer that holds messages until a
   * checkpoint acknowledges them must checkpoint before it reaches this, or its pulls come back empty.
   */
  readonly maxUnacked?: number | undefined;
  /**
   * Up to `maxMessages` messages: first those whose ack deadline passed (taken by a member that never acked),
   * then new ones. Waits up to `waitMs` for the first one; resolves empty when none came.
   */
  pull(options?: PullOptions): Promise<BusMessage[]>;
  /** Marks messages done for this group. Idempotent: acking twice, or an unknown position, is a no-op. */
  ack(messages: readonly BusMessage[]): Promise<void>;
  /** Leaves the group; unacknowledged messages are redelivered to other members after their deadline. Safe twice. */
  close(): Promise<void>;
}

export const EVENT_BUS_KINDS = ['memory', 'redis', 'nats'] as const;
export type EventBusKind = (typeof EVENT_BUS_KINDS)[number];

/** One event to publish: `key` is the user id (ordering and partitioning key); `payload` must be JSON. */
export interface BusEventInput {
  readonly key: string;
  readonly payload: unknown;
}

export interface BusMessage {
  readonly topic: string;
  readonly key: string;
  /** A fresh copy parsed from the stored JSON. */
  readonly payload: unknown;
  /**
   * Where the message sits in the topic's log. Opaque (a sequence number for memory and NATS, an entry id for
   * Redis) but stable: `startAt: { kind: 'after', position }` replays everything after it.
   */
  readonly position: string;
  /** Broker time at which the message was appended, epoch ms (the reference for `startAt: { kind: 'time' }`). */
  readonly publishedTs: number;
  /** 1 on first delivery, then 2, 3... on redeliveries. */
  readonly deliveryCount: number;
  /**
   * Set when what the broker holds at this position is not a payload `publish` wrote (a foreign producer's raw
   * XADD or NATS publish of text that is not JSON); `payload` is then undefined. Such a message is delivered like
   * any other, so that the consumer can dead-letter and acknowledge it: a bus never throws on one, since a pull that
   * failed on it would leave it and everything after it pending.
   */
  readonly undecodable?: UndecodablePayload;
}

/** Why a stored message could not be decoded, and what was stored (for the dead letter). */
export interface UndecodablePayload {
  /** Readable: `not JSON (Unexpected token 'n', "{not json" is not valid JSON): "{not json"`. */
  readonly reason: string;
  /** The stored payload text as it came ('' when there was none). */
  readonly text: string;
}

export interface PublishResult {
  readonly count: number;
  /** Positions of the first and last event written; undefined for an empty batch. */
  readonly firstPosition: string | undefined;
  readonly lastPosition: string | undefined;
}

/** Where a new group starts reading. */
export type StartAt =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly timeMs: number }
  | { readonly kind: 'after'; readonly position: string };

export const START_AT_KINDS = ['earliest', 'latest', 'time', 'after'] as const;

export interface ConsumerOptions {
  readonly group: string;
  /** Unique among the live members of the group (Redis uses it to recover its own pending messages). */
  readonly name: string;
  /** Only when the group is created; default earliest. */
  readonly startAt?: StartAt;
  /** Ack deadline; default the bus's. For NATS it is fixed when the group is created. */
  readonly ackWaitMs?: number;
}

export interface PullOptions {
  /** Default 256. */
  readonly maxMessages?: number;
  /** Default 1000; 0 returns at once with what is available. */
  readonly waitMs?: number;
}

export const DEFAULT_ACK_WAIT_MS = 30_000;
export const DEFAULT_PULL_MAX_MESSAGES = 256;
export const DEFAULT_PULL_WAIT_MS = 1000;
export const MAX_PULL_MESSAGES = 10_000;

const NAME = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_KEY_LENGTH = 256;

/** Topic, group and consumer names: 1-128 of `A-Z a-z 0-9 _ -` (safe as NATS tokens and Redis key parts). */
export function validateBusName(what: 'topic' | 'group' | 'consumer name', name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidInputError(
      `${what}: expected 1-128 characters of A-Z a-z 0-9 _ -, got ${name === '' ? 'an empty string' : (JSON.stringify(name) ?? String(name))}`,
    );
  }
  return name;
}

/**
 * The topic of `userId` when `base` is split into `partitions` topics (`events-p0` ... `events-p7`), by the
 * stable user-id hash: how work is spread over workers with key affinity (each worker owns some partitions).
 */
export function partitionTopic(base: string, userId: string, partitions: number): string {
  validateBusName('topic', base);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 4096) {
    throw new InvalidInputError(`partitions: expected an integer from 1 to 4096, got ${partitions}`);
  }
  return `${base}-p${shardOf(userId, partitions)}`;
}

/** All partition topics of `base`, in partition order. */
export function partitionTopics(base: string, partitions: number): string[] {
  partitionTopic(base, '', partitions);
  return Array.from({ length: partitions }, (_, p) => `${base}-p${p}`);
}

/**
 * Validates a batch and serializes each payload once. Throws before anything is published, naming the first
 * bad event's index. JSON turns non-finite numbers into null; that is JSON's rule, not checked here (hot path).
 */
export function encodeBatch(topic: string, events: readonly BusEventInput[]): { keys: string[]; payloads: string[] } {
  validateBusName('topic', topic);
  if (!Array.isArray(events))
    throw new InvalidInputError(`publish to ${topic}: expected an array of events, got ${typeof events}`);
  const keys = new Array<string>(events.length);
  const payloads = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (event === null || typeof event !== 'object') {
      throw new InvalidInputError(
        `publish to ${topic}: event ${i} must be an object { key, payload }, got ${event === null ? 'null' : typeof event}`,
      );
    }
    const key = event.key;
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || hasControlChar(key)) {
      throw new InvalidInputError(
        `publish to ${topic}: event ${i} key must be a non-empty string of at most ${MAX_KEY_LENGTH} printable characters, got ${JSON.stringify(key) ?? String(key)}`,
        { details: { index: i } },
      );
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(event.payload);
    } catch (err) {
      throw new InvalidInputError(
        `publish to ${topic}: event ${i} payload is not JSON-serializable: ${(err as Error).message}`,
        {
          cause: err,
          details: { index: i },
        },
      );
    }
    if (json === undefined) {
      throw new InvalidInputError(
        `publish to ${topic}: event ${i} payload is not JSON-serializable: expected a JSON value, got ${typeof event.payload}`,
        { details: { index: i } },
      );
    }
    keys[i] = key;
    payloads[i] = json;
  }
  return { keys, payloads };
}

function hasControlChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

export function validateStartAt(startAt: StartAt | undefined): StartAt {
  if (startAt === undefined) return { kind: 'earliest' };
  if (startAt === null || typeof startAt !== 'object' || !START_AT_KINDS.includes(startAt.kind)) {
    throw new InvalidInputError(
      `startAt: expected kind one of ${START_AT_KINDS.join(', ')}, got ${JSON.stringify(startAt)}`,
    );
  }
  if (startAt.kind === 'time' && !(Number.isFinite(startAt.timeMs) && startAt.timeMs >= 0)) {
    throw new InvalidInputError(`startAt.timeMs: expected epoch ms >= 0, got ${startAt.timeMs}`);
  }
  if (startAt.kind === 'after' && (typeof startAt.position !== 'string' || startAt.position.length === 0)) {
    throw new InvalidInputError(
      `startAt.position: expected a position string from a message, got ${JSON.stringify(startAt.position)}`,
    );
  }
  return startAt;
}

export function validateAckWaitMs(value: number | undefined, fallback: number): number {
  const ms = value ?? fallback;
  if (!Number.isInteger(ms) || ms < 10 || ms > 86_400_000) {
    throw new InvalidInputError(`ackWaitMs: expected an integer from 10 to 86400000, got ${ms}`);
  }
  return ms;
}

export function resolvePullOptions(options: PullOptions | undefined): { maxMessages: number; waitMs: number } {
  const maxMessages = options?.maxMessages ?? DEFAULT_PULL_MAX_MESSAGES;
  const waitMs = options?.waitMs ?? DEFAULT_PULL_WAIT_MS;
  if (!Number.isInteger(maxMessages) || maxMessages < 1 || maxMessages > MAX_PULL_MESSAGES) {
    throw new InvalidInputError(
      `pull maxMessages: expected an integer from 1 to ${MAX_PULL_MESSAGES}, got ${maxMessages}`,
    );
  }
  if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > 600_000) {
    throw new InvalidInputError(`pull waitMs: expected an integer from 0 to 600000, got ${waitMs}`);
  }
  return { maxMessages, waitMs };
}

export function closedError(what: string): BackendUnavailableError {
  return new BackendUnavailableError(`${what} is closed`);
}

/**
 * The message stored at `position`: its payload parsed from `text`, or, when `text` is not JSON, an undecodable
 * message (never a throw: one bad message must not fail the pull that brought it, see BusMessage.undecodable).
 */
export function decodeMessage(
  topic: string,
  key: string,
  text: string,
  position: string,
  publishedTs: number,
  deliveryCount: number,
): BusMessage {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    return undecodableMessage(topic, key, position, publishedTs, deliveryCount, {
      reason: `not JSON (${describeError(err)}): ${preview(text)}`,
      text,
    });
  }
  return { topic, key, payload, position, publishedTs, deliveryCount };
}

export function undecodableMessage(
  topic: string,
  key: string,
  position: string,
  publishedTs: number,
  deliveryCount: number,
  undecodable: UndecodablePayload,
): BusMessage {
  return { topic, key, payload: undefined, position, publishedTs, deliveryCount, undecodable };
}

const PREVIEW_CHARS = 80;

/** The start of a stored text, quoted, for a reason line. */
export function preview(text: string): string {
  return text.length <= PREVIEW_CHARS
    ? JSON.stringify(text)
    : `${JSON.stringify(text.slice(0, PREVIEW_CHARS))}... (${text.length} characters)`;
}
