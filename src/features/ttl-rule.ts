import { FeatureStatusCode } from '../core/index.js';

/**
 * THE time-to-live rule, the one definition both paths use. A value with event time `eventTs` answers a question
 * asked at time `atMs` when `eventTs <= atMs` (it existed) and `eventTs > atMs - ttlMs` (it is still fresh):
 * present; when it existed but is too old: expired; when there is none (NaN) or it is from the future: missing.
 *
 * Online reads call `ttlStatus`; the point-in-time join embeds `ttlStatusSql`, which is the same comparison
 * written for DuckDB (a unit test checks that both renderings agree on every boundary case). A view with no TTL
 * has `ttlMs = NO_TTL_MS` (+Infinity): every value that existed is present.
 */
export function ttlStatus(eventTs: number, atMs: number, ttlMs: number): number {
  if (!(eventTs <= atMs)) return FeatureStatusCode.missing;
  return eventTs > atMs - ttlMs ? FeatureStatusCode.present : FeatureStatusCode.expired;
}

/** The `ttlMs` of a view that never expires (`ttlSeconds: 'none'`). */
export const NO_TTL_MS = Number.POSITIVE_INFINITY;

/** `ttlStatus` as a DuckDB expression over BIGINT epoch-ms expressions; NULL event time means no row. */
export function ttlStatusSql(eventTsSql: string, atSql: string, ttlMs: number): string {
  const missing = `WHEN ${eventTsSql} IS NULL OR NOT (${eventTsSql} <= ${atSql}) THEN ${FeatureStatusCode.missing}`;
  // no BIGINT holds infinity: with no TTL the expired branch is simply absent
  if (ttlMs === NO_TTL_MS) return `(CASE ${missing} ELSE ${FeatureStatusCode.present} END)::UTINYINT`;
  const ttl = ttlMsLiteral(ttlMs);
  return `(CASE ${missing}
    WHEN ${eventTsSql} > ${atSql} - ${ttl} THEN ${FeatureStatusCode.present} ELSE ${FeatureStatusCode.expired} END)::UTINYINT`;
}

function ttlMsLiteral(ttlMs: number): string {
  // whole milliseconds keep the SQL integer comparison exact (layouts round ttlSeconds * 1000 up)
  if (!Number.isInteger(ttlMs) || ttlMs <= 0)
    throw new RangeError(`ttlMs must be an integer > 0 or NO_TTL_MS, got ${ttlMs}`);
  return `${ttlMs}::BIGINT`;
}
