import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import {
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  resolveService,
} from './definitions.js';
import { emptyMatrixFor, fillRun, fillStoredRun, RECORD_HEADER_BYTES, storeReadMatrixFor } from './online-store.js';
import { packBufferReplies, RecordDecoder } from './redis-online-store.js';

// views of width 6 and 3; the service interleaves them, reorders features and repeats view `a` in two runs
const a = defineFeatureView({
  name: 'a',
  entity: 'user',
  ttlSeconds: 10,
  features: Array.from({ length: 6 }, (_, k) => ({ name: `f${k}`, default: -k - 1 })),
});
const b = defineFeatureView({
  name: 'b',
  entity: 'user',
  ttlSeconds: 100,
  features: Array.from({ length: 3 }, (_, k) => ({ name: `g${k}`, default: 10 + k })),
});
const req = defineFeatureView({
  name: 'r',
  entity: 'user',
  ttlSeconds: 100,
  source: { kind: 'request' },
  features: [{ name: 'h', default: 0 }],
});
const defs = defineFeatures({
  entities: [defineEntity({ name: 'user' })],
  views: [a, b, req],
  services: [
    defineFeatureService({
      name: 's',
      features: ['a.f4', 'a.f1', 'r.h', 'b.g0', 'b.g1', 'b.g2', 'a.f0', 'a.f1', 'a.f2', 'a.f3', 'a.f5'],
    }),
  ],
});
const layout = resolveService(defs, 's');
const AT = 1_000_000;

interface Rec {
  readonly eventTs: number;
  readonly values: Float32Array;
}

/** Random records: absent, short (written before features were appended), fresh, expired, future, boundary. */
function randomRecords(rng: Rng, rows: number, width: number, ttlMs: number): Array<Rec | undefined> {
  return Array.from({ length: rows }, () => {
    const kind = rng.int(6);
    if (kind === 0) return undefined;
    const w = kind === 1 ? rng.int(width) : width;
    const eventTs = [AT - 1, AT - ttlMs - 5, AT + 7, AT - ttlMs, AT, AT - ttlMs + 1][rng.int(6)] as number;
    return { eventTs, values: Float32Array.from({ length: w }, () => rng.next()) };
  });
}

/** The reference: `fillRun` row by row, as the stores did before the batched fill. */
function referenceRead(ids: string[], recs: Map<string, Array<Rec | undefined>>) {
  const m = emptyMatrixFor(layout, ids);
  layout.runs.forEach((run, r) => {
    if (run.kind !== 'stored') return;
    ids.forEach((_, row) => {
      const rec = recs.get(run.name)?.[row];
      if (rec === undefined) fillRun(m, r, run, row, undefined, 0, 0, Number.NaN, AT);
      else fillRun(m, r, run, row, rec.values, 0, rec.values.length, rec.eventTs, AT);
    });
  });
  return m;
}

function packed(rec: Rec, pad: number): Buffer {
  // a record at an odd offset inside a larger buffer, as Redis replies arrive
  const whole = Buffer.alloc(pad + RECORD_HEADER_BYTES + rec.values.length * 4);
  const buf = whole.subarray(pad);
  buf.writeDoubleLE(rec.eventTs, 0);
  buf.writeDoubleLE(rec.eventTs, 8);
  Buffer.from(rec.values.buffer, rec.values.byteOffset, rec.values.byteLength).copy(buf, RECORD_HEADER_BYTES);
  return buf;
}

