import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { viewStatus } from '../core/index.js';
import { resolveService } from './definitions.js';
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
