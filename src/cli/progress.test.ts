import { describe, expect, it } from 'vitest';
import type { CliIo, ProgressStream } from './io.js';
import { formatBytes, shouldShowProgress, startProgress } from './progress.js';
import { fakeTerminal as fakeStream } from './test-io.js';

const ioWith = (stream: ProgressStream | undefined, interactive = true): CliIo => ({
  out: () => {},
  err: () => {},
  interactive,
  ...(stream ? { progressStream: stream } : {}),
});

// readline.clearLine(stream, 0): what cli-progress writes when a bar with clearOnComplete stops
const CLEAR_LINE = '\x1b[2K';

describe('shouldShowProgress', () => {
  it('is true only on an interactive CLI whose bar stream is a terminal, without --json', () => {
    const cases: [ProgressStream | undefined, boolean, boolean | undefined, boolean][] = [
      [fakeStream(true), true, undefined, true],
      [fakeStream(true), true, false, true],
      [fakeStream(true), true, true, false], // --json
      [fakeStream(true), false, undefined, false], // stdout not a terminal, or CI
      [fakeStream(false), true, undefined, false], // stderr redirected
      [undefined, true, undefined, false], // nowhere to draw
    ];
    for (const [stream, interactive, json, want] of cases)
      expect(shouldShowProgress(ioWith(stream, interactive), { json }), JSON.stringify({ interactive, json })).toBe(
        want,
      );
  });
});

describe('startProgress', () => {
  it('draws a bar on a terminal stream, up to the total, and clears its line when stopped', () => {
    const stream = fakeStream(true);
    const p = startProgress(ioWith(stream), 'train');
    p.onProgress(0, 40);
    p.onProgress(40, 40);
    const drawn = stream.text();
    expect(drawn).toMatch(/train \[.*\] 0% \| 0\/40/);
    p.stop();
    p.stop(); // safe twice
    const after = stream.text().slice(drawn.length);
    expect(after).toMatch(/train \[.*\] 100% \| 40\/40/); // the final render
    expect(after.endsWith(CLEAR_LINE)).toBe(true);
  });

  it('prints byte counts in kB, MB or GB', () => {
    const stream = fakeStream(true);
    const p = startProgress(ioWith(stream), 'score', { unit: 'bytes' });
    p.onProgress(1_500_000, 3_000_000);
    p.stop();
    expect(stream.text()).toMatch(/score \[.*\] 50% \| 1\.5 MB\/3\.0 MB/);
    expect([999, 2_500_000_000].map(formatBytes)).toEqual(['1.0 kB', '2.5 GB']);
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
