/** How long to wait before trying again: the page's reconnect and the gateway's outbound device dials both ask this. */
export interface BackoffOptions {
  /** The ceiling of the first wait. */
  initialMs: number;
  /** The ceiling stops doubling here. */
  maxMs: number;
  /** A number in [0, 1): Math.random unless a test fixes it. */
  random?: () => number;
}

/**
 * Capped exponential backoff with jitter: before try number `attempt` (0: the first retry) the
 * ceiling is `initialMs × 2^attempt`, at most `maxMs` (the doubling stops after 16 steps), and
 * the wait is between half the ceiling and all of it, so clients that went down together do not
 * come back in step.
 */
export function backoffDelay(attempt: number, { initialMs, maxMs, random = Math.random }: BackoffOptions): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt, 0), 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
