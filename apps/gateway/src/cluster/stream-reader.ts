import type { FollowedStreams, StreamFollower } from './followed-streams.js';
import type { HistoryKeys, LogStream } from './history-keys.js';
import type { RedisConnections } from './redis-io.js';
import { compareStreamIds, unavailable } from './stream-entries.js';

/**
 * The streams this node serves (`serve`/`drop`): rooms with a member here, the identities of its
 * members. Starting to serve one, it first reads what it lacks (`serve` resolves after that), then
 * hands it to the follower; where that read-up failed the stream is `behind` until a read gets through.
 */
export class StreamReader {
  readonly #streams: FollowedStreams;
  readonly #follower: StreamFollower;
  readonly #redis: RedisConnections;
  readonly #keys: HistoryKeys;
  readonly #timeoutMs: number;
  /** Streams served now (followed once read up) → their read-up while it runs. */
  readonly #served = new Map<string, Promise<void> | undefined>();
  /** Where this process stopped reading a stream it no longer serves: it reads on from there when it serves it again. */
  readonly #stoppedAt = new Map<string, string>();

  constructor(streams: FollowedStreams, follower: StreamFollower, redis: RedisConnections, keys: HistoryKeys, timeoutMs: number) {
    this.#streams = streams;
    this.#follower = follower;
    this.#redis = redis;
    this.#keys = keys;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * This node serves `of` now: what it lacks is read first (from where this process stopped
   * reading it, or from the highest id its history holds of a room, or the whole stream of an
   * identity's), then the stream is followed. Resolves once it is read up, or once reading it has
   * failed for three --cluster-timeout-ms (its shard failing over): the stream is then `behind`
   * (what is kept here may lack entries) until the follow loop, reading from the same place,
   * gets through.
   */
  serve(of: LogStream): Promise<void> {
    const key = this.#keys.stream(of);
    if (this.#served.has(key)) return this.#served.get(key) ?? Promise.resolve();
    const reading = this.#serve(key, of).finally(() => {
      if (this.#served.get(key) === reading) this.#served.set(key, undefined);
    });
    this.#served.set(key, reading);
    return reading;
  }

  async #serve(key: string, of: LogStream): Promise<void> {
    const streams = this.#streams;
    let position = this.#startOf(key, of);
    // A shard failing over answers nothing for a second or more (and this node's map of the cluster may be stale): the read is made again.
    const deadline = Date.now() + this.#timeoutMs * 3;
    for (let pause = 50; ; pause = Math.min(pause * 2, 500)) {
      try {
        position = await streams.readUp(key, position);
        streams.behind.delete(key);
        break;
      } catch (error) {
        if (!this.#served.has(key) || streams.closed || Date.now() + pause > deadline) {
          streams.behind.add(key);
          this.#redis.logError(`reading the history of ${'room' in of ? `room ${of.room}` : 'a member'}`, error as Error);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
    if (!this.#served.has(key) || streams.positions.has(key)) return; // dropped meanwhile, or served again and read up by then
    streams.positions.set(key, position);
    this.#stoppedAt.delete(key);
    this.#follower.added(key);
  }

  /**
   * Whether what this node keeps of a served stream may lack entries of it: its read-up failed
   * and no read of it has succeeded since. A room's history read here is then not whole.
   */
  behind(of: LogStream): boolean {
    return this.#streams.behind.has(this.#keys.stream(of));
  }

  /**
   * A served stream that is `behind`: read on now, once, from where this node is in it. Resolves
   * once what is kept here holds every entry the stream held; rejects (CLUSTER_UNAVAILABLE) when
   * the stream cannot be read.
   */
  async catchUp(of: LogStream): Promise<void> {
    const { positions, behind } = this.#streams;
    const key = this.#keys.stream(of);
    await this.#served.get(key);
    if (!behind.has(key)) return;
    const position = positions.get(key) ?? this.#startOf(key, of);
    let last: string;
    try {
      last = await this.#streams.readUp(key, position);
    } catch (error) {
      throw unavailable(`reading the history: ${(error as Error).message}`);
    }
    behind.delete(key);
    const now = positions.get(key);
    if (now !== undefined && compareStreamIds(last, now) > 0) positions.set(key, last);
  }

  /** A stream this node may not serve, read up once (a REST reader's room): what it lacks is stored, nothing more is followed. */
  async readUp(of: LogStream): Promise<void> {
    const key = this.#keys.stream(of);
    if (this.#streams.positions.has(key)) return this.catchUp(of);
    let last: string;
    try {
      last = await this.#streams.readUp(key, this.#startOf(key, of));
    } catch (error) {
      throw unavailable(`reading the history: ${(error as Error).message}`);
    }
    if (!this.#streams.positions.has(key)) this.#stoppedAt.set(key, last);
  }

  /** This node no longer serves `of`: its stream is not read any more. */
  drop(of: LogStream): void {
    const { positions, behind } = this.#streams;
    const key = this.#keys.stream(of);
    this.#served.delete(key);
    behind.delete(key);
    const position = positions.get(key);
    if (position === undefined) return;
    positions.delete(key);
    this.#stoppedAt.set(key, position);
    this.#follower.removed(key);
  }

  /** Where reading a stream starts: where this process stopped reading it, or the highest id kept here of a room, or the start of an identity's. */
  #startOf(key: string, of: LogStream): string {
    // An identity's stream also holds what others sent it: its highest id here (from a conversation this node served through the other side) says nothing of what it lacks.
    return this.#stoppedAt.get(key) ?? ('room' in of ? `${this.#streams.highestOf(of)}-0` : '0-0');
  }
}
