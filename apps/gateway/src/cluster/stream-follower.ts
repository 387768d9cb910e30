import { READ_COUNT, type FollowedStreams, type StreamFollower } from './followed-streams.js';
import { compareStreamIds } from './stream-entries.js';
import type { RedisConnections } from './redis-io.js';

/**
 * One Redis: the served streams are followed with one blocking XREAD over them all, made again
 * each time it returns (within `blockMs`) and cut short when the set of streams changes.
 */
export class BlockingStreamFollower implements StreamFollower {
  readonly #streams: FollowedStreams;
  readonly #redis: RedisConnections;
  readonly #blockMs: number;
  /** The reader connection's CLIENT ID, to cut its blocking read short when the streams change. */
  #readerId: string | undefined;
  #reading = false;
  #wake: (() => void) | undefined;

  constructor(streams: FollowedStreams, redis: RedisConnections, blockMs: number) {
    this.#streams = streams;
    this.#redis = redis;
    this.#blockMs = blockMs;
  }

  added(): void {
    this.#restartRead();
  }

  removed(): void {
    this.#restartRead();
  }

  stop(): void {
    this.#wake?.();
  }

  /** The streams followed changed: a read blocked on the old set is cut short (or ends by itself within blockMs). */
  #restartRead(): void {
    this.#wake?.();
    // On a cluster CLIENT UNBLOCK cannot be routed to the reader's node: the read ends by itself within blockMs.
    if (!this.#reading || this.#readerId === undefined || !this.#redis.ready || this.#redis.mode !== 'single') return;
    this.#redis
      .command(['CLIENT', 'UNBLOCK', this.#readerId])
      .then((unblocked) => {
        if (Number(unblocked) === 0) this.#readerId = undefined; // a reconnected reader has another id
      })
      .catch((error: unknown) => this.#redis.logError('restarting the history read', error as Error));
  }

  /**
   * Follows the served streams into this node's history, as entries come. After a Redis outage
   * it reads on from the last entry it saw of each, so nothing logged meanwhile is missed.
   */
  async run(): Promise<void> {
    const redis = this.#redis;
    const { positions, behind } = this.#streams;
    while (!this.#streams.closed) {
      if (positions.size === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      let reply: unknown;
      let streams: [string, string][];
      try {
        if (redis.mode === 'single') this.#readerId ??= String(await redis.read(['CLIENT', 'ID']));
        streams = [...positions];
        if (streams.length === 0) continue;
        this.#reading = true;
        reply = await redis.read([
          'XREAD',
          'COUNT',
          String(READ_COUNT),
          'BLOCK',
          String(this.#blockMs),
          'STREAMS',
          ...streams.map(([key]) => key),
          ...streams.map(([, at]) => at),
        ]);
      } catch (error) {
        this.#readerId = undefined;
        // stop() may have run during the await.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- TypeScript keeps the loop's narrowing across the await
        if (this.#streams.closed) return;
        redis.logError('reading the history streams', error as Error);
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      } finally {
        this.#reading = false;
      }
      // Every stream read to its end is whole here now; one that gave a full page may have more.
      const full = new Set(reply === null ? [] : (reply as [string, unknown[]][]).filter(([, entries]) => entries.length >= READ_COUNT).map(([key]) => key));
      for (const [key] of streams) if (!full.has(key)) behind.delete(key);
      if (reply === null) continue;
      // RESP2: [[stream, [[entryId, [field, value, ...]], ...]], ...]
      for (const [key, entries] of reply as [string, [string, string[]][]][]) {
        for (const [entryId, fields] of entries) {
          const position = positions.get(key);
          // Dropped meanwhile, or read up further by a serve that ran meanwhile.
          if (position === undefined || compareStreamIds(entryId, position) <= 0) continue;
          positions.set(key, entryId);
          this.#streams.take(fields);
        }
      }
    }
  }
}

/**
 * A Redis Cluster (where one XREAD cannot span slots): a followed stream is read by itself each
 * time the bus says it grew (FollowedStreams.poll), and every stream followed once per `blockMs`
 * in case a nudge was lost.
 */
export class SweepingStreamFollower implements StreamFollower {
  readonly #streams: FollowedStreams;
  readonly #redis: RedisConnections;
  readonly #blockMs: number;
  #wake: (() => void) | undefined;

  constructor(streams: FollowedStreams, redis: RedisConnections, blockMs: number) {
    this.#streams = streams;
    this.#redis = redis;
    this.#blockMs = blockMs;
  }

  /** Nothing blocks on it: what came during its read-up is read at once. */
  added(key: string): void {
    this.#streams.poll(key);
  }

  removed(): void {
    // Nothing to cut short: its reads end by themselves.
  }

  stop(): void {
    this.#wake?.();
  }

  /** Every stream followed is read on once per blockMs (what a lost nudge left behind: an outage, a reconnection). */
  async run(): Promise<void> {
    while (!this.#streams.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#blockMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have run during the await
      if (this.#streams.closed || !this.#redis.ready) continue;
      for (const key of this.#streams.positions.keys()) this.#streams.poll(key);
    }
  }
}
