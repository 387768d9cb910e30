import type { CarriedEntry } from './cluster.js';
import type { FollowedStreams } from './followed-streams.js';
import { compareStreamIds } from './stream-entries.js';

/**
 * An entry the bus carried ahead of where this node is in its stream (an entry between is on its
 * way from another gateway: two gateways' publishes can pass each other) waits this long for it,
 * and at most this many wait per stream; then the stream is read.
 */
const AHEAD_MS = 20;
const AHEAD_MAX = 1024;

/**
 * A Redis Cluster: the entries the bus carries with their events (a room's message carries its
 * entry). The next one a followed stream lacks here is taken without reading the stream; one heard
 * ahead waits a moment for the ones between.
 */
export class HeardEntries {
  readonly #streams: FollowedStreams;
  /** Entries heard ahead of where this node is in their stream, by the stream id of the entry before each (heard). */
  readonly #ahead = new Map<string, { byAfter: Map<string, CarriedEntry>; timer: NodeJS.Timeout }>();

  constructor(streams: FollowedStreams) {
    this.#streams = streams;
  }

  /**
   * Another node appended `carried` to the stream `key` (the bus carried it with its event). Where
   * this node has read the stream up to just the entry before it, it is the next entry: taken as a
   * read would take it, without reading the stream. Otherwise (an entry between not heard yet, or
   * one heard out of order) the stream is read on (nudge); one already read is ignored.
   */
  heard(key: string, carried: CarriedEntry): void {
    const streams = this.#streams;
    const position = streams.positions.get(key);
    if (position === undefined) return;
    // From another node over the wire: checked before it reaches the history.
    const { id, ts, entry, at, after } = carried as { [K in keyof CarriedEntry]: unknown };
    const wellFormed = typeof id === 'number' && Number.isSafeInteger(id) && typeof ts === 'number' && typeof entry === 'object' && entry !== null;
    if (!wellFormed || typeof at !== 'string' || typeof after !== 'string') return streams.poll(key);
    if (compareStreamIds(at, position) <= 0) return;
    if (streams.behind.has(key)) return streams.poll(key);
    if (after !== position) return this.#holdAhead(key, carried);
    streams.takeCarried(key, carried);
    this.#takeAhead(key);
  }

  /**
   * This node appended entries to `key` just after the entry `after`, the last of them at `last`:
   * where it has read the stream up to just before them, it is past them now (its own entries:
   * there is nothing to read of them).
   */
  appendedHere(key: string, after: string, last: string): void {
    const { positions } = this.#streams;
    if (positions.get(key) !== after) return;
    positions.set(key, last);
    this.#takeAhead(key);
  }

  /** The entries held ahead of `key` are forgotten (it is no longer served). */
  drop(key: string): void {
    const ahead = this.#ahead.get(key);
    if (ahead === undefined) return;
    clearTimeout(ahead.timer);
    this.#ahead.delete(key);
  }

  dropAll(): void {
    for (const key of [...this.#ahead.keys()]) this.drop(key);
  }

  /** Entries heard ahead that follow on from where this node is in the stream now: taken, in order. */
  #takeAhead(key: string): void {
    const ahead = this.#ahead.get(key);
    const position = this.#streams.positions.get(key);
    if (ahead === undefined || position === undefined) return;
    for (let next = ahead.byAfter.get(position); next !== undefined; next = ahead.byAfter.get(next.at)) {
      ahead.byAfter.delete(next.after);
      this.#streams.takeCarried(key, next);
    }
    if (ahead.byAfter.size === 0) this.drop(key);
  }

  /** An entry heard ahead of where this node is in its stream: it waits for the ones between (AHEAD_MS at most; then the stream is read). */
  #holdAhead(key: string, carried: CarriedEntry): void {
    let ahead = this.#ahead.get(key);
    if (ahead === undefined) {
      const timer = setTimeout(() => {
        this.#ahead.delete(key);
        this.#streams.poll(key);
      }, AHEAD_MS);
      this.#ahead.set(key, (ahead = { byAfter: new Map(), timer }));
    }
    if (ahead.byAfter.size >= AHEAD_MAX) {
      this.drop(key);
      return this.#streams.poll(key);
    }
    ahead.byAfter.set(carried.after, carried);
  }
}
