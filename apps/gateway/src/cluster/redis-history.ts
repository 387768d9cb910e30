import { randomBytes } from 'node:crypto';
import type { NewHistoryEntry } from '../history/history-store.js';
import type { CarriedEntry, LogRecord, MessageLog } from './cluster.js';
import { FollowedStreams, type StreamFollower } from './followed-streams.js';
import { HeardEntries } from './heard-entries.js';
import type { HistoryKeys, LogStream } from './history-keys.js';
import type { RedisConnections } from './redis-io.js';
import { SeenIds } from './seen-ids.js';
import { StreamAppender } from './stream-appender.js';
import { BlockingStreamFollower, SweepingStreamFollower } from './stream-follower.js';
import { StreamReader } from './stream-reader.js';

export { unavailable } from './stream-entries.js';

export interface RedisHistoryOptions {
  redis: RedisConnections;
  keys: HistoryKeys;
  /** Entries kept in each stream (MAXLEN ~). */
  retention: number;
  /** How long storing a message may take. */
  timeoutMs: number;
  /** How long one blocking read waits before it is made again. */
  blockMs: number;
  /** The highest message id this node's own history holds: ids go on above it. */
  lastHistoryId: number;
}

/**
 * The history streams: one per room, and one per identity for private conversations (a private
 * entry goes to both sides' streams, so a node reads just the streams of its own members), each
 * trimmed to `retention` entries. An entry's message id is taken where the layout says
 * (history-keys.ts): on one Redis from one counter, by one script (APPEND_BATCH) that also adds the
 * entry under the stream id `<message id>-0`, so ids increase across the cluster; on a Redis Cluster
 * from the counter of the room's slot, by APPEND_IN_SLOT_BATCH on that shard alone, so ids increase
 * within a room only (a private entry's id is taken in its conversation's slot, by APPEND_IN_SLOT,
 * then added to both sides' streams). What a node takes in one turn goes in as one call (one per
 * room on a cluster), not one per message (stream-appender.ts). Either way a room stream's order is id order and a reader can start at a message id.
 * A node reads only the streams it serves (`serve`/`drop`, stream-reader.ts): rooms with a member here, the
 * identities of its members. Starting to serve one, it first reads what it lacks (`serve`
 * resolves after that), then follows it (stream-follower.ts): on one Redis with the others in one blocking XREAD; on a
 * cluster (where one XREAD cannot span slots) by a read of the stream each time the bus says it
 * grew (`nudge`: a room's event, a private message to a member here; `heard`: the bus carried the
 * entry itself, heard-entries.ts), and of every stream followed once per `blockMs` in case a nudge was lost.
 */
export class RedisHistory implements MessageLog {
  readonly #keys: HistoryKeys;
  readonly #ids: SeenIds;
  readonly #streams: FollowedStreams;
  readonly #heard: HeardEntries;
  readonly #follower: StreamFollower;
  readonly #reader: StreamReader;
  readonly #appender: StreamAppender;

  constructor(options: RedisHistoryOptions) {
    const { redis, keys, retention, timeoutMs, blockMs } = options;
    this.#keys = keys;
    const perSlot = keys.ids === 'per-slot';
    this.#ids = new SeenIds(options.lastHistoryId, perSlot);
    /** This process's tag in the streams: its own entries (stored already) are skipped unread. */
    const writer = randomBytes(6).toString('hex');
    this.#streams = new FollowedStreams(redis, timeoutMs, writer, this.#ids);
    this.#heard = new HeardEntries(this.#streams);
    this.#follower = perSlot ? new SweepingStreamFollower(this.#streams, redis, blockMs) : new BlockingStreamFollower(this.#streams, redis, blockMs);
    this.#reader = new StreamReader(this.#streams, this.#follower, redis, keys, timeoutMs);
    const appendedHere = (stream: string, after: string, last: string): void => this.#heard.appendedHere(stream, after, last);
    this.#appender = new StreamAppender({ redis, keys, retention, timeoutMs, writer, ids: this.#ids, appendedHere });
  }

  /** The highest message id this node has stored or seen: if Redis comes back without its data, ids go on above it. */
  get highestId(): number {
    return this.#ids.highest;
  }

  /** Streams this node follows now (tests, metrics). */
  followed(): string[] {
    return [...this.#streams.positions.keys()];
  }

  append(entry: NewHistoryEntry, ts: number): Promise<number> {
    return this.#appender.append(entry, ts);
  }

  /** The entry appended here under `id`, for the bus to carry with its event (once: it is forgotten here). */
  takeCarried(id: number): CarriedEntry | undefined {
    return this.#appender.takeCarried(id);
  }

  completeFile(id: number, sha256: string): void {
    this.#appender.completeFile(id, sha256);
  }

  follow(handler: (record: LogRecord) => void, highest?: (stream: LogStream) => number): void {
    this.#streams.follow(handler, highest);
    void this.#follower.run();
  }

  /** A Redis Cluster: `of`'s stream grew (the bus said so): it is read on now, if this node follows it. */
  nudge(of: LogStream): void {
    const key = this.#keys.stream(of);
    if (this.#streams.positions.has(key)) this.#streams.poll(key);
  }

  /** A Redis Cluster: another node appended `carried` to `of`'s stream (the bus carried it with its event). */
  heard(of: LogStream, carried: CarriedEntry): void {
    this.#heard.heard(this.#keys.stream(of), carried);
  }

  serve(of: LogStream): Promise<void> {
    return this.#reader.serve(of);
  }

  behind(of: LogStream): boolean {
    return this.#reader.behind(of);
  }

  catchUp(of: LogStream): Promise<void> {
    return this.#reader.catchUp(of);
  }

  readUp(of: LogStream): Promise<void> {
    return this.#reader.readUp(of);
  }

  /** This node no longer serves `of`: its stream is not read any more. */
  drop(of: LogStream): void {
    this.#reader.drop(of);
    this.#heard.drop(this.#keys.stream(of));
  }

  /** The reading loop ends (the reader connection is cut by the caller). */
  stop(): void {
    this.#streams.closed = true;
    this.#heard.dropAll();
    this.#follower.stop();
  }
}
