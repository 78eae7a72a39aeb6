import { pino } from 'pino';

/** The logging surface domain code sees; pino stays inside this file. */
export interface Logger {
  trace(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  readonly level?: string;
  readonly name?: string;
  /** Where JSON lines go; default stderr, so command output on stdout stays machine-readable. */
  readonly destination?: NodeJS.WritableStream | { write(line: string): void };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    { level: options.level ?? 'info', name: options.name ?? 'adnova', base: undefined },
    (options.destination ?? process.stderr) as NodeJS.WritableStream,
  ) as unknown as Logger;
}

export const silentLogger: Logger = createLogger({ level: 'silent' });
