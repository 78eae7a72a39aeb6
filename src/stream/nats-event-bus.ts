import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  type ConsumerConfig,
  connect,
  createInbox,
  DeliverPolicy,
  headers,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
} from 'nats';
import { BackendUnavailableError, describeError, InvalidInputError } from '../core/index.js';
import {
  type BusConsumer,
  type BusEventInput,
  type BusMessage,
  backoffMs,
  type ConsumerOptions,
  closedError,
  DEFAULT_ACK_WAIT_MS,
  decodePayload,
  type EventBus,
  encodeBatch,
  type PublishResult,
  type PullOptions,
  resolvePullOptions,
  type StartAt,
  sleep,
  validateAckWaitMs,
  validateBusName,
  validateStartAt,
} from './event-bus.js';

export interface NatsEventBusOptions {
  readonly url: string;
  /** Stream `${streamPrefix}_${topic}` holds subject `${streamPrefix}.${topic}`. */
  readonly streamPrefix: string;
  readonly ackWaitMs?: number;
  /**
   * Unacknowledged messages a group may have out at once (JetStream max_ack_pending), for groups this bus creates.
   * Default 100,000: the ingestor acknowledges per checkpoint (every 50,000 messages by default), and each
   * checkpoint re-encodes every user changed since the last, so fewer, larger checkpoints cost less per event.
   */
  readonly maxAckPending?: number;
  /** How long one publish waits for its PubAck before it is retried (same msg id, so no duplicate). Default 5,000. */
  readonly publishTimeoutMs?: number;
  /** Publish retries per message after a timeout or a dropped connection. Default 8. */
  readonly publishRetries?: number;
  readonly connectTimeoutMs?: number;
}

const PREFIX = /^[A-Za-z0-9_-]{1,64}$/;
const PUBLISH_WINDOW = 1024;
/** JetStream drops a re-sent msg id inside this window: retried publishes are not stored twice. */
const DUPLICATE_WINDOW_MS = 120_000;
/** How long past its expiry a fetch may run before the client ends it itself. */
const FETCH_GRACE_MS = 2000;
const ACK_CONFIRM_TIMEOUT_MS = 5000;
const DEFAULT_MAX_ACK_PENDING = 100_000;

/** JetStream reports "no limit" as -1 (or leaves the field out). */
function positiveOrUndefined(n: number | undefined): number | undefined {
  return n !== undefined && n > 0 ? n : undefined;
}
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * NATS JetStream: one file-backed stream per topic, one durable pull consumer (explicit ack, `ack_wait` =
 * the ack deadline, unlimited redeliveries) per group. Pulls are no-wait fetches with an expiry, so a pull
 * returns what is there at once and waits only when nothing is. Each message carries `key \n payload`.
 * The client reconnects forever with exponential backoff; durable consumers live on the server, so
 * unacknowledged messages come back after `ack_wait` and publishes retried after a drop are deduplicated
 * by message id.
 */
