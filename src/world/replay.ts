import { InvalidInputError } from '../core/index.js';
import { WorldDb } from './duckdb-world-db.js';
import { readManifest, tableFiles } from './manifest.js';

/** Where replayed lines go (a file, stdout; the event bus once the Streaming issue provides it). */
export interface ReplayTarget {
  write(line: string): void | Promise<void>;
}

export interface ReplayOptions {
  readonly dir: string;
  readonly target: ReplayTarget;
  /** Pace lines by arrival_ts at this many times real time; undefined = as fast as possible. */
  readonly speed?: number;
  /** Stop after this many events. */
  readonly limit?: number;
  /** Injected for tests; defaults to setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ReplaySummary {
  readonly events: number;
  readonly firstArrivalTs: number | null;
  readonly lastArrivalTs: number | null;
}

/** Message fields in wire order; arrival_ts is the envelope's, `raw` replaces them, `defect` is truth only. */
const MESSAGE_FIELDS = [
  'event_id',
  'user_id',
  'event_type',
  'event_ts',
  'session_id',
  'platform',
  'category',
  'item_id',
  'amount',
  'quantity',
  'channel',
  'campaign_id',
  'send_id',
  'order_id',
  'schema_version',
] as const;
const NUMERIC = new Set(['event_id', 'event_ts', 'session_id', 'quantity', 'schema_version']);

/**
 * Writes the world's events in arrival order (ties by event_id) as NDJSON envelopes
 * `{"arrival_ts": N, "message": {...}}`, the message being the event as its producer sent it.
 */
export async function replayEvents(options: ReplayOptions): Promise<ReplaySummary> {
  if (options.speed !== undefined && !(options.speed > 0)) {
    throw new InvalidInputError(`speed must be a positive number, got ${options.speed}`);
  }
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 0)) {
    throw new InvalidInputError(`limit must be a non-negative integer, got ${options.limit}`);
  }
  const manifest = readManifest(options.dir);
  const files = tableFiles(options.dir, manifest, 'events');
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const cols = MESSAGE_FIELDS.map((f) => (NUMERIC.has(f) ? `CAST(${f} AS DOUBLE) AS ${f}` : f)).join(', ');
  const limit = options.limit === undefined ? '' : `LIMIT ${options.limit}`;
  const db = await WorldDb.open({ path: ':memory:' });
  let events = 0;
  let first: number | null = null;
  let last: number | null = null;
  const startedWall = Date.now();
  try {
    const sql = `SELECT CAST(arrival_ts AS DOUBLE) AS arrival_ts, raw, ${cols}
      FROM read_parquet([${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ')}])
      ORDER BY arrival_ts, event_id ${limit}`;
    for await (const batch of db.stream(sql)) {
      for (const row of batch) {
        const arrival = row['arrival_ts'] as number;
        if (first === null) first = arrival;
        last = arrival;
        if (options.speed !== undefined) {
          const due = (arrival - first) / options.speed - (Date.now() - startedWall);
          if (due > 0) await sleep(due);
        }
        const raw = row['raw'];
        let message: Record<string, unknown>;
        if (typeof raw === 'string') {
          message = JSON.parse(raw) as Record<string, unknown>;
        } else {
          message = {};
          for (const f of MESSAGE_FIELDS) {
            const v = row[f];
            if (v !== null && v !== undefined) message[f] = v;
          }
        }
        await options.target.write(JSON.stringify({ arrival_ts: arrival, message }));
        events++;
      }
    }
  } finally {
    db.close();
  }
  return { events, firstArrivalTs: first, lastArrivalTs: last };
}
