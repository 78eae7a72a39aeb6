import {
  BackendUnavailableError,
  backoffMs,
  type Clock,
  type CounterMetric,
  type HistogramMetric,
  InvalidInputError,
  type MetricsRegistry,
  NO_TOMBSTONES,
  sleep,
  systemClock,
  type TombstoneCheck,
} from '../core/index.js';
import type { OfflineRowBatch } from '../features/index.js';
import { type AggregatorMeta, DEFAULT_ALLOWED_LATENESS_MS, WindowAggregator } from './aggregation/index.js';
import { type AggregationPlan, planKeyOf } from './aggregation-plan.js';
import type { AggregatorStateStore } from './aggregator-state-store.js';
import { ContractMetrics } from './contract-metrics.js';
import {
  type ContractResult,
  EVENT_CONTRACT_VERSION,
  type StreamEvent,
  toDeadLetter,
  validateEnvelope,
} from './contracts.js';
import type { DeadLetterInput, DeadLetterSink } from './dead-letter.js';
import { AggregatorStatePlanMismatchError } from './errors.js';
import type { BusConsumer, BusMessage, EventBus } from './event-bus.js';
import { SchemaChangeDetector, type SchemaChangeSignal } from './schema-change.js';

/** Where aggregated vectors go: the Feature store's `ingest` (offline append, then online write). */
export interface FeatureSink {
  ingest(viewName: string, batch: OfflineRowBatch): Promise<unknown>;
}

/** A user whose stream features changed: incremental audience refresh reads these. */
export interface DirtyUser {
  readonly userId: string;
  /** The newest event time the user's new features include. */
  readonly eventTs: number;
  /** When the new features became visible (Clock time). */
  readonly changedTs: number;
  readonly views: readonly string[];
}

/**
 * Sees every valid event the ingestor takes (accepted, duplicate or too late for the windows alike, in message
 * order), once per pulled batch and before any of it is acknowledged, so state kept outside the feature store (the
 * decision's segment index: unsubscribes, activity) is current as soon as the event is ingested. Redelivered
 * messages are seen again: an observer must be idempotent. A throw fails the batch like a store outage would not:
 * it is a bug in the observer, surfaced to the caller.
 */
export interface StreamEventObserver {
  observe(events: readonly StreamEvent[]): void;
}

export interface DirtyUserFeed {
  publish(users: readonly DirtyUser[]): Promise<void>;
}

/** Publishes dirty users to an event-bus topic (key: user id), for audience refresh consumers. */
export class BusDirtyUserFeed implements DirtyUserFeed {
  constructor(
    readonly bus: EventBus,
    readonly topic = 'dirty-users',
  ) {}

  async publish(users: readonly DirtyUser[]): Promise<void> {
    if (users.length === 0) return;
    await this.bus.publish(
      this.topic,
      users.map((u) => ({ key: u.userId, payload: u })),
    );
  }
}

/** Collects dirty users in memory (tests, the demo). */
export class MemoryDirtyUserFeed implements DirtyUserFeed {
  readonly users: DirtyUser[] = [];
  async publish(users: readonly DirtyUser[]): Promise<void> {
    this.users.push(...users);
  }
}