export class NatsEventBus implements EventBus {
  readonly kind = 'nats' as const;
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #options: NatsEventBusOptions;
  readonly #ackWaitMs: number;
  readonly #streams = new Map<string, Promise<void>>();
  readonly #consumers = new Set<NatsBusConsumer>();
  /**
   * Delivered, unacked messages per topic and group, shared by the group's members in this process: acks go back
   * through each message's reply subject, and any member may ack (as with XACK and the memory bus).
   */
  readonly #inFlight = new Map<string, InFlight>();
  readonly #ackInbox = createInbox();
  readonly #pendingAcks = new Map<string, (seq: number, error: string | undefined) => void>();
  #nextToken = 0;
  #lastPublishError: string | undefined;
  #closed = false;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, options: NatsEventBusOptions) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = nc.jetstream();
    this.#options = options;
    this.#ackWaitMs = validateAckWaitMs(options.ackWaitMs, DEFAULT_ACK_WAIT_MS);
    nc.subscribe(`${this.#ackInbox}.*`, { callback: (_err, msg) => this.#onPubAck(msg.subject, msg.data) });
  }

  static async connect(options: NatsEventBusOptions): Promise<NatsEventBus> {
    if (!PREFIX.test(options.streamPrefix)) {
      throw new InvalidInputError(
        `nats.streamPrefix: expected 1-64 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(options.streamPrefix)}`,
      );
    }
    validateAckWaitMs(options.ackWaitMs, DEFAULT_ACK_WAIT_MS);
    let attempt = 0;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.url,
        name: `adnova-bus-${options.streamPrefix}`,
        timeout: options.connectTimeoutMs ?? 5000,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectDelayHandler: () => backoffMs(attempt++),
        // stay on the configured address (a proxy or load balancer), not the server's advertised ones
        ignoreClusterUpdates: true,
      });
    } catch (err) {
      throw new BackendUnavailableError(`nats bus: cannot connect to ${options.url}: ${describeError(err)}`, {
        cause: err,
      });
    }
    void (async () => {
      for await (const status of nc.status()) if (status.type === 'reconnect') attempt = 0;
    })().catch(() => {});
    try {
      const jsm = await nc.jetstreamManager();
      return new NatsEventBus(nc, jsm, options);
    } catch (err) {
      await nc.close().catch(() => {});
      throw new BackendUnavailableError(
        `nats bus: JetStream is not available at ${options.url}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  async publish(topic: string, events: readonly BusEventInput[]): Promise<PublishResult> {
    const { keys, payloads } = encodeBatch(topic, events);
    if (this.#closed) throw closedError('nats event bus');
    if (keys.length === 0) return { count: 0, firstPosition: undefined, lastPosition: undefined };
    await this.#ensureStream(topic);
    const batchId = randomUUID();
    const seqs = new Float64Array(keys.length);
    for (let start = 0; start < keys.length; start += PUBLISH_WINDOW) {
      const end = Math.min(keys.length, start + PUBLISH_WINDOW);
      const data: Uint8Array[] = [];
      for (let i = start; i < end; i++) data.push(encoder.encode(`${keys[i]}\n${payloads[i]}`));
      await this.#publishWindow(topic, data, batchId, start, seqs);
    }
    return { count: keys.length, firstPosition: String(seqs[0]), lastPosition: String(seqs[keys.length - 1]) };
  }

  async consumer(topic: string, options: ConsumerOptions): Promise<BusConsumer> {
    validateBusName('topic', topic);
    validateBusName('group', options.group);
    validateBusName('consumer name', options.name);
    const startAt = validateStartAt(options.startAt);
    const ackWaitMs = validateAckWaitMs(options.ackWaitMs, this.#ackWaitMs);
    if (this.#closed) throw closedError('nats event bus');
    await this.#ensureStream(topic);
    const stream = this.streamName(topic);
    let maxUnacked: number | undefined;
    try {
      // an existing group keeps the limit it was created with
      maxUnacked = positiveOrUndefined((await this.#jsm.consumers.info(stream, options.group)).config.max_ack_pending);
    } catch (err) {
      if (!isNotFound(err)) throw this.#unavailable(`cannot read group ${options.group} of ${topic}`, err);
      const config: Partial<ConsumerConfig> = {
        durable_name: options.group,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(ackWaitMs),
        max_deliver: -1,
        max_ack_pending: this.#options.maxAckPending ?? DEFAULT_MAX_ACK_PENDING,
        filter_subject: this.subject(topic),
        ...deliverPolicy(startAt),
      };
      try {
        maxUnacked = positiveOrUndefined((await this.#jsm.consumers.add(stream, config)).config.max_ack_pending);
      } catch (addErr) {
        // another member may have created it between info and add
        const info = await this.#jsm.consumers.info(stream, options.group).catch(() => {
          throw this.#unavailable(`cannot create group ${options.group} on ${topic}`, addErr);
        });
        maxUnacked = positiveOrUndefined(info.config.max_ack_pending);
      }
    }
    const groupKey = `${topic}/${options.group}`;
    let inFlight = this.#inFlight.get(groupKey);
    if (inFlight === undefined) {
      inFlight = new Map();
      this.#inFlight.set(groupKey, inFlight);
    }
    const consumer = new NatsBusConsumer(
      this.#nc,
      this.#js,
      topic,
      stream,
      options.group,
      options.name,
      ackWaitMs,
      maxUnacked,
      inFlight,
      (c) => this.#consumers.delete(c),
    );
    this.#consumers.add(consumer);
    return consumer;
  }

  async deleteTopic(topic: string): Promise<void> {
    validateBusName('topic', topic);
    if (this.#closed) throw closedError('nats event bus');
    this.#streams.delete(topic);
    for (const key of [...this.#inFlight.keys()]) if (key.startsWith(`${topic}/`)) this.#inFlight.delete(key);
    try {
      await this.#jsm.streams.delete(this.streamName(topic));
    } catch (err) {
      if (!isNotFound(err)) throw this.#unavailable(`cannot delete ${topic}`, err);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const consumer of [...this.#consumers]) await consumer.close();
    await this.#nc.close().catch(() => {});
  }

  streamName(topic: string): string {
    return `${this.#options.streamPrefix}_${topic}`;
  }

  subject(topic: string): string {
    return `${this.#options.streamPrefix}.${topic}`;
  }

  #ensureStream(topic: string): Promise<void> {
    let ready = this.#streams.get(topic);
    if (ready === undefined) {
      const name = this.streamName(topic);
      ready = this.#jsm.streams
        .add({
          name,
          subjects: [this.subject(topic)],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          duplicate_window: nanos(DUPLICATE_WINDOW_MS),
        })
        .then(
          () => undefined,
          async (err) => {
            // exists already (perhaps with other limits set by an operator): use it as it is
            await this.#jsm.streams.info(name).catch(() => {
              throw this.#unavailable(`cannot create stream ${name}`, err);
            });
          },
        );
      ready.catch(() => this.#streams.delete(topic));
      this.#streams.set(topic, ready);
    }
    return ready;
  }

  /**
   * Publishes a window of messages without waiting for each PubAck in turn (one reply subscription for all,
   * as the Go client's PublishAsync): a 20,000-event batch ran at 39K/s this way, 5K/s awaiting `js.publish` per message.
   * Messages whose PubAck does not come within the timeout are re-sent with the same msg id (deduplicated).
   */
  async #publishWindow(
    topic: string,
    data: Uint8Array[],
    batchId: string,
    offset: number,
    seqs: Float64Array,
  ): Promise<void> {
    const subject = this.subject(topic);
    let todo = data.map((_, i) => i);
    for (let attempt = 0; todo.length > 0; attempt++) {
      if (this.#closed) throw closedError('nats event bus');
      if (attempt > (this.#options.publishRetries ?? 8)) {
        throw new BackendUnavailableError(
          `nats bus: publish to ${subject}: ${todo.length} messages not acknowledged after ${attempt} attempts${this.#lastPublishError ? `: ${this.#lastPublishError}` : ''}`,
        );
      }
      if (attempt > 0) {
        await sleep(backoffMs(attempt - 1));
        // the stream may have been deleted under us (no responders): create it again before re-sending
        this.#streams.delete(topic);
        await this.#ensureStream(topic);
      }
      const failed: number[] = [];
      await new Promise<void>((resolve) => {
        let open = todo.length;
        const tokens: string[] = [];
        const settle = () => {
          if (--open === 0) {
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          for (let t = 0; t < tokens.length; t++) {
            const token = tokens[t] as string;
            if (this.#pendingAcks.delete(token)) failed.push(todo[t] as number);
          }
          resolve();
        }, this.#options.publishTimeoutMs ?? 5000);
        for (const i of todo) {
          const token = String(this.#nextToken++);
          tokens.push(token);
          this.#pendingAcks.set(token, (seq, error) => {
            if (seq > 0) seqs[offset + i] = seq;
            else {
              this.#lastPublishError = error;
              failed.push(i);
            }
            settle();
          });
          const h = headers();
          h.set('Nats-Msg-Id', `${batchId}:${offset + i}`);
          try {
            this.#nc.publish(subject, data[i], { reply: `${this.#ackInbox}.${token}`, headers: h });
          } catch (err) {
            this.#pendingAcks.delete(token);
            this.#lastPublishError = describeError(err);
            failed.push(i);
            settle();
          }
        }
      });
      todo = failed.sort((a, b) => a - b);
    }
  }

  /** Routes PubAcks (JSON `{stream, seq}` or `{error}`) to the publishes waiting for them. */
  #onPubAck(subject: string, data: Uint8Array): void {
    const token = subject.slice(subject.lastIndexOf('.') + 1);
    const settle = this.#pendingAcks.get(token);
    if (settle === undefined) return; // timed out already and re-sent
    this.#pendingAcks.delete(token);
    try {
      const ack = JSON.parse(decoder.decode(data)) as { seq?: number; error?: { description?: string } };
      if (typeof ack.seq === 'number' && ack.seq > 0) settle(ack.seq, undefined);
      else settle(0, ack.error?.description ?? 'no sequence in PubAck');
    } catch {
      // a status reply (e.g. 503 no responders while the stream is unavailable) has no JSON body
      settle(0, 'no PubAck (stream unavailable)');
    }
  }

  #unavailable(what: string, err: unknown): BackendUnavailableError {
    return new BackendUnavailableError(`nats bus: ${what}: ${describeError(err)}`, { cause: err });
  }
}

function deliverPolicy(startAt: StartAt): Partial<ConsumerConfig> {
  switch (startAt.kind) {
    case 'earliest':
      return { deliver_policy: DeliverPolicy.All };
    case 'latest':
      return { deliver_policy: DeliverPolicy.New };
    case 'time':
      return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(startAt.timeMs).toISOString() };
    case 'after': {
      const seq = Number(startAt.position);
      if (!Number.isSafeInteger(seq) || seq < 0) {
        throw new InvalidInputError(`startAt.position: expected a JetStream sequence number, got ${startAt.position}`);
      }
      return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq + 1 };
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown; api_error?: { code?: number } }).api_error?.code;
  return code === 404 || /not found/i.test(describeError(err));
}

