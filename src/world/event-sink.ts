import type { Rng } from '../core/index.js';
import { OUTAGE_BURST_MS, sampleLateness } from './behaviour.js';
import type { StagingColumn, StagingWriter } from './duckdb-world-db.js';
import { CHANNELS, EVENT_DEFECTS, EVENT_TYPES, PLATFORMS, TOPICS } from './schema.js';

/** Event type codes: EVENT_TYPES, then the unknown names a defective producer sends. */
export const UNKNOWN_EVENT_TYPES = ['PageView', 'purchase_completed', 'screen_view'] as const;
export const EVENT_TYPE_VOCAB: readonly string[] = [...EVENT_TYPES, ...UNKNOWN_EVENT_TYPES];
export const ET = Object.fromEntries(EVENT_TYPES.map((t, i) => [t, i])) as Record<(typeof EVENT_TYPES)[number], number>;
export const NONE = 255;
const D_MISSING_USER = 0;
const D_MISSING_TS = 1;
const D_AMOUNT_STRING = 2;
const D_UNKNOWN_TYPE = 3;
const D_TS_SECONDS = 4;

export const EVENT_STAGING: readonly StagingColumn[] = [
  { name: 'event_id', type: 'DOUBLE' },
  { name: 'user_idx', type: 'INTEGER' },
  { name: 'type_code', type: 'UTINYINT' },
  { name: 'event_ts', type: 'DOUBLE' },
  { name: 'arrival_ts', type: 'DOUBLE' },
  { name: 'session_id', type: 'DOUBLE' },
  { name: 'platform', type: 'UTINYINT' },
  { name: 'category', type: 'UTINYINT' },
  { name: 'item', type: 'INTEGER' },
  { name: 'amount', type: 'DOUBLE' },
  { name: 'quantity', type: 'SMALLINT' },
  { name: 'channel', type: 'UTINYINT' },
  { name: 'campaign', type: 'INTEGER' },
  { name: 'send', type: 'DOUBLE' },
  { name: 'schema_version', type: 'UTINYINT' },
  { name: 'raw', type: 'VARCHAR' },
  { name: 'defect', type: 'UTINYINT' },
];

/** Turns staging codes into the published events columns (see EVENTS_COLUMNS). */
export function eventsProjection(lists: { topics: string; platforms: string; channels: string }): string {
  const vocab = `[${EVENT_TYPE_VOCAB.map((t) => `'${t}'`).join(', ')}]`;
  const defects = `[${EVENT_DEFECTS.map((t) => `'${t}'`).join(', ')}]`;
  return `CAST(event_id AS BIGINT) AS event_id,
    CASE WHEN user_idx < 0 THEN NULL ELSE 'u' || lpad(CAST(user_idx AS VARCHAR), 8, '0') END AS user_id,
    ${vocab}[type_code::INTEGER + 1] AS event_type,
    CAST(event_ts AS BIGINT) AS event_ts,
    CAST(arrival_ts AS BIGINT) AS arrival_ts,
    CAST(session_id AS BIGINT) AS session_id,
    ${lists.platforms}[platform::INTEGER + 1] AS platform,
    ${lists.topics}[category::INTEGER + 1] AS category,
    CASE WHEN item < 0 THEN NULL ELSE ${lists.topics}[item // 1000 + 1] || '-' || lpad(CAST(item % 1000 AS VARCHAR), 4, '0') END AS item_id,
    amount,
    CAST(CASE WHEN quantity <= 0 THEN NULL ELSE quantity END AS INTEGER) AS quantity,
    ${lists.channels}[channel::INTEGER + 1] AS channel,
    CASE WHEN campaign < 0 THEN NULL ELSE 'c' || lpad(CAST(campaign AS VARCHAR), 7, '0') END AS campaign_id,
    CASE WHEN isnan(send) OR send IS NULL THEN NULL ELSE 's' || lpad(CAST(CAST(send AS BIGINT) AS VARCHAR), 10, '0') END AS send_id,
    CAST(NULL AS VARCHAR) AS order_id,
    CAST(schema_version AS SMALLINT) AS schema_version,
    raw,
    ${defects}[defect::INTEGER + 1] AS defect`;
}

const CAPACITY = 65_536;

export interface EventSinkConfig {
  readonly defectShare: number;
  readonly schemaChangeTs: number;
  readonly outageStart: number;
  readonly outageEnd: number;
}

/**
 * Buffers events column-wise and appends them to staging in blocks. `emit` applies what the pipeline does to an
 * event on its way: lateness (or the outage's hold-back), injected defects, and the schema change.
 */
export class EventSink {
  readonly #w: StagingWriter;
  readonly #cfg: EventSinkConfig;
  #n = 0;
  #nextId = 0;
  readonly defectCounts = new Float64Array(EVENT_DEFECTS.length);
  readonly eventId = new Float64Array(CAPACITY);
  readonly userIdx = new Int32Array(CAPACITY);
  readonly typeCode = new Uint8Array(CAPACITY);
  readonly eventTs = new Float64Array(CAPACITY);
  readonly arrivalTs = new Float64Array(CAPACITY);
  readonly sessionId = new Float64Array(CAPACITY);
  readonly platform = new Uint8Array(CAPACITY);
  readonly category = new Uint8Array(CAPACITY);
  readonly item = new Int32Array(CAPACITY);
  readonly amount = new Float64Array(CAPACITY);
  readonly quantity = new Int16Array(CAPACITY);
  readonly channel = new Uint8Array(CAPACITY);
  readonly campaign = new Int32Array(CAPACITY);
  readonly send = new Float64Array(CAPACITY);
  readonly schemaVersion = new Uint8Array(CAPACITY);
  readonly raw: (string | null)[] = new Array<string | null>(CAPACITY).fill(null);
  readonly defect = new Uint8Array(CAPACITY);