export interface StreamIngestorOptions {
  readonly bus: EventBus;
  /** Topic of wire envelopes `{"arrival_ts": N, "message": {...}}`; default: the plan's views' topic. */
  readonly topic?: string;
  readonly group?: string;
  readonly consumerName?: string;
  readonly plan: AggregationPlan;
  readonly features: FeatureSink;
  readonly state: AggregatorStateStore;
  readonly deadLetters: DeadLetterSink;
  /** The offline correction path: events later than the allowed lateness, kept with why. */
  readonly lateEvents: DeadLetterSink;
  readonly dirtyFeed?: DirtyUserFeed;
  /** State outside the feature store kept current by the stream (see StreamEventObserver). */
  readonly eventObserver?: StreamEventObserver;
  readonly clock?: Clock;
  readonly metrics?: MetricsRegistry;
  readonly allowedLatenessMs?: number;
  /** An event time this far after its arrival time is a producer clock error: dead-lettered. Default 5 minutes. */
  readonly maxFutureSkewMs?: number;
  /** Messages per pull. Default DEFAULT_INGEST_PULL_MESSAGES (1,000). */
  readonly pullMax?: number;
  /** Flush (write features, save state, ack) after this many messages... Default DEFAULT_FLUSH_EVERY_MESSAGES (5,000). */
  readonly flushEveryMessages?: number;
  /** ...or this long after the first unflushed message. Default 1,000 ms. */
  readonly flushIntervalMs?: number;
  /**
   * Save the aggregator state and acknowledge every this many ms (default 5,000) or processed messages (default
   * 50,000). Flushes make changes visible more often; a checkpoint makes them durable, once per user per interval.
   * A checkpoint encodes every user changed since the last one, so a busy user costs an encoding per checkpoint:
   * at 10,000 messages that encoding was about a quarter of a 60,000-event catch-up over 30K users (bench/stream.ts
   * 1b), at 50,000 about 40% of that (measured before WindowAggregator.exportUsers encoded into shared chunks:
   * since, about 14% of the 1b drain). The message count is capped below the bus's limit of unacknowledged messages
   * (BusConsumer.maxUnacked, e.g. NATS max_ack_pending) less what can be pulled while a checkpoint is written, so
   * pulls never stall.
   */
  readonly checkpointIntervalMs?: number;
  readonly checkpointEveryMessages?: number;
  /** Ack deadline of the consumer group; must exceed the checkpoint interval. Default: the bus's. */
  readonly ackWaitMs?: number;
  /** How often (Clock ms) to evict tiles and dedup ids no window needs. Default 10 s. */
  readonly evictIntervalMs?: number;
  /**
   * Rewrite an idle user's vector when a tile leaves one of its windows (as of the stream's newest event time), so
   * short windows decay without new events. Default true.
   */
  readonly expireIdleVectors?: boolean;
  /** Tile retention floor for the parity check: keep every tile a window at or after this time reads. */
  readonly retainFromMs?: number;
  /**
   * Ids of rejected events kept in `rejectedEventIds`, newest first (older ones are forgotten). Default 100,000;
   * a parity check over a finite replay passes Infinity, since it must leave every rejected event out.
   */
  readonly maxRejectedEventIds?: number;
  /**
   * Users whose deletion was requested: their events are dropped before aggregation (counted in `tombstoned`, not
   * dead-lettered: a letter would keep the event), restored state of theirs is discarded at start, and a flush never
   * writes their vectors. Default NO_TOMBSTONES.
   */
  readonly tombstones?: TombstoneCheck;
}

export const DEFAULT_MAX_REJECTED_EVENT_IDS = 100_000;

export interface IngestStats {
  received: number;
  valid: number;
  /** Dead-lettered: rejected by the contract, from the future, or undecodable. */
  invalid: number;
  /** Of the invalid: messages whose payload was not JSON at all (BusMessage.undecodable). */
  undecodable: number;
  accepted: number;
  duplicates: number;
  late: number;
  flushes: number;
  checkpoints: number;
  usersWritten: number;
  /** Vectors rewritten because a window moved on without new events (see expireIdleVectors). */
  usersAged: number;
  /** Bus or store calls that failed and were retried. */
  backendErrors: number;
  /** Valid events of deleted users, dropped unaggregated (see StreamIngestorOptions.tombstones). */
  tombstoned: number;
}

export const DEFAULT_CHECKPOINT_EVERY_MESSAGES = 50_000;
/**
 * Messages the ingestor asks for per pull: a busy stream is drained in batches of this many (a bare
 * `BusConsumer.pull()` without maxMessages takes DEFAULT_PULL_MAX_MESSAGES, 256, a bus-level default).
 */
export const DEFAULT_INGEST_PULL_MESSAGES = 1000;
/** Messages after which the ingestor flushes, whatever the interval. */
export const DEFAULT_FLUSH_EVERY_MESSAGES = 5000;
/** Most time between checkpoints (state saved, messages acknowledged). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5000;

/**
 * What acknowledging a message needs (topic and position; the rest kept for the record), without its payload:
 * messages wait for their checkpoint, tens of thousands of them, and holding every parsed payload that long moves
 * it to the old generation of the heap, where collecting it costs far more.
 */
function ackHandle(m: BusMessage): BusMessage {
  return {
    topic: m.topic,
    key: m.key,
    payload: undefined,
    position: m.position,
    publishedTs: m.publishedTs,
    deliveryCount: m.deliveryCount,
  };
}

/**
 * The checkpoint's message threshold: the option (default 50,000), capped so that the unacknowledged messages never
 * reach the bus's limit. Between reaching the threshold and the acks landing, the ingestor may pull a flush's worth
 * more messages (the checkpoint writes while the next batches are processed) plus a prefetched pull: that margin is
 * kept free. At least one pull's worth, so a tiny limit still checkpoints every batch.
 */
