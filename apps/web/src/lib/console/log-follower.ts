// Where a console is in a device's traffic log on the gateway. The gateway numbers each entry
// (`seq`, one more than the one before, never reused): the console shows the entries in that
// order, as the gateway recorded them, so the live view is what a reload shows (an auto-reply
// always below the message that triggered it, whatever order the page heard of them).
import type { TrafficEntry } from '@switchboard/gateway/api-types';

export class LogFollower {
  /** The newest sequence number taken; -1 before the first page. */
  #last = -1;

  get last(): number {
    return this.#last;
  }

  /**
   * A page of the log (oldest first) and the sequence number the gateway gives next. Returns
   * the entries to add, in order, and `reset` when the log is not the one followed so far (the
   * gateway restarted without it, or numbers went backwards): the caller starts again from it.
   */
  take(entries: readonly TrafficEntry[], next: number): { fresh: TrafficEntry[]; reset: boolean } {
    if (next - 1 < this.#last) {
      this.#last = -1;
      const fresh = [...entries].sort((a, b) => a.seq - b.seq);
      this.#last = Math.max(-1, next - 1, ...fresh.map((e) => e.seq));
      return { fresh, reset: true };
    }
    const fresh = entries.filter((e) => e.seq > this.#last).sort((a, b) => a.seq - b.seq);
    for (const entry of fresh) this.#last = Math.max(this.#last, entry.seq);
    return { fresh, reset: false };
  }
}
