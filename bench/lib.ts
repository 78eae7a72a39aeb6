/** Small helpers shared by the benchmarks. */
import { Socket } from 'node:net';

/** Whether a TCP service answers at `url` (its port, else `defaultPort`) within a second. */
export function reachable(url: string, defaultPort: number): Promise<boolean> {
  const parsed = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(parsed.port || defaultPort), parsed.hostname || '127.0.0.1', () => done(true));
  });
}