describe('batched online fill', () => {
  it('fillStoredRun matches fillRun on every row for absent, short, fresh, expired and future records', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 20; trial++) {
      const rows = 1 + rng.int(40);
      const ids = Array.from({ length: rows }, (_, i) => `u${i}`);
      const recs = new Map([
        ['a', randomRecords(rng, rows, 6, 10_000)],
        ['b', randomRecords(rng, rows, 3, 100_000)],
      ]);
      const expected = referenceRead(ids, recs);
      const m = storeReadMatrixFor(layout, ids);
      const stride = 8;
      const tile = new Float32Array(rows * stride);
      layout.runs.forEach((run, r) => {
        if (run.kind !== 'stored') return;
        const rowWidth = new Int32Array(rows);
        const eventTs = new Float64Array(rows);
        recs.get(run.name)?.forEach((rec, row) => {
          rowWidth[row] = rec?.values.length ?? 0;
          eventTs[row] = rec?.eventTs ?? Number.NaN;
          tile.fill(Number.NaN, row * stride, (row + 1) * stride);
          if (rec) tile.set(rec.values, row * stride + 1);
        });
        // both addressing forms: uniform stride, and a start per row
        const starts =
          trial % 2 === 0 ? { base: 1, stride } : Int32Array.from({ length: rows }, (_, row) => row * stride + 1);
        // whole, or in blocks of rows (the Redis store decodes blocks as their replies arrive)
        if (trial % 4 < 2) fillStoredRun(m, r, run, tile, starts, rowWidth, eventTs, AT);
        else
          for (let from = 0, to = 0; from < rows; from = to) {
            to = Math.min(rows, from + 1 + rng.int(7));
            fillStoredRun(m, r, run, tile, starts, rowWidth, eventTs, AT, from, to);
          }
      });
      expect(Array.from(m.values)).toEqual(Array.from(expected.values));
      expect(Array.from(m.status)).toEqual(Array.from(expected.status));
      expect(Array.from(m.ageMs)).toEqual(Array.from(expected.ageMs));
    }
  });

  it('decodes unaligned Redis replies of mixed widths like the per-row reference', () => {
    const rng = new Rng(11);
    const rows = 33;
    const ids = Array.from({ length: rows }, (_, i) => `u${i}`);
    const recs = new Map([
      ['a', randomRecords(rng, rows, 6, 10_000)],
      ['b', randomRecords(rng, rows, 3, 100_000)],
    ]);
    // fields in the layout's first-use order: a, b
    const replies = ids.map((_, row) =>
      ['a', 'b'].map((key) => {
        const rec = recs.get(key)?.[row];
        return rec === undefined ? null : packed(rec, row % 5);
      }),
    );
    const m = storeReadMatrixFor(layout, ids);
    const decoder = new RecordDecoder();
    decoder.fill(m, layout, packBufferReplies(replies, 2), AT);
    const expected = referenceRead(ids, recs);
    expect(Array.from(m.values)).toEqual(Array.from(expected.values));
    expect(Array.from(m.status)).toEqual(Array.from(expected.status));
    expect(Array.from(m.ageMs)).toEqual(Array.from(expected.ageMs));
    // the decoder's scratch is reused: a second, smaller read gives the same answer as the reference
    const m2 = storeReadMatrixFor(layout, ids.slice(0, 3));
    decoder.fill(m2, layout, packBufferReplies(replies.slice(0, 3), 2), AT);
    const e2 = referenceRead(ids.slice(0, 3), recs);
    expect(Array.from(m2.values)).toEqual(Array.from(e2.values));
    // and in blocks of rows, as the direct reader hands them over
    const m3 = storeReadMatrixFor(layout, ids);
    const all = packBufferReplies(replies, 2);
    for (let from = 0; from < rows; from += 5) decoder.fillRows(m3, layout, all, from, Math.min(rows, from + 5), AT);
    expect(Array.from(m3.values)).toEqual(Array.from(expected.values));
    expect(Array.from(m3.status)).toEqual(Array.from(expected.status));
    expect(Array.from(m3.ageMs)).toEqual(Array.from(expected.ageMs));
  });

  it('leaves request runs NaN and missing', () => {
    const m = storeReadMatrixFor(layout, ['x', 'y']);
    const r = layout.runs.findIndex((run) => run.kind === 'request');
    const run = layout.runs[r];
    expect(run?.kind).toBe('request');
    expect(Array.from(m.values.subarray((run?.start ?? 0) * 2, (run?.end ?? 0) * 2)).every(Number.isNaN)).toBe(true);
    expect(Array.from(m.status)).toEqual(new Array(m.status.length).fill(1));
  });
});
