import net from 'node:net';
import { plainAddress } from '../address-match.js';

/** One counter an attempt is held to: at most `max` failures per window under `key`. */
export interface AttemptLimit {
  key: string;
  max: number;
}

/** An attempt allowed to run: settle it once its outcome is known. */
export interface Reservation {
  settle(failed: boolean): void;
}

interface Counter {
  /** When failures happened, oldest first, within the window. */
  failures: number[];
  /** Attempts running now: counted as failures until they settle, so parallel ones cannot overtake the limit. */
  pending: number;
}

/**
 * Failed attempts per key in a sliding window, reserved before they are evaluated: an attempt
 * takes a place under each of its keys first (a running attempt counts as a failure), and
 * settles when it is known whether it failed. However many arrive at once, at most `max` per
 * key are ever evaluated in a window. The table is bounded: when `maxKeys` are held, keys with
 * nothing recent are dropped; if none can be, attempts needing a new key are refused rather
 * than any recent failure forgotten.
 */
export class AttemptLimiter {
  readonly #counters = new Map<string, Counter>();
  #sweptAt = -Infinity;

  constructor(
    readonly windowMs: number,
    readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.#counters.size;
  }

  /** A reservation, or the first limit that is full (undefined key: the table itself is full). */
  reserve(limits: readonly AttemptLimit[]): Reservation | { full: AttemptLimit | undefined } {
    const now = this.now();
    const counters: Counter[] = [];
    let missing = 0;
    for (const limit of limits) {
      const counter = this.#counters.get(limit.key);
      if (counter === undefined) {
        missing++;
        continue;
      }
      this.#expire(counter, now);
      if (counter.failures.length + counter.pending >= limit.max) return { full: limit };
    }
    if (missing > 0 && this.#counters.size + missing > this.maxKeys && !this.#sweep(now, missing)) return { full: undefined };
    for (const limit of limits) {
      let counter = this.#counters.get(limit.key);
      if (counter === undefined) this.#counters.set(limit.key, (counter = { failures: [], pending: 0 }));
      counter.pending++;
      counters.push(counter);
    }
    let settled = false;
    return {
      settle: (failed) => {
        if (settled) return;
        settled = true;
        const at = this.now();
        limits.forEach((limit, i) => {
          const counter = counters[i]!;
          counter.pending--;
          if (failed) counter.failures.push(at);
          this.#expire(counter, at);
          if (counter.pending === 0 && counter.failures.length === 0 && this.#counters.get(limit.key) === counter) this.#counters.delete(limit.key);
        });
      },
    };
  }

  /** Failures under `key` within the window (for tests and metrics). */
  failures(key: string): number {
    const counter = this.#counters.get(key);
    if (counter === undefined) return 0;
    this.#expire(counter, this.now());
    return counter.failures.length;
  }

  #expire(counter: Counter, now: number): void {
    let stale = 0;
    while (stale < counter.failures.length && now - counter.failures[stale]! >= this.windowMs) stale++;
    if (stale > 0) counter.failures.splice(0, stale);
  }

  /** Drops keys with nothing recent; at most once a second (it walks every key). True when `room` keys are free now. */
  #sweep(now: number, room: number): boolean {
    if (now - this.#sweptAt >= 1000) {
      this.#sweptAt = now;
      for (const [key, counter] of this.#counters) {
        this.#expire(counter, now);
        if (counter.pending === 0 && counter.failures.length === 0) this.#counters.delete(key);
      }
    }
    return this.#counters.size + room <= this.maxKeys;
  }
}

/** The address an attempt is counted under: IPv4 as is, IPv6 by its /64 (one subscriber's network holds many addresses). */
export function attemptAddress(ip: string): string {
  const address = plainAddress(ip);
  if (!net.isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back] : front;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
