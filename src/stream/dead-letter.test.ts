import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError, ManualClock } from '../core/index.js';
import { MemoryDeadLetterSink } from './dead-letter.js';
import { FileDeadLetterSink, readDeadLetterFile } from './dead-letter-file.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'adnova-dlq-'));
  dirs.push(dir);
  return join(dir, 'nested', 'dead-letters.ndjson');
}

describe('MemoryDeadLetterSink', () => {
  it('keeps event, reason, schema version, source and time, in order', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const sink = new MemoryDeadLetterSink({ clock });
    await sink.write([
      { event: { user_id: null }, reason: 'user_id: required', schemaVersion: 'purchase@1', source: 'events' },
    ]);
    clock.advance(5);
    await sink.write([{ event: 'garbage', reason: 'not an object', schemaVersion: 2 }]);
    expect(sink.written).toBe(2);
    expect(sink.letters()).toEqual([
      {
        event: { user_id: null },
        reason: 'user_id: required',
        schemaVersion: 'purchase@1',
        source: 'events',
        deadLetteredTs: 1_700_000_000_000,
      },
      { event: 'garbage', reason: 'not an object', schemaVersion: 2, deadLetteredTs: 1_700_000_000_005 },
    ]);
    await sink.close();
    await sink.close();
  });

  it('rejects letters without a reason or a schema version', async () => {
    const sink = new MemoryDeadLetterSink();
    await expect(sink.write([{ event: 1, reason: '', schemaVersion: 1 }])).rejects.toThrow(
      /reason must be a non-empty string/,
    );
    await expect(sink.write([{ event: 1, reason: 'r', schemaVersion: '' }])).rejects.toBeInstanceOf(InvalidInputError);
    await expect(sink.write([{ event: 1, reason: 'r', schemaVersion: 1.5 }])).rejects.toThrow(/schemaVersion/);
    expect(sink.written).toBe(0);
  });
});

describe('FileDeadLetterSink', () => {
  it('appends NDJSON lines that read back exactly, across reopen', async () => {
    const path = await tempFile();
    const clock = new ManualClock(42);
    const first = await FileDeadLetterSink.open(path, { clock });
    await first.write([
      {
        event: { amount: '12.5', user_id: 'u1' },
        reason: 'amount: expected number, got string',
        schemaVersion: 'purchase@2',
        source: 'events',
      },
      { event: [1, 'two'], reason: 'not an object', schemaVersion: 3 },
    ]);
    await first.close();
    await first.close();
    const second = await FileDeadLetterSink.open(path, { clock });
    await second.write([{ event: 'ünïcødé\nline', reason: 'unknown event type', schemaVersion: 1 }]);
    await second.close();
    const back = await readDeadLetterFile(path);
    expect(back.unreadableLines).toBe(0);
    expect(back.letters).toEqual([
      {
        deadLetteredTs: 42,
        reason: 'amount: expected number, got string',
        schemaVersion: 'purchase@2',
        source: 'events',
        event: { amount: '12.5', user_id: 'u1' },
      },
      { deadLetteredTs: 42, reason: 'not an object', schemaVersion: 3, event: [1, 'two'] },
      { deadLetteredTs: 42, reason: 'unknown event type', schemaVersion: 1, event: 'ünïcødé\nline' },
    ]);
    expect((await readFile(path, 'utf8')).split('\n')).toHaveLength(4);
  });

  it('keeps events JSON cannot hold as text, with the encoding error', async () => {
    const path = await tempFile();
    const sink = await FileDeadLetterSink.open(path, { fsync: false });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    await sink.write([
      { event: 10n, reason: 'bigint', schemaVersion: 1 },
      { event: cyclic, reason: 'cycle', schemaVersion: 1 },
      { event: undefined, reason: 'nothing', schemaVersion: 1 },
    ]);
    await sink.close();
    const { letters } = await readDeadLetterFile(path);
    expect(letters.map((l) => [l.reason, l.event, (l as unknown as { eventText: string }).eventText])).toEqual([
      ['bigint', null, '10'],
      ['cycle', null, '[object Object]'],
      ['nothing', null, 'undefined'],
    ]);
    for (const l of letters) expect((l as unknown as { eventEncodingError: string }).eventEncodingError).toMatch(/\S/);
  });

  it('keeps concurrent writes whole and in call order; counts a torn last line when reading', async () => {
    const path = await tempFile();
    const sink = await FileDeadLetterSink.open(path, { fsync: false });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sink.write(
          Array.from({ length: 50 }, (_, j) => ({
            event: { i, j, pad: 'x'.repeat(200) },
            reason: `r${i}`,
            schemaVersion: 1,
          })),
        ),
      ),
    );
    expect(sink.written).toBe(1000);
    await sink.close();
    await expect(sink.write([{ event: 1, reason: 'late', schemaVersion: 1 }])).rejects.toThrow(/closed/);
    await writeFile(path, `${await readFile(path, 'utf8')}{"deadLetteredTs":1,"rea`);
    const { letters, unreadableLines } = await readDeadLetterFile(path);
    expect(unreadableLines).toBe(1);
    expect(letters.map((l) => (l.event as { i: number }).i * 1000 + (l.event as { j: number }).j)).toEqual(
      Array.from({ length: 1000 }, (_, k) => Math.floor(k / 50) * 1000 + (k % 50)),
    );
  });
});
