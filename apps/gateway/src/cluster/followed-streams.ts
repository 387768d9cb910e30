import type { CarriedEntry, LogRecord } from './cluster.js';
import type { LogStream } from './history-keys.js';
import { withTimeout, type RedisConnections } from './redis-io.js';
import type { SeenIds } from './seen-ids.js';
import { compareStreamIds, parseLogEntry } from './stream-entries.js';

/** Entries one read brings at most. */
export const READ_COUNT = 1000;

/**
 * How the streams read up are followed from then on (stream-follower.ts): on one Redis by one
 * blocking XREAD, on a Redis Cluster by reads of one stream at a time.
 */
export interface StreamFollower {
  /** A stream is followed from now on (its read-up is done). */
  added(key: string): void;
  /** A stream followed until now is not any more. */
  removed(key: string): void;
  /** The follow loop, until `stop`. */
  run(): Promise<void>;
  stop(): void;
}

/**
 * What the read side keeps of the streams this node follows (where it is in each, which may lack
 * entries), and what the read-up and both ways of following share: the paged read, and the
 * taking of an entry into this node's history.
 */
export class FollowedStreams {
  /** Streams followed now → the last stream id read. */
  readonly positions = new Map<string, string>();
  /**
   * Streams served whose read-up failed (their shard was failing over): what is kept here of them
   * may lack entries until a read of them succeeds (the follow, or `caughtUp`).
   */
  readonly behind = new Set<string>();
  closed = false;
  /** Streams being read now by `poll` (true: read again once done, it grew meanwhile). */
  readonly #polls = new Map<string, boolean>();
  readonly #redis: RedisConnections;
  readonly #timeoutMs: number;
  /** This process's tag in the streams: its own entries (stored already) are skipped unread. */
  readonly #writer: string;
  readonly #ids: SeenIds;
  #handler: ((record: LogRecord) => void) | undefined;
  #highestOf: (stream: LogStream) => number = () => 0;

  constructor(redis: RedisConnections, timeoutMs: number, writer: string, ids: SeenIds) {
    this.#redis = redis;
    this.#timeoutMs = timeoutMs;
    this.#writer = writer;
    this.#ids = ids;
  }

  /** Entries taken go to `handler`; `highest` says the highest id this node's history holds of a stream. */
  follow(handler: (record: LogRecord) => void, highest?: (stream: LogStream) => number): void {
    this.#handler = handler;
    if (highest !== undefined) this.#highestOf = highest;
  }

  highestOf(of: LogStream): number {
    return this.#highestOf(of);
  }

  /** Entries of `key` from `from` on (inclusive unless `exclusive`: the store ignores what it has), a page at a time; the last stream id read. */
  async readUp(key: string, from: string, exclusive = false): Promise<string> {
    let start = exclusive ? `(${from}` : from;
    let last = from;
    for (;;) {
      const page = (await withTimeout(
        this.#redis.command(['XRANGE', key, start, '+', 'COUNT', String(READ_COUNT)]),
        this.#timeoutMs * 5,
        'reading a history stream',
      )) as [string, string[]][];
      // A followed stream's entries up to where this node is in it are here already (taken from the bus meanwhile).
      const had = this.positions.get(key);
      for (const [entryId, fields] of page) {
        last = entryId;
        if (had === undefined || compareStreamIds(entryId, had) > 0) this.take(fields);
      }
      if (page.length < READ_COUNT) return last;
      start = `(${last}`;
    }
  }

  /** Reads a followed stream on from where this node is in it; one read per stream at a time, made again when it grew meanwhile. */
  poll(key: string): void {
    if (this.#polls.has(key)) {
      this.#polls.set(key, true);
      return;
    }
    this.#polls.set(key, false);
    void (async () => {
      try {
        do {
          this.#polls.set(key, false);
          const position = this.positions.get(key);
          if (position === undefined) return;
          const last = await this.readUp(key, position, true);
          // Read through to the end from where this node was: nothing of it is missing here now.
          this.behind.delete(key);
          const now = this.positions.get(key);
          // Dropped meanwhile, or read further by a serve that ran meanwhile.
          if (now !== undefined && compareStreamIds(last, now) > 0) this.positions.set(key, last);
        } while (this.#polls.get(key) === true && !this.closed);
      } catch (error) {
        this.#redis.logError('reading a history stream', error as Error);
      } finally {
        this.#polls.delete(key);
      }
    })();
  }

  /** An entry read from a stream, into this node's history. */
  take(fields: string[]): void {
    if (fields[0] === 'n' && fields[1] === this.#writer) return; // stored when it was appended
    const record = parseLogEntry(fields);
    if (record === undefined) return;
    this.#ids.saw(record.id);
    this.#handler?.(record);
  }

  /** The next entry of a followed stream, from the bus: stored here as a read of the stream would store it. */
  takeCarried(key: string, { id, ts, entry, at }: CarriedEntry): void {
    this.positions.set(key, at);
    this.#ids.saw(id);
    this.#handler?.({ id, ts, entry });
  }
}
