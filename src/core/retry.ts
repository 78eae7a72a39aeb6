import { randomInt } from 'node:crypto';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Exponential backoff with jitter for reconnects and retries: 50 ms doubling to `capMs`, +-20%. */
export function backoffMs(attempt: number, capMs = 2000): number {
  const base = Math.min(capMs, 50 * 2 ** Math.min(attempt, 16));
  // jitter spreads reconnect storms of many clients, so it must differ between processes (not a seeded Rng)
  return Math.round(base * (0.8 + randomInt(0, 401) / 1000));
}
