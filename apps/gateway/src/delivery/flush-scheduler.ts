/**
 * Decides when queued outboxes are written: in batches instead of once per frame. How long a
 * flush may wait for company depends on what the last one cost: a flush that wrote to many
 * members (a wide fan-out) is worth merging with the next, so the next waits up to ~20 µs per
 * member it wrote, never more than `windowMs`; a cheap flush (a private message, a bridge
 * round trip) is followed at once, at the end of the turn. When the gateway is idle nothing
 * waits at all. Under load at K = 200 this cuts system calls per delivery several times over;
 * it never delays a frame by more than the window.
 */

/** How long the next flush may wait for each member the last one wrote to. */
const WAIT_PER_WRITE_MS = 0.02;

export class FlushScheduler {
  #scheduled = false;
  #lastFlushAt = -Infinity;
  /** Members written by the last flush: its cost, roughly. */
  #lastWrites = 0;

  constructor(
    /** Runs the flush and returns how many members it wrote to. */
    private readonly flush: () => number,
    private readonly windowMs: number,
  ) {}

  /** Make sure a flush is coming. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const window = Math.min(this.windowMs, this.#lastWrites * WAIT_PER_WRITE_MS);
    const wait = this.#lastFlushAt + window - performance.now();
    // Timers do not go below a millisecond: shorter waits are not worth one.
    if (wait < 1) setImmediate(this.#run);
    else setTimeout(this.#run, wait);
  }

  /** Flush now (shutdown); a scheduled flush still runs and finds little to do. */
  flushNow(): void {
    this.#run();
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    this.#lastFlushAt = performance.now();
    this.#lastWrites = this.flush();
  };
}