  constructor(writer: StagingWriter, cfg: EventSinkConfig) {
    this.#w = writer;
    this.#cfg = cfg;
  }

  get count(): number {
    return this.#nextId;
  }

  /**
   * One event. `category`/`channel`/`platform` use NONE when absent; `item`/`campaign` -1; `amount`/`sessionId`/
   * `send` NaN; `quantity` 0.
   */
  emit(
    rng: Rng,
    userIdx: number,
    type: number,
    ts: number,
    sessionId: number,
    platform: number,
    category: number,
    item: number,
    amount: number,
    quantity: number,
    channel: number,
    campaign: number,
    send: number,
  ): void {
    const k = this.#n;
    const cfg = this.#cfg;
    let arrival: number;
    if (ts >= cfg.outageStart && ts < cfg.outageEnd) {
      arrival = cfg.outageEnd + Math.floor(rng.next() * OUTAGE_BURST_MS);
    } else {
      arrival = ts + sampleLateness(rng);
      if (arrival >= cfg.outageStart && arrival < cfg.outageEnd) {
        arrival = cfg.outageEnd + Math.floor(rng.next() * OUTAGE_BURST_MS);
      }
    }
    let uid = userIdx;
    let code = type;
    let evTs = ts;
    let amt = amount;
    let cat = category;
    let rawText: string | null = null;
    let defect = NONE;
    if (cfg.defectShare > 0 && rng.next() < cfg.defectShare) {
      const isPurchase = type === ET.purchase && !Number.isNaN(amount);
      defect = rng.int(isPurchase ? 5 : 4);
      if (!isPurchase && defect >= D_AMOUNT_STRING) defect++;
      if (defect === D_MISSING_USER) uid = -1;
      else if (defect === D_MISSING_TS) evTs = Number.NaN;
      else if (defect === D_UNKNOWN_TYPE) code = EVENT_TYPES.length + rng.int(UNKNOWN_EVENT_TYPES.length);
      else if (defect === D_TS_SECONDS) evTs = Math.floor(ts / 1000);
      this.defectCounts[defect] = (this.defectCounts[defect] as number) + 1;
    }
    const v2 = ts >= cfg.schemaChangeTs;
    const amountAsString = defect === D_AMOUNT_STRING || (v2 && !Number.isNaN(amount));
    if (amountAsString || (v2 && category !== NONE)) {
      const msg: Record<string, unknown> = { event_id: this.#nextId };
      if (uid >= 0) msg['user_id'] = `u${String(uid).padStart(8, '0')}`;
      msg['event_type'] = EVENT_TYPE_VOCAB[code];
      if (!Number.isNaN(evTs)) msg['event_ts'] = evTs;
      if (!Number.isNaN(sessionId)) msg['session_id'] = sessionId;
      if (platform !== NONE) msg['platform'] = PLATFORMS[platform];
      if (category !== NONE) msg[v2 ? 'product_category' : 'category'] = TOPICS[category];
      if (item >= 0) msg['item_id'] = `${TOPICS[Math.floor(item / 1000)]}-${String(item % 1000).padStart(4, '0')}`;
      if (!Number.isNaN(amount)) msg['amount'] = amountAsString ? amount.toFixed(2) : amount;
      if (quantity > 0) msg['quantity'] = quantity;
      if (channel !== NONE) msg['channel'] = CHANNELS[channel];
      if (campaign >= 0) msg['campaign_id'] = `c${String(campaign).padStart(7, '0')}`;
      if (!Number.isNaN(send)) msg['send_id'] = `s${String(send).padStart(10, '0')}`;
      msg['schema_version'] = v2 ? 2 : 1;
      rawText = JSON.stringify(msg);
      if (amountAsString) amt = Number.NaN;
      if (v2) cat = NONE;
    }
    this.eventId[k] = this.#nextId++;
    this.userIdx[k] = uid;
    this.typeCode[k] = code;
    this.eventTs[k] = evTs;
    this.arrivalTs[k] = arrival;
    this.sessionId[k] = sessionId;
    this.platform[k] = platform;
    this.category[k] = cat;
    this.item[k] = item;
    this.amount[k] = amt;
    this.quantity[k] = quantity;
    this.channel[k] = channel;
    this.campaign[k] = campaign;
    this.send[k] = send;
    this.schemaVersion[k] = v2 ? 2 : 1;
    this.raw[k] = rawText;
    this.defect[k] = defect;
    this.#n = k + 1;
    if (this.#n === CAPACITY) this.flush();
  }

  flush(): void {
    if (this.#n === 0) return;
    this.#w.append(
      [
        this.eventId,
        this.userIdx,
        this.typeCode,
        this.eventTs,
        this.arrivalTs,
        this.sessionId,
        this.platform,
        this.category,
        this.item,
        this.amount,
        this.quantity,
        this.channel,
        this.campaign,
        this.send,
        this.schemaVersion,
        this.raw,
        this.defect,
      ],
      this.#n,
    );
    this.raw.fill(null, 0, this.#n);
    this.#n = 0;
  }
}