/**
 * Per position: the reply subject an ack goes to, and when it was delivered. Only the subject, not the JsMsg: a
 * message is held until its checkpoint (tens of thousands of them), and the JsMsg would keep its payload bytes
 * alive that long.
 */
type InFlight = Map<
  string,
  { reply: string; msg?: undefined; at: number } | { reply?: undefined; msg: JsMsg; at: number }
>;

/** What JsMsg.ack() sends to the message's reply subject. */
const ACK = Uint8Array.of(43, 65, 67, 75); // "+ACK"

class NatsBusConsumer implements BusConsumer {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #stream: string;
  readonly #ackWaitMs: number;
  readonly #onClose: (c: NatsBusConsumer) => void;
  readonly #inFlight: InFlight;
  /** The fetch a pull is waiting on, so close() can end it. */
  #fetch: { stop(): void } | undefined;
  #lastPrune = Date.now();
  #closed = false;

  constructor(
    nc: NatsConnection,
    js: JetStreamClient,
    readonly topic: string,
    stream: string,
    readonly group: string,
    readonly name: string,
    ackWaitMs: number,
    readonly maxUnacked: number | undefined,
    inFlight: InFlight,
    onClose: (c: NatsBusConsumer) => void,
  ) {
    this.#inFlight = inFlight;
    this.#nc = nc;
    this.#js = js;
    this.#stream = stream;
    this.#ackWaitMs = ackWaitMs;
    this.#onClose = onClose;
  }

