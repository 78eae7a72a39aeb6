import { createRequire } from 'node:module';
import type { CliIo } from './io.js';

/** Where a bar is drawn: a terminal stream (process.stderr), or a fake one with `isTTY` in tests. */
export interface ProgressStream {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/**
 * A progress bar for one long step. Domain code receives `onProgress` as a plain callback option
 * (`onProgress(done, total)`), so no module imports the CLI; the command calls `stop()` when the step ends.
 */
export interface ProgressReporter {
  readonly onProgress: (done: number, total: number) => void;
  stop(): void;
}

export interface ProgressOptions {
  /** `--json` given: never draw (stdout is for the JSON, stderr for a JSON error). */
  readonly json?: boolean | undefined;
}

const SILENT: ProgressReporter = { onProgress: () => {}, stop: () => {} };

type CliProgressModule = typeof import('cli-progress');
let cliProgress: CliProgressModule | undefined;

/**
 * A bar on `io.progressStream` when that stream is a terminal, `io.interactive` holds and `--json` is not given;
 * otherwise a reporter that writes nothing. The bar starts at the first report (when the total is known).
 */
export function startProgress(io: CliIo, label: string, options: ProgressOptions = {}): ProgressReporter {
  const stream = io.progressStream;
  if (options.json || !io.interactive || stream?.isTTY !== true) return SILENT;
  // loaded on first use: a command that never draws a bar does not pay for it at start-up
  cliProgress ??= createRequire(import.meta.url)('cli-progress') as CliProgressModule;
  const lib = cliProgress;
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
