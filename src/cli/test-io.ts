import type { CliIo } from './io.js';
import { runCli } from './program.js';

/** An in-memory CliIo for running the CLI in-process in tests. */
export interface CapturingIo extends CliIo {
  readonly stdout: () => string;
  readonly stderr: () => string;
}

export function capturingIo(): CapturingIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (text) => out.push(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => err.push(text.endsWith('\n') ? text : `${text}\n`),
    interactive: false,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

/** Runs the CLI in-process and returns its exit code and what it printed. */
export async function runCliCaptured(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capturingIo();
  const code = await runCli(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}
