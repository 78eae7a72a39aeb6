import type { Clock, MetricsRegistry } from '../core/index.js';
import type { OfflineRowBatch } from '../features/index.js';
import type { WindowAggregator } from './aggregation/index.js';
import type { AggregationPlan } from './aggregation-plan.js';
import { MemoryAggregatorStateStore } from './aggregator-state-store.js';
import { type DeadLetterSink, MemoryDeadLetterSink } from './dead-letter.js';
import { batchAggregates } from './duckdb-batch-aggregates.js';
import type { BusEventInput, EventBus } from './event-bus.js';
import type { SchemaChangeSignal } from './schema-change.js';
import { type DirtyUserFeed, type FeatureSink, type IngestStats, StreamIngestor } from './stream-ingestor.js';

const DAY_MS = 86_400_000;

/**
 * Publishes replayed wire envelopes (NDJSON lines `{"arrival_ts", "message"}`) to a bus topic, keyed by user id,
 * in batches. Lines that are not JSON are published as they are (the ingestor dead-letters them).
 */
export class BusReplayTarget {
  #batch: BusEventInput[] = [];
  published = 0;

  constructor(
    readonly bus: EventBus,
    readonly topic: string,
    readonly batchSize = 1000,
  ) {}

  async write(line: string): Promise<void> {
    let payload: unknown = line;
    // a message without a user id still travels (to be dead-lettered by the ingestor) under a fixed key
    let key = 'no-user-id';
    try {
      payload = JSON.parse(line) as unknown;
      const userId = (payload as { message?: { user_id?: unknown } }).message?.user_id;
      if (typeof userId === 'string' && userId.length > 0 && userId.length <= 256) key = userId;
    } catch {
      // kept verbatim
    }
    this.#batch.push({ key, payload });
    if (this.#batch.length >= this.batchSize) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    await this.bus.publish(this.topic, batch);
    this.published += batch.length;
  }
}

/** Day boundaries strictly inside (startTs, endTs], the last `max` of them: where parity compares. */
export function dailyCheckpoints(startTs: number, endTs: number, max = 7): number[] {
  const out: number[] = [];
  for (let t = Math.ceil((startTs + 1) / DAY_MS) * DAY_MS; t <= endTs; t += DAY_MS) out.push(t);
  return out.slice(Math.max(0, out.length - max));
}

export interface ParityMismatch {
  readonly userId: string;
  readonly atMs: number;
  readonly feature: string;
  readonly stream: number;
  readonly batch: number;
}

export interface StreamParityReport {
  readonly checkpoints: readonly number[];
  readonly users: number;
  /** (user, checkpoint, feature) cells compared. */
  readonly compared: number;
  readonly mismatchCount: number;
  /** The first mismatches, for a report. */
  readonly mismatches: readonly ParityMismatch[];
  /** Events left out on both sides because the stream rejected them (invalid, late, from the future). */
  readonly excludedEvents: number;
}

/** Float32 values agree when equal, both missing, or within 1e-6 relative (sums added in another order). */
export function sameFeatureValue(a: number, b: number): boolean {
  const x = Math.fround(a);
  const y = Math.fround(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
  return x === y || Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(x), Math.abs(y));
}

/**
 * Compares the stream's aggregates (tiles, after a replay) with DuckDB's over the same event log at each
 * checkpoint, for every user either side knows. A user one side lacks reads as an empty window.
 */
export async function compareStreamWithBatch(options: {
  readonly plan: AggregationPlan;
  readonly aggregator: WindowAggregator;
  readonly eventFiles: readonly string[];
  readonly checkpoints: readonly number[];
  readonly rejectedEventIds: ReadonlySet<string>;
  readonly maxReported?: number;
}): Promise<StreamParityReport> {
  const { plan, aggregator, checkpoints } = options;
  const batch = await batchAggregates(plan, {
    files: options.eventFiles,
    atMs: checkpoints,
    excludeEventIds: options.rejectedEventIds,
  });
  const width = plan.features.length;
  const batchRows = new Map<string, number>();
  for (let r = 0; r < batch.userIds.length; r++) batchRows.set(`${batch.userIds[r]}\u0000${batch.atMs[r]}`, r);
  const users = new Set<string>([...aggregator.users(), ...batch.userIds]);
  const empty = new Float64Array(width);
  {
    // the empty-window vector: what batch gives a user without events
    const none = new Float32Array(width);
    let k = 0;
    for (let v = 0; v < plan.views.length; v++) {
      aggregator.evaluate(v, '\u0000no-such-user', checkpoints[0] ?? 0, none, k);
      k += plan.views[v]!.features.length;
    }
    empty.set(none);
  }
  const streamVec = new Float32Array(width);
  const mismatches: ParityMismatch[] = [];
  let mismatchCount = 0;
  let compared = 0;
  const maxReported = options.maxReported ?? 20;
  for (const userId of users) {
    for (const at of checkpoints) {
      let k = 0;
      for (let v = 0; v < plan.views.length; v++) {
        aggregator.evaluate(v, userId, at, streamVec, k);
        k += plan.views[v]!.features.length;
      }
      const r = batchRows.get(`${userId}\u0000${at}`);
      for (let f = 0; f < width; f++) {
        const b = r === undefined ? empty[f]! : batch.values[r * width + f]!;
        const s = streamVec[f]!;
        compared++;
        if (!sameFeatureValue(s, b)) {
          mismatchCount++;
          if (mismatches.length < maxReported)
            mismatches.push({ userId, atMs: at, feature: plan.features[f]!.ref, stream: s, batch: b });
        }
      }
    }
  }
  return {
    checkpoints,
    users: users.size,
    compared,
    mismatchCount,
    mismatches,
    excludedEvents: options.rejectedEventIds.size,
  };
}

/** Discards vectors (a parity run without a feature store); counts what it was given. */
export class CountingFeatureSink implements FeatureSink {
  rows = 0;
  async ingest(_viewName: string, batch: OfflineRowBatch): Promise<void> {
    this.rows += batch.entityIds.length;
  }
}

export interface ReplayParityOptions {
  readonly bus: EventBus;
  readonly topic: string;
  readonly plan: AggregationPlan;
  /** Writes the dataset's wire envelopes, as NDJSON lines, to the target (e.g. the World's replayEvents). */
  readonly replay: (target: BusReplayTarget) => Promise<unknown>;
  /** The same events as a log DuckDB reads (the World's events Parquet). */
  readonly eventFiles: readonly string[];
  readonly checkpoints: readonly number[];
  readonly features?: FeatureSink;
  readonly deadLetters?: DeadLetterSink;
  readonly lateEvents?: DeadLetterSink;
  readonly dirtyFeed?: DirtyUserFeed;
  readonly allowedLatenessMs?: number;
  readonly clock?: Clock;
  readonly metrics?: MetricsRegistry;
}

export interface ReplayParityResult {
  readonly published: number;
  readonly ingest: IngestStats;
  readonly parity: StreamParityReport;
  readonly schemaChanges: readonly SchemaChangeSignal[];
  readonly deadLetters: number;
  readonly lateEvents: number;
  /** The newest event time the stream saw: online vectors are as of up to this time. */
  readonly streamTimeMs: number;
}

/**
 * Replays a dataset through a bus into a StreamIngestor, then compares its aggregates with DuckDB's over the same
 * event log at the checkpoints: one definition, two executions, zero mismatches expected.
 */
export async function replayAndCompare(options: ReplayParityOptions): Promise<ReplayParityResult> {
  const target = new BusReplayTarget(options.bus, options.topic);
  await options.replay(target);
  await target.flush();
  const deadLetters = options.deadLetters ?? new MemoryDeadLetterSink();
  const lateEvents = options.lateEvents ?? new MemoryDeadLetterSink();
  const ingestor = await StreamIngestor.start({
    bus: options.bus,
    topic: options.topic,
    group: 'parity',
    plan: options.plan,
    features: options.features ?? new CountingFeatureSink(),
    state: new MemoryAggregatorStateStore(),
    deadLetters,
    lateEvents,
    ...(options.dirtyFeed ? { dirtyFeed: options.dirtyFeed } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.allowedLatenessMs !== undefined ? { allowedLatenessMs: options.allowedLatenessMs } : {}),
    retainFromMs: Math.min(...options.checkpoints) - options.plan.maxWindowMs - DAY_MS,
    // a finite replay: every rejected event must be left out of the batch side, however many there are
    maxRejectedEventIds: Number.POSITIVE_INFINITY,
    flushEveryMessages: 20_000,
  });
  let ingest: IngestStats;
  try {
    ingest = { ...(await ingestor.runUntilIdle(1500)) };
  } finally {
    await ingestor.close();
  }
  const parity = await compareStreamWithBatch({
    plan: options.plan,
    aggregator: ingestor.aggregator,
    eventFiles: options.eventFiles,
    checkpoints: options.checkpoints,
    rejectedEventIds: ingestor.rejectedEventIds,
  });
  return {
    published: target.published,
    ingest,
    parity,
    schemaChanges: ingestor.schemaChanges(),
    deadLetters: deadLetters.written,
    lateEvents: lateEvents.written,
    streamTimeMs: ingestor.aggregator.maxEventTs,
  };
}
