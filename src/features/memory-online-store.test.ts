import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng, viewStatus } from '../core/index.js';
import {
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  resolveService,
  storageKeyOf,
  ttlMsOf,
} from './definitions.js';
import { MemoryOnlineStore } from './memory-online-store.js';
import { conformanceDefinitions, describeOnlineStore } from './testing/online-store-conformance.js';

describeOnlineStore('memory', () => new MemoryOnlineStore());

const dir = mkdtempSync(join(tmpdir(), 'adnova-mem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeOnlineStore(
  'memory with snapshot',
  () => new MemoryOnlineStore({ snapshotPath: join(dir, `s-${randomUUID()}.json`) }),
);

describe('memory online store snapshot', () => {
  it('survives close and reopen through the snapshot file', async () => {
    const { defs, statsRef } = conformanceDefinitions();
    const path = join(dir, 'snap.json');
    const a = new MemoryOnlineStore({ snapshotPath: path });
    const t = Date.UTC(2026, 0, 1);
    await a.write(statsRef, {
      entityIds: ['u1', 'u2'],
      eventTs: Float64Array.of(t, t + 1),
      createdTs: Float64Array.of(t, t),
      values: Float32Array.of(1, 2, 3, 4, 5, 6),
    });
    await a.close();
    const b = new MemoryOnlineStore({ snapshotPath: path });
    expect(b.entityCount).toBe(2);
    const m = await b.read(resolveService(defs, 'all'), ['u2', 'u1'], t + 10);
    expect(m.values[0]).toBe(4);
    expect(m.values[1]).toBe(1);
    expect(viewStatus(m, 0, 0)).toBe('present');
    expect(m.ageMs[0]).toBe(9);
    await b.close();
  });
});

describe('memory online store bulk reads', () => {
  it('reads 3,000 entities in one call exactly as one by one (tiles of rows; short, expired, absent records)', async () => {
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
    const defs = defineFeatures({
      entities: [defineEntity({ name: 'user' })],
      views: [a, b],
      services: [defineFeatureService({ name: 's', features: ['a.f4', 'b.g1', 'a.f0', 'a.f1', 'b.g0', 'a.f5'] })],
    });
    const layout = resolveService(defs, 's');
    const at = 1_000_000;
    const store = new MemoryOnlineStore();
    const rng = new Rng(5);
    const n = 3000;
    for (const [view, width] of [
      [a, 6],
      [b, 3],
    ] as const) {
      const ids: string[] = [];
      const ts: number[] = [];
      const widths: number[] = [];
      for (let i = 0; i < n; i++) {
        if (rng.next() < 0.2) continue; // absent
        ids.push(`u${i}`);
        ts.push(rng.next() < 0.2 ? at - 200_000 : at - rng.int(5000)); // some expired
        widths.push(rng.next() < 0.2 ? width - 2 : width); // some written before features were appended
      }
      for (const w of [width - 2, width]) {
        const sel = ids.map((_, k) => k).filter((k) => widths[k] === w);
        await store.write(
          { storageKey: storageKeyOf(view), width: w, ttlMs: ttlMsOf(view) },
          {
            entityIds: sel.map((k) => ids[k] as string),
            eventTs: Float64Array.from(sel, (k) => ts[k] as number),
            createdTs: Float64Array.from(sel, (k) => ts[k] as number),
            values: Float32Array.from({ length: sel.length * w }, () => rng.next()),
          },
        );
      }
    }
    const all = Array.from({ length: n }, (_, i) => `u${(i * 7) % n}`);
    const bulk = store.readSync(layout, all, at);
    const cols = layout.columns.length;
    const runs = layout.runs.length;
    all.forEach((id, row) => {
      const one = store.readSync(layout, [id], at);
      for (let c = 0; c < cols; c++) expect(bulk.values[c * n + row]).toBe(one.values[c]);
      for (let r = 0; r < runs; r++) {
        expect(bulk.status[r * n + row]).toBe(one.status[r]);
        expect(bulk.ageMs[r * n + row]).toBe(one.ageMs[r]);
      }
    });
    expect(new Set(bulk.status).size).toBeGreaterThan(1);
  });
});
