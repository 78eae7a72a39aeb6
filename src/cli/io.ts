import cliProgress from 'cli-progress';

/** Where a command writes: injectable so tests can run the CLI in-process and read what it printed. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** True when progress bars make sense (stderr is a terminal). */
  readonly interactive: boolean;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  interactive: Boolean(process.stderr.isTTY) && process.env['CI'] !== 'true',
};

export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

export interface Progress {
  update(done: number): void;
  stop(): void;
}

/** A progress bar on stderr when attached to a terminal; silent otherwise. */
export function startProgress(io: CliIo, label: string, total: number): Progress {
  if (!io.interactive || total <= 0) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | eta {eta_formatted}`, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (done) => bar.update(done), stop: () => bar.stop() };
}
