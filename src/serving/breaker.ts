/**
 * A circuit breaker around one dependency (the online store). Closed: calls go through; `failureThreshold`
 * consecutive failures open it. Open: calls are refused for `cooldownMs`. Then half-open: one probe goes
 * through at a time; its success closes the breaker, its failure opens it for another cooldown.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  readonly failureThreshold?: number;
  readonly cooldownMs?: number;
  readonly now?: () => number;
  readonly onChange?: (state: BreakerState) => void;
}

export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  readonly #now: () => number;
  readonly #onChange: ((state: BreakerState) => void) | undefined;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;
  /** Times the breaker opened. */
  opened = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 3;
    this.cooldownMs = options.cooldownMs ?? 1000;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.cooldownMs) this.#set('half_open');
    return this.#state;
  }

  /** Whether a call may go to the dependency now; in half-open, true for one probe at a time. */
  allow(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open' || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.#failures = 0;
    this.#probing = false;
    if (this.#state !== 'closed') this.#set('closed');
  }

  failure(): void {
    this.#probing = false;
    this.#failures++;
    if (this.#state === 'half_open' || (this.#state === 'closed' && this.#failures >= this.failureThreshold)) {
      this.#openedAt = this.#now();
      this.opened++;
      this.#set('open');
    }
  }

  #set(state: BreakerState): void {
    this.#state = state;
    this.#onChange?.(state);
  }
}
