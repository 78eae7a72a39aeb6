/**
 * Streaming execution of an AggregationPlan: the WindowAggregator and the components it is made of (dedup ids,
 * the tile pool, the vector cache, the update and evaluation plans, the state codec), one file each. Other stream
 * files use this entry only.
 */
export { DedupIds } from './dedup-ids.js';
export type { AggregatorCounters, AggregatorMeta, IngestOutcome, WindowAggregatorOptions } from './types.js';
export { DEFAULT_ALLOWED_LATENESS_MS, WindowAggregator } from './window-aggregator.js';
