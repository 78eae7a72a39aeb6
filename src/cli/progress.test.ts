import { describe, expect, it } from 'vitest';
import type { CliIo } from './io.js';
import { type ProgressStream, startProgress } from './progress.js';

function fakeStream(isTTY: boolean): ProgressStream & { text: () => string } {
  const chunks: string[] = [];
  return { isTTY, columns: 100, write: (c: string) => chunks.push(String(c)) > 0, text: () => chunks.join('') };
}

const ioWith = (stream: ProgressStream, interactive = true): CliIo => ({
  out: () => {},
  err: () => {},
  interactive,
  progressStream: stream,
});

describe('startProgress', () => {
  it('draws a bar on a terminal stream, up to the total, and stops', () => {
    const stream = fakeStream(true);
    const p = startProgress(ioWith(stream), 'train');
    p.onProgress(0, 40);
    p.onProgress(40, 40);
    p.stop();
    p.stop(); // safe twice
    expect(stream.text()).toMatch(/train \[.*\] 100% \| 40\/40/);
  });

  it('writes nothing without a TTY, with --json, or when not interactive (CI)', () => {
    for (const [stream, io, json] of [
      [fakeStream(false), undefined, false],
      [fakeStream(true), undefined, true],
      [fakeStream(true), false, false],
    ] as const) {
      const p = startProgress(ioWith(stream, io ?? true), 'score', { json });
      p.onProgress(5, 10);
      p.onProgress(10, 10);
      p.stop();
      expect(stream.text()).toBe('');
    }
  });
});