  async pull(options?: PullOptions): Promise<BusMessage[]> {
    const { maxMessages, waitMs } = resolvePullOptions(options);
    if (this.#closed || this.#nc.isClosed()) return [];
    this.#prune();
    const giveUpAt = Date.now() + waitMs;
    const out: BusMessage[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        // no_wait + expires: return what is available now, or wait up to `expires` for the first message
        const remaining = Math.max(0, giveUpAt - Date.now());
        const fetch = this.#js.fetch(this.#stream, this.group, {
          batch: maxMessages,
          no_wait: true,
          ...(remaining > 0 ? { expires: remaining } : {}),
        });
        // the server ends the fetch (408) at expiry; if its replies stop coming (a half-dead connection), this does
        const guard = setTimeout(() => fetch.stop(), remaining + FETCH_GRACE_MS);
        this.#fetch = fetch;
        try {
          // one delivery time per pull (only pruning reads it, at 10 ack deadlines), not a clock read per message
          const at = Date.now();
          for await (const msg of fetch) {
            const message = this.#message(msg);
            // JsMsg.reply exists at runtime (ack() publishes to it) but not in nats.js's types: keep the JsMsg if
            // it is ever missing
            const reply = (msg as JsMsg & { readonly reply?: unknown }).reply;
            this.#inFlight.set(
              message.position,
              typeof reply === 'string' && reply !== '' ? { reply, at } : { msg, at },
            );
            out.push(message);
          }
        } finally {
          clearTimeout(guard);
          this.#fetch = undefined;
        }
        return out;
      } catch (err) {
        // a fetch cut by a dropped connection: whatever arrived stays pending server-side and comes back later
        if (this.#closed || this.#nc.isClosed() || out.length > 0) return out;
        if (Date.now() >= giveUpAt) {
          if (this.#nc.isDraining()) return [];
          throw new BackendUnavailableError(
            `nats bus: pull from ${this.topic} (${this.group}) failed: ${describeError(err)}`,
            {
              cause: err,
            },
          );
        }
        await sleep(Math.min(backoffMs(attempt), Math.max(1, giveUpAt - Date.now())));
      }
    }
  }

  async ack(messages: readonly BusMessage[]): Promise<void> {
    if (this.#closed) throw closedError(`consumer ${this.name}`);
    let sent = 0;
    for (const message of messages) {
      if (message.topic !== this.topic) continue;
      const entry = this.#inFlight.get(message.position);
      if (entry === undefined) continue;
      if (entry.reply !== undefined) this.#nc.publish(entry.reply, ACK);
      else entry.msg.ack();
      this.#inFlight.delete(message.position);
      sent++;
    }
    if (sent === 0) return;
    try {
      // acks are fire-and-forget on the wire; a flush round trip means the server has them
      await withTimeout(this.#nc.flush(), ACK_CONFIRM_TIMEOUT_MS, 'no PONG from the server');
    } catch (err) {
      throw new BackendUnavailableError(`nats bus: ack on ${this.topic} not confirmed: ${describeError(err)}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#fetch?.stop();
    this.#onClose(this);
  }

  #message(msg: JsMsg): BusMessage {
    const text = decoder.decode(msg.data);
    const cut = text.indexOf('\n');
    const position = String(msg.seq);
    return {
      topic: this.topic,
      key: cut < 0 ? '' : text.slice(0, cut),
      payload: decodePayload(this.topic, position, cut < 0 ? text : text.slice(cut + 1)),
      position,
      publishedTs: Math.floor(msg.info.timestampNanos / 1e6),
      deliveryCount: msg.info.redeliveryCount,
    };
  }

  /** Forgets deliveries long past their deadline: they were redelivered elsewhere, and an ack here would be late. */
  #prune(): void {
    const now = Date.now();
    if (now - this.#lastPrune < this.#ackWaitMs) return;
    this.#lastPrune = now;
    for (const [position, entry] of this.#inFlight) {
      if (now - entry.at > 10 * this.#ackWaitMs) this.#inFlight.delete(position);
    }
  }
}
