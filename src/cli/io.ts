/** Where a bar is drawn: a terminal stream (process.stderr), or a fake one with `isTTY` in tests. */
export interface ProgressStream {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Where a command writes: injectable so tests can run the CLI in-process and read what it printed. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** True when progress bars make sense: stdout and stderr are terminals, not under CI. */
  readonly interactive: boolean;
  /** Where progress bars go (stderr); a bar is drawn only when this stream is a TTY. */
  readonly progressStream?: ProgressStream;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  interactive: Boolean(process.stdout.isTTY) && Boolean(process.stderr.isTTY) && process.env['CI'] !== 'true',
  progressStream: process.stderr,
};

export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