export function checkpointEveryOf(
  options: Pick<StreamIngestorOptions, 'checkpointEveryMessages' | 'flushEveryMessages' | 'pullMax'>,
  maxUnacked: number | undefined,
): number {
  const every = options.checkpointEveryMessages ?? DEFAULT_CHECKPOINT_EVERY_MESSAGES;
  if (maxUnacked === undefined) return every;
  const pull = options.pullMax ?? DEFAULT_INGEST_PULL_MESSAGES;
  const margin = (options.flushEveryMessages ?? DEFAULT_FLUSH_EVERY_MESSAGES) + 2 * pull;
  return Math.max(1, Math.min(every, Math.max(pull, maxUnacked - margin)));
}

/** Outcome labels of adnova_stream_aggregation_events_total, by index. */
const OUTCOMES = ['accepted', 'duplicate', 'late', 'future'] as const;
const OUTCOME_ACCEPTED = 0;
const OUTCOME_DUPLICATE = 1;
const OUTCOME_LATE = 2;
const OUTCOME_FUTURE = 3;

/** Messages validated, then their users prefetched, at a time (see #processAll). */
const PREFETCH_EVENTS = 32;

const LAG_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400];

/**
 * Consumes wire envelopes from a bus topic and keeps stream views' aggregates current: validate against the
 * contract (dead letters for the rest), aggregate in tiles on event time (late events to the correction path,
 * duplicates ignored), then per flush: write the changed users' vectors to the Feature store, publish them as
 * dirty users, save the aggregator state, and only then acknowledge the messages. A crash anywhere before the ack
 * redelivers the batch, and the saved state's event-id dedup keeps it from counting twice.
 */
export class StreamIngestor {
  readonly aggregator: WindowAggregator;
  readonly detector: SchemaChangeDetector;
  readonly stats: IngestStats = {
    received: 0,
    valid: 0,
    invalid: 0,
    undecodable: 0,
    accepted: 0,
    duplicates: 0,
    late: 0,
    flushes: 0,
    checkpoints: 0,
    usersWritten: 0,
    usersAged: 0,
    backendErrors: 0,
    tombstoned: 0,
  };
  /**
   * Ids of events the stream did not aggregate (invalid, late, from the future): what a parity check leaves out.
   * The newest `maxRejectedEventIds` of them (a rejection seen again moves to the front); the rest are in the
   * dead letters and the correction path, which are what a long-running consumer's record is.
   */
  get rejectedEventIds(): ReadonlySet<string> {
    return this.#rejected;
  }
  /** Rejected ids dropped from `rejectedEventIds` to keep it within its bound. */
  rejectedEventIdsForgotten = 0;
  readonly #rejected = new Set<string>();
  readonly #maxRejected: number;
  readonly topic: string;
  readonly #o: StreamIngestorOptions;
  readonly #consumer: BusConsumer;
  readonly #clock: Clock;
  readonly #planKey: string;
  readonly #contractMetrics: ContractMetrics | undefined;
  readonly #outcomes: CounterMetric | undefined;
  readonly #lag: HistogramMetric | undefined;
  readonly #undecodable: CounterMetric | undefined;
  readonly #tombstonedMetric: CounterMetric | undefined;
  readonly #tombstones: TombstoneCheck;
  /** Messages processed but not acknowledged at which a checkpoint is due (see checkpointEveryMessages). */
  readonly #checkpointEvery: number;
  #pending: BusMessage[] = [];
  #deadLetters: DeadLetterInput[] = [];
  #lateLetters: DeadLetterInput[] = [];
  /** Per accepted unflushed event: arrival_ts - event_ts, and the time the bus took it (or it was received). */
  #lagBase: number[] = [];
  #lagReceived: number[] = [];
  #firstPendingAt = 0;
  #lastCreatedTs = Number.NEGATIVE_INFINITY;
  /** Flushed (visible) but not yet checkpointed: their users' state is unsaved, the messages unacknowledged. */
  #unacked: BusMessage[] = [];
  readonly #unsaved = new Set<string>();
  #lastCheckpointAt = 0;
  #lastEvictAt = Number.NEGATIVE_INFINITY;
  #closed = false;
  /** The flush whose writes are in flight. */
  #commit: Promise<void> | undefined;
  #commitFailed = false;
  /** A flush failed: flush (and checkpoint) again at the next poll. */
  #retryFlush = false;
  /** The pull issued while the previous batch was processed. */
  #nextPull: Promise<BusMessage[]> | undefined;

