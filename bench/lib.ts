/** Small helpers shared by the benchmarks. */
import { Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';

/**
 * The line every benchmark prints first: the machine, the time and its load when the run started (these machines
 * are small and shared, so a figure means little without the load it was measured under).
 */
export function machineLine(): string {
  const c = cpus();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `machine: ${c[0]?.model ?? 'unknown cpu'}, ${c.length} cores, node ${process.version}, ${process.platform}/${process.arch}, ${new Date().toISOString()}, load average ${load} (shared with other jobs: figures are noisy)`;
}

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

/** `--name` flags and `--name N` numbers of this process's command line. */
export function cliArgs(argv: readonly string[] = process.argv.slice(2)) {
  return {
    flag: (name: string): boolean => argv.includes(`--${name}`),
    num: (name: string, fallback: number): number => {
      const i = argv.indexOf(`--${name}`);
      return i >= 0 ? Number(argv[i + 1]) : fallback;
    },
  };
}

/** The middle value (the mean of the two middle ones of an even count; NaN of none). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The `q` quantile of sorted values by nearest rank (`sorted[floor(q * n)]`, clamped; NaN of none). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
