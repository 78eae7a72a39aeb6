import { Socket } from 'node:net';

/**
 * Decides, per suite, whether a service-backed suite runs:
 * reachable -> run; unreachable -> skip with a visible reason; unreachable with CI=true -> fail the file.
 */
export const SERVICE_DEFAULTS = {
  redis: { env: 'REDIS_URL', url: 'redis://127.0.0.1:6379', port: 6379 },
  nats: { env: 'NATS_URL', url: 'nats://127.0.0.1:4222', port: 4222 },
} as const;

export type ServiceName = keyof typeof SERVICE_DEFAULTS;

export interface ServiceAvailability {
  readonly name: ServiceName;
  readonly url: string;
  readonly available: boolean;
  /** Suffix for a describe title: empty when available, otherwise why it is skipped. */
  readonly skipNote: string;
}

export async function serviceAvailability(name: ServiceName, timeoutMs = 1000): Promise<ServiceAvailability> {
  const defaults = SERVICE_DEFAULTS[name];
  const url = process.env[defaults.env] ?? defaults.url;
  const parsed = new URL(url);
  const host = parsed.hostname || '127.0.0.1';
  const port = Number(parsed.port || defaults.port);
  const error = await tcpProbe(host, port, timeoutMs);
  if (error === undefined) return { name, url, available: true, skipNote: '' };
  const reason = `${name} not reachable at ${host}:${port} (${error}); set ${defaults.env} to run`;
  if (process.env['CI'] === 'true') {
    throw new Error(`CI=true requires ${name}: ${reason}`);
  }
  console.warn(`[skip] ${reason}`);
  return { name, url, available: false, skipNote: ` [skipped: ${reason}]` };
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (err: string | undefined) => {
      socket.destroy();
      resolve(err);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('error', (err) => done(err.message));
    socket.connect(port, host, () => done(undefined));
  });
}
