import type { CliIo, ProgressStream } from './io.js';
import { runCli } from './program.js';

/** An in-memory CliIo for running the CLI in-process in tests. */
export interface CapturingIo extends CliIo {
  readonly stdout: () => string;
  readonly stderr: () => string;
}

/** A stream that says it is a terminal and keeps what was written to it (progress bars in tests). */
export interface FakeTerminal extends ProgressStream {
  readonly text: () => string;
}

export function fakeTerminal(isTTY = true): FakeTerminal {
  const chunks: string[] = [];
  return { isTTY, columns: 100, write: (c: string) => chunks.push(String(c)) > 0, text: () => chunks.join('') };
}

/** Without `terminal`: not interactive, as under CI. With one: interactive, bars drawn on `terminal`. */
export function capturingIo(terminal?: FakeTerminal): CapturingIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (text) => out.push(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => err.push(text.endsWith('\n') ? text : `${text}\n`),
    interactive: terminal !== undefined,
    ...(terminal ? { progressStream: terminal } : {}),
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

/** Runs the CLI in-process and returns its exit code and what it printed. */
export async function runCliCaptured(
  args: readonly string[],
  terminal?: FakeTerminal,
): Promise<{ code: number; out: string; err: string }> {
  const io = capturingIo(terminal);
  const code = await runCli(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}