  private constructor(options: StreamIngestorOptions, consumer: BusConsumer, aggregator: WindowAggregator) {
    this.#o = options;
    this.#consumer = consumer;
    this.aggregator = aggregator;
    this.topic = consumer.topic;
    this.#clock = options.clock ?? systemClock;
    this.#planKey = planKeyOf(options.plan);
    this.detector = new SchemaChangeDetector();
    this.#checkpointEvery = checkpointEveryOf(options, consumer.maxUnacked);
    this.#maxRejected = options.maxRejectedEventIds ?? DEFAULT_MAX_REJECTED_EVENT_IDS;
    this.#tombstones = options.tombstones ?? NO_TOMBSTONES;
    const m = options.metrics;
    if (m !== undefined) {
      this.#tombstonedMetric = m.counter({
        name: 'adnova_stream_tombstoned_events_total',
        help: 'Valid events of users whose deletion was requested, dropped before aggregation',
        labelNames: ['topic'],
      });
      this.#contractMetrics = new ContractMetrics(m);
      this.#outcomes = m.counter({
        name: 'adnova_stream_aggregation_events_total',
        help: 'Valid events offered to windowed aggregation, by outcome (accepted, duplicate, late, future)',
        labelNames: ['outcome'],
      });
      this.#undecodable = m.counter({
        name: 'adnova_stream_undecodable_messages_total',
        help: 'Bus messages whose payload was not JSON (dead-lettered and acknowledged), by topic',
        labelNames: ['topic'],
      });
      this.#lag = m.histogram({
        name: 'adnova_stream_freshness_lag_seconds',
        help: 'Per stream view: from an event happening (event_ts) to its effect being visible in the online store',
        labelNames: ['view'],
        buckets: LAG_BUCKETS_S,
      });
    }
  }

  /** Loads the saved aggregator state and joins the consumer group. */
  static async start(options: StreamIngestorOptions): Promise<StreamIngestor> {
    const topic = options.topic ?? options.plan.views[0]?.topic ?? 'events';
    const clock = options.clock ?? systemClock;
    const aggregator = new WindowAggregator(options.plan, {
      allowedLatenessMs: options.allowedLatenessMs ?? DEFAULT_ALLOWED_LATENESS_MS,
      now: () => clock.now(),
      ...(options.retainFromMs !== undefined ? { retainFromMs: options.retainFromMs } : {}),
    });
    const saved = await options.state.load();
    if (saved !== undefined) {
      const planKey = planKeyOf(options.plan);
      if (saved.planKey !== planKey)
        throw new AggregatorStatePlanMismatchError(
          `the ${options.state.kind} aggregator state`,
          saved.planKey,
          planKey,
        );
      aggregator.restore(saved.meta, saved.users);
    }
    const tombstones = options.tombstones ?? NO_TOMBSTONES;
    const forget =
      saved === undefined || tombstones === NO_TOMBSTONES
        ? []
        : [...saved.users.keys()].filter((id) => tombstones.isDeleted(id));
    const maxRejected = options.maxRejectedEventIds;
    if (
      maxRejected !== undefined &&
      !(maxRejected === Number.POSITIVE_INFINITY || (Number.isInteger(maxRejected) && maxRejected >= 0))
    )
      throw new InvalidInputError(`maxRejectedEventIds must be an integer >= 0 or Infinity, got ${maxRejected}`);
    const interval = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    if (!(Number.isFinite(interval) && interval >= 0))
      throw new InvalidInputError(`checkpointIntervalMs must be a number >= 0, got ${interval}`);
    if (options.ackWaitMs !== undefined && options.ackWaitMs <= interval)
      throw new InvalidInputError(
        `ackWaitMs (${options.ackWaitMs}) must exceed checkpointIntervalMs (${interval}), or messages are redelivered before they are acknowledged`,
      );
    const consumer = await options.bus.consumer(topic, {
      group: options.group ?? 'stream-aggregates',
      name: options.consumerName ?? 'ingestor-1',
      ...(options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {}),
    });
    const ingestor = new StreamIngestor(options, consumer, aggregator);
    // state saved before the deletion: gone from memory now, from the store at the next checkpoint
    if (forget.length > 0) ingestor.forgetUsers(forget);
    return ingestor;
  }

  /**
   * Drops users' aggregates and dedup ids (a privacy deletion in a running ingestor); the next checkpoint removes
   * their saved state. Returns how many had state.
   */
  forgetUsers(userIds: readonly string[]): number {
    const n = this.aggregator.deleteUsers(userIds);
    for (const id of userIds) this.#unsaved.add(id);
    return n;
  }

  /** Pulls once, processes what came and flushes when due; returns the number of messages pulled. */
  async pollOnce(waitMs = 200): Promise<number> {
    if (this.#closed) return 0;
    // a flush that failed in the background: surface its error here (the retry logic sees it), then redo it
    if (this.#commitFailed) {
      this.#commitFailed = false;
      await this.#settle();
    }
    const next = this.#nextPull;
    this.#nextPull = undefined;
    const messages = await (next ??
      this.#consumer.pull({ maxMessages: this.#o.pullMax ?? DEFAULT_INGEST_PULL_MESSAGES, waitMs }));
    if (messages.length > 0) {
      // a busy stream: ask for the next batch now, so the broker sends it while this one is processed
      const prefetch = this.#consumer.pull({ maxMessages: this.#o.pullMax ?? DEFAULT_INGEST_PULL_MESSAGES, waitMs });
      prefetch.catch(() => {}); // rethrown where it is awaited
      this.#nextPull = prefetch;
      this.process(messages);
    }
    if (this.#flushDue() || this.#checkpointDue()) {
      // one flush in flight at a time; the next batch is processed while this one writes
      await this.#settle();
      const commit = this.#startFlush();
      commit.catch(() => {
        this.#commitFailed = true; // rethrown where it is settled
      });
      this.#commit = commit;
    }
    return messages.length;
  }

  /**
   * Runs `fn` through a bus or store outage: a BackendUnavailableError is counted and retried with backoff (what
   * was processed but not acknowledged is redelivered, and dedup absorbs it) until the outage outlasts
   * `maxOutageMs`.
   */
  async #retrying<T>(fn: () => Promise<T>, maxOutageMs: number): Promise<T> {
    const began = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof BackendUnavailableError) || Date.now() - began > maxOutageMs) throw err;
        this.stats.backendErrors++;
        await sleep(backoffMs(attempt));
      }
    }
  }

  /** Runs until `idleMs` pass without a message (a replay has drained), then flushes. */
  async runUntilIdle(idleMs = 1000, maxOutageMs = 60_000): Promise<IngestStats> {
    let idleSince = Date.now();
    while (!this.#closed) {
      const errors = this.stats.backendErrors;
      const n = await this.#retrying(() => this.pollOnce(Math.min(idleMs, 250)), maxOutageMs);
      // an outage is not idleness: redeliveries may still be on their way
      if (n > 0 || this.stats.backendErrors > errors) idleSince = Date.now();
      else if (Date.now() - idleSince >= idleMs) break;
    }
    await this.#retrying(() => this.checkpoint(), maxOutageMs);
    return this.stats;
  }

  /** Runs until the signal aborts, then flushes. */
  async run(signal: AbortSignal, maxOutageMs = 300_000): Promise<IngestStats> {
    while (!this.#closed && !signal.aborted) await this.#retrying(() => this.pollOnce(250), maxOutageMs);
    await this.#retrying(() => this.checkpoint(), maxOutageMs);
    return this.stats;
  }

  /** Validates and aggregates messages; their effects become visible and acknowledged at the next flush. */
  process(messages: readonly BusMessage[]): void {
    const now = this.#clock.now();
    if (this.#pending.length === 0) this.#firstPendingAt = now;
    const skew = this.#o.maxFutureSkewMs ?? 5 * 60_000;
    // outcomes counted here and added to the metric once per call (a labelled inc per message cost ~1% of 1b)
    const outcomes = this.#outcomeCounts;
    try {
      this.#processAll(messages, now, skew, outcomes);
    } finally {
      const metric = this.#outcomes;
      for (let k = 0; k < OUTCOMES.length; k++) {
        if (outcomes[k]! > 0) metric?.inc({ outcome: OUTCOMES[k]! }, outcomes[k]!);
        outcomes[k] = 0;
      }
    }
  }

  readonly #outcomeCounts = new Float64Array(4);

  #processAll(messages: readonly BusMessage[], now: number, skew: number, outcomes: Float64Array): void {
    // in chunks: validate, prefetch the users of the valid events (WindowAggregator.prefetchUsers), then the rest in
    // message order; a chunk's users are looked up in one tight loop, their cache misses overlapping (~+7% on
    // bench/stream.ts 1b, measured on a noisy machine)
    const results = this.#chunkResults;
    const userIds = this.#chunkUserIds;
    const observer = this.#o.eventObserver;
    const observed = this.#observed;
    try {
      for (let start = 0; start < messages.length; start += PREFETCH_EVENTS) {
        const end = Math.min(messages.length, start + PREFETCH_EVENTS);
        userIds.length = 0;
        for (let i = start; i < end; i++) {
          const m = messages[i]!;
          if (m.undecodable !== undefined) {
            results[i - start] = undefined;
            continue;
          }
          const result = validateEnvelope(m.payload);
          this.detector.observe(result);
          this.#contractMetrics?.record(result);
          results[i - start] = result;
          if (result.ok) userIds.push(result.event.userId);
        }
        this.aggregator.prefetchUsers(userIds);
        for (let i = start; i < end; i++) {
          const result = results[i - start];
          const taken = this.#processOne(messages[i]!, result, now, skew, outcomes);
          if (observer !== undefined && taken !== undefined) observed.push(taken);
        }
      }
      if (observer !== undefined && observed.length > 0) observer.observe(observed);
    } finally {
      results.length = 0;
      userIds.length = 0;
      observed.length = 0;
    }
  }

  /** undefined for an undecodable message. */
  readonly #chunkResults: (ContractResult | undefined)[] = [];
  readonly #chunkUserIds: string[] = [];
  readonly #observed: StreamEvent[] = [];

  #processOne(
    m: BusMessage,
    result: ContractResult | undefined,
    now: number,
    skew: number,
    outcomes: Float64Array,
  ): StreamEvent | undefined {
    // returns the event when it is a user's act the observers see (accepted, duplicate or late; a producer clock
    // error or an invalid message is a dead letter for them too)
    this.#pending.push(ackHandle(m));
    this.stats.received++;
    if (result === undefined) {
      if (this.#mentionsDeleted(m.undecodable?.text)) return this.#dropTombstoned(undefined);
      // not JSON: dead-lettered as stored and acknowledged with the rest, so the stream goes on past it
      this.stats.invalid++;
      this.stats.undecodable++;
      this.#undecodable?.inc({ topic: this.topic });
      this.#deadLetters.push({
        event: m.undecodable?.text ?? '',
        reason: `undecodable payload at position ${m.position}: ${m.undecodable?.reason ?? 'no payload'}`,
        schemaVersion: `envelope@${EVENT_CONTRACT_VERSION}`,
        source: this.topic,
      });
      return undefined;
    }
    if (!result.ok) {
      // a deleted user's rejected event is not kept as a letter either
      const userId = (result.message as { user_id?: unknown } | undefined)?.user_id;
      if (typeof userId === 'string' && this.#tombstones.isDeleted(userId)) {
        const id = (result.message as { event_id?: unknown }).event_id;
        return this.#dropTombstoned(id === undefined || id === null ? undefined : String(id));
      }
      this.stats.invalid++;
      this.#deadLetters.push(toDeadLetter(result, this.topic));
      const id = (result.message as { event_id?: unknown } | undefined)?.event_id;
      if (id !== undefined && id !== null) this.#reject(String(id));
      return undefined;
    }
    this.stats.valid++;
    const e = result.event;
    // a late or replayed event of a deleted user: counted, never aggregated, never seen by observers
    if (this.#tombstones.isDeleted(e.userId)) return this.#dropTombstoned(e.eventId);
    if (e.eventTs > e.arrivalTs + skew) {
      outcomes[OUTCOME_FUTURE]!++;
      this.#reject(e.eventId);
      this.#deadLetters.push({
        event: m.payload,
        reason: `${e.eventType}.event_ts: expected at most ${skew} ms after arrival_ts ${e.arrivalTs}, got ${e.eventTs}`,
        schemaVersion: `${e.eventType}@${EVENT_CONTRACT_VERSION}`,
        source: this.topic,
      });
      this.stats.invalid++;
      return undefined;
    }
    const outcome = this.aggregator.ingest(e);
    if (outcome === 'accepted') {
      outcomes[OUTCOME_ACCEPTED]!++;
      this.stats.accepted++;
      this.#lagBase.push(e.arrivalTs - e.eventTs);
      // from when the bus took it (queueing counts), else from when this ingestor received it
      this.#lagReceived.push(Number.isFinite(m.publishedTs) && m.publishedTs <= now ? m.publishedTs : now);
    } else if (outcome === 'duplicate') {
      outcomes[OUTCOME_DUPLICATE]!++;
      this.stats.duplicates++;
    } else {
      outcomes[OUTCOME_LATE]!++;
      this.stats.late++;
      this.#reject(e.eventId);
      this.#lateLetters.push({
        event: m.payload,
        reason: `late: arrived ${e.arrivalTs - e.eventTs} ms after event_ts ${e.eventTs}, more than the allowed lateness of ${this.aggregator.allowedLatenessMs} ms; left to the offline correction path`,
        schemaVersion: `${e.eventType}@${EVENT_CONTRACT_VERSION}`,
        source: this.topic,
      });
    }
    return e;
  }

  #dropTombstoned(eventId: string | undefined): undefined {
    this.stats.tombstoned++;
    this.#tombstonedMetric?.inc({ topic: this.topic });
    if (eventId !== undefined) this.#reject(eventId);
    return undefined;
  }

  /** Whether an undecodable payload names a deleted user anywhere (any id-shaped run of characters). */
  #mentionsDeleted(text: string | undefined): boolean {
    if (text === undefined || this.#tombstones === NO_TOMBSTONES) return false;
    for (const m of text.matchAll(/[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}/g))
      if (this.#tombstones.isDeleted(m[0])) return true;
    return false;
  }

  /** Remembers a rejected id, newest last in the Set's order, forgetting the oldest past the bound. */
  #reject(id: string): void {
    const rejected = this.#rejected;
    rejected.delete(id);
    rejected.add(id);
    if (rejected.size > this.#maxRejected) {
      rejected.delete(rejected.values().next().value as string);
      this.rejectedEventIdsForgotten++;
    }
  }

  #flushDue(): boolean {
    if (this.#retryFlush) return true;
    if (this.#pending.length === 0) return false;
    if (this.#pending.length >= (this.#o.flushEveryMessages ?? DEFAULT_FLUSH_EVERY_MESSAGES)) return true;
    return this.#clock.now() - this.#firstPendingAt >= (this.#o.flushIntervalMs ?? 1000);
  }

  /**
   * Makes everything processed so far visible: dead and late letters, the changed users' vectors (offline +
   * online), dirty users. Then, when a checkpoint is due, saves the aggregator state and acknowledges.
   */
  async flush(): Promise<void> {
    await this.#settle();
    await this.#startFlush();
  }

  /**
   * Flushes, then saves the state of every user changed since the last checkpoint and acknowledges every flushed
   * message. A crash before this redelivers them; reprocessing rewrites the same vectors, and dedup keeps the
   * count exact.
   */
  async checkpoint(): Promise<void> {
    await this.#settle();
    await this.#startFlush(true);
  }

  #checkpointDue(): boolean {
    if (this.#unacked.length === 0 && this.#unsaved.size === 0 && this.#pending.length === 0) return false;
    const now = this.#clock.now();
    return (
      this.#unacked.length + this.#pending.length >= this.#checkpointEvery ||
      now - this.#lastCheckpointAt >= (this.#o.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS) ||
      now < this.#lastCheckpointAt
    );
  }

  /** Waits for the flush in flight (pollOnce lets the next batch be processed while a flush writes). */
  async #settle(): Promise<void> {
    const commit = this.#commit;
    this.#commit = undefined;
    if (commit !== undefined) await commit;
  }

  /**
   * Captures a flush synchronously (letters, messages, the changed and aged users' vectors and, when a checkpoint is
   * due, their state bytes), then returns the promise that writes it: processing may go on meanwhile, since nothing
   * processed after the capture is in what is written, saved or acknowledged.
   */
  #startFlush(forceCheckpoint = false): Promise<void> {
    const o = this.#o;
    const retry = this.#retryFlush;
    this.#retryFlush = false;
    const agg = this.aggregator;
    const deadLetters = this.#deadLetters;
    const lateLetters = this.#lateLetters;
    const pending = this.#pending;
    const lagBase = this.#lagBase;
    const lagReceived = this.#lagReceived;
    this.#deadLetters = [];
    this.#lateLetters = [];
    this.#pending = [];
    this.#lagBase = [];
    this.#lagReceived = [];

    let dirty = agg.takeDirty();
    const streamTime = agg.maxEventTs;
    const expire = o.expireIdleVectors !== false && Number.isFinite(streamTime);
    let due = expire ? agg.takeDue(streamTime) : [];
    if (this.#tombstones !== NO_TOMBSTONES) {
      // deleted since their state was built (a request while running): forgotten, not written again
      const live = (id: string) => !this.#tombstones.isDeleted(id);
      const dead = dirty.filter((id) => !live(id)).concat(due.filter((id) => !live(id)));
      if (dead.length > 0) {
        dirty = dirty.filter(live);
        due = due.filter(live);
        this.forgetUsers(dead);
      }
    }
    const users = dirty.concat(due);
    // each user's vectors as of just after its write time (exact: no tile holds a later event); aged users as of
    // the stream time
    const { eventTs, values } = agg.evaluateForWrite(users, dirty.length, streamTime, expire);
    for (const id of dirty) this.#unsaved.add(id);
    const now = this.#clock.now();
    // eviction walks every user: once per evictIntervalMs, not per flush
    if (now - this.#lastEvictAt >= (o.evictIntervalMs ?? 10_000) || now < this.#lastEvictAt) {
      this.#lastEvictAt = now;
      agg.evict();
    }
    for (const m of pending) this.#unacked.push(m);

    let checkpoint: { changed: Map<string, Uint8Array | null>; unacked: BusMessage[] } | undefined;
    if (forceCheckpoint || retry || this.#checkpointDue()) {
      this.#lastCheckpointAt = now;
      if (this.#unacked.length > 0 || this.#unsaved.size > 0) {
        const changed = new Map<string, Uint8Array | null>();
        agg.exportUsers(this.#unsaved, changed);
        checkpoint = { changed, unacked: this.#unacked };
        this.#unsaved.clear();
        this.#unacked = [];
      }
    }
    return this.#commitFlush({
      deadLetters,
      lateLetters,
      pending,
      users,
      dirtyCount: dirty.length,
      eventTs,
      values,
      lagBase,
      lagReceived,
      checkpoint,
      meta: agg.meta(),
    });
  }

  async #commitFlush(f: {
    deadLetters: DeadLetterInput[];
    lateLetters: DeadLetterInput[];
    pending: BusMessage[];
    users: string[];
    dirtyCount: number;
    eventTs: Float64Array;
    values: Float32Array[];
    lagBase: number[];
    lagReceived: number[];
    checkpoint: { changed: Map<string, Uint8Array | null>; unacked: BusMessage[] } | undefined;
    meta: AggregatorMeta;
  }): Promise<void> {
    const o = this.#o;
    const undoCheckpoint = () => {
      this.#retryFlush = true;
      if (f.checkpoint === undefined) return;
      for (const id of f.checkpoint.changed.keys()) this.#unsaved.add(id);
      this.#unacked = f.checkpoint.unacked.concat(this.#unacked);
    };
    let deadWritten = false;
    let lateWritten = false;
    try {
      if (f.deadLetters.length > 0) await o.deadLetters.write(f.deadLetters);
      deadWritten = true;
      if (f.lateLetters.length > 0) await o.lateEvents.write(f.lateLetters);
      lateWritten = true;
      if (f.users.length > 0) {
        // strictly increasing, so a rewrite of the same event time always wins, online and offline alike
        const createdTs = Math.max(this.#clock.now(), this.#lastCreatedTs + 1);
        this.#lastCreatedTs = createdTs;
        const created = new Float64Array(f.users.length).fill(createdTs);
        for (let v = 0; v < o.plan.views.length; v++) {
          await o.features.ingest(o.plan.views[v]!.def.name, {
            entityIds: f.users,
            eventTs: f.eventTs,
            createdTs: created,
            values: f.values[v]!,
          });
        }
        const visible = this.#clock.now();
        if (o.dirtyFeed !== undefined) {
          const views = o.plan.views.map((v) => v.def.name);
          await o.dirtyFeed.publish(
            f.users.map((userId, i) => ({ userId, eventTs: f.eventTs[i]!, changedTs: visible, views })),
          );
        }
        if (this.#lag !== undefined && f.dirtyCount > 0) {
          for (const view of o.plan.views) {
            const labels = { view: view.def.name };
            for (let i = 0; i < f.lagBase.length; i++)
              this.#lag.observe(labels, Math.max(0, (f.lagBase[i]! + visible - f.lagReceived[i]!) / 1000));
          }
        }
      }
    } catch (err) {
      // nothing of this batch is acknowledged: its letters and users are written again by the next flush
      if (!deadWritten) this.#deadLetters = f.deadLetters.concat(this.#deadLetters);
      if (!lateWritten) this.#lateLetters = f.lateLetters.concat(this.#lateLetters);
      this.aggregator.markDirty(f.users);
      undoCheckpoint();
      throw err;
    }
    if (f.pending.length > 0) this.stats.flushes++;
    this.stats.usersWritten += f.dirtyCount;
    this.stats.usersAged += f.users.length - f.dirtyCount;
    if (f.checkpoint === undefined) return;
    try {
      await o.state.save(this.#planKey, f.meta, f.checkpoint.changed);
    } catch (err) {
      undoCheckpoint();
      throw err;
    }
    this.stats.checkpoints++;
    // a failed ack leaves the messages pending at the broker: they come back and dedup absorbs them
    await this.#consumer.ack(f.checkpoint.unacked);
  }

  /** Messages processed but not yet acknowledged (unflushed, or flushed and waiting for a checkpoint). */
  get pendingCount(): number {
    return this.#pending.length + this.#unacked.length;
  }

  schemaChanges(): readonly SchemaChangeSignal[] {
    return this.detector.signals();
  }

  /** Flushes and leaves the group. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const next = this.#nextPull;
    this.#nextPull = undefined;
    const last = next === undefined ? [] : await next.catch(() => [] as BusMessage[]);
    if (last.length > 0) this.process(last);
    await this.checkpoint();
    this.#closed = true;
    await this.#consumer.close();
  }

  /** Leaves without flushing or acknowledging (what a crash does): unacked messages are redelivered elsewhere. */
  async abandon(): Promise<void> {
    this.#closed = true;
    this.#pending = [];
    this.#unacked = [];
    await this.#consumer.close();
  }
}
