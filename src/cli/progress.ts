import { createRequire } from 'node:module';
import type { CliIo, ProgressStream } from './io.js';

/**
 * A progress bar for one long step. Domain code receives `onProgress` as a plain callback option
 * (`onProgress(done, total)`), so no module imports the CLI; the command calls `stop()` when the step ends (in a
 * `finally`: a drawn bar holds a timer until stopped).
 */
export interface ProgressReporter {
  readonly onProgress: (done: number, total: number) => void;
  stop(): void;
}

export interface ProgressOptions {
  /** `--json` given: never draw (stdout is for the JSON, stderr for a JSON error). */
  readonly json?: boolean | undefined;
  /** What `done` and `total` count: `bytes` prints them in kB, MB or GB; default plain counts. */
  readonly unit?: 'count' | 'bytes';
}

/**
 * The one rule for drawing a bar: never with `--json`, only when the CLI is interactive (stdout and stderr are
 * terminals and CI is not set: a bar on stderr while stdout goes through `less` or a pipe would garble it) and the
 * bar's own stream is a terminal.
 */
export function shouldShowProgress(io: CliIo, options: ProgressOptions = {}): boolean {
  return options.json !== true && io.interactive && io.progressStream?.isTTY === true;
}

const SILENT: ProgressReporter = { onProgress: () => {}, stop: () => {} };

type CliProgressModule = typeof import('cli-progress');
let cliProgress: CliProgressModule | undefined;

/** 1.5 MB, 812.0 kB: bytes in the unit that suits them. */
export function formatBytes(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(1)} GB`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)} MB`;
  return `${(v / 1e3).toFixed(1)} kB`;
}

/**
 * A bar on `io.progressStream` when `shouldShowProgress` holds; otherwise a reporter that writes nothing. The bar
 * starts at the first report (when the total is known) and is cleared from the line when stopped.
 */
export function startProgress(io: CliIo, label: string, options: ProgressOptions = {}): ProgressReporter {
  if (!shouldShowProgress(io, options)) return SILENT;
  const stream = io.progressStream as ProgressStream;
  // loaded on first use: a command that never draws a bar does not pay for it at start-up
  cliProgress ??= createRequire(import.meta.url)('cli-progress') as CliProgressModule;
  const lib = cliProgress;
  const bytes = options.unit === 'bytes';
  let bar: InstanceType<CliProgressModule['SingleBar']> | undefined;
  let stopped = false;
  return {
    onProgress: (done, total) => {
      if (stopped || !(total > 0)) return;
      if (bar === undefined) {
        bar = new lib.SingleBar(
          {
            format: `${label} [{bar}] {percentage}% | {value}/{total} | eta {eta_formatted}`,
            stream: stream as unknown as NodeJS.WritableStream,
            hideCursor: false,
            clearOnComplete: true,
            ...(bytes
              ? {
                  formatValue: (v: number, _o: unknown, type: string) =>
                    type === 'value' || type === 'total' ? formatBytes(v) : String(v),
                }
              : {}),
          },
          lib.Presets.shades_classic,
        );
        bar.start(total, Math.min(done, total));
        return;
      }
      if (bar.getTotal() !== total) bar.setTotal(total);
      bar.update(Math.min(done, total));
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      bar?.stop();
    },
  };
}
