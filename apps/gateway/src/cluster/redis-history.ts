import { randomBytes } from 'node:crypto';
import { ProtocolError } from '@switchboard/protocol';
import type { NewHistoryEntry } from '../history/history-store.js';
import type { CarriedEntry, LogRecord, MessageLog } from './cluster.js';
import { splitId, type HistoryKeys, type LogStream } from './history-keys.js';
import { keySlot } from './key-slot.js';
import { withTimeout, type RedisConnections } from './redis-io.js';

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

export function unavailable(why: string): ProtocolError {
  return new ProtocolError('CLUSTER_UNAVAILABLE', `The gateways' Redis is unreachable (${why}); this was not taken. Try again shortly.`);
}

/** Entries one read brings at most. */
const READ_COUNT = 1000;
/** One append call carries at most this many entries, and about this many bytes of them: a turn's larger batch goes as several calls, in order. */
const BATCH_ENTRIES = 256;
const BATCH_BYTES = 512 * 1024;
/** Files announced here whose checksum may still come: their streams are remembered this long (oldest forgotten first). */
const OPEN_FILES = 10_000;
/** Entries appended here whose event the bus has not published yet (it takes each as it does): at most this many are kept (oldest forgotten first). */
const CARRIED = 10_000;
/**
 * An entry the bus carried ahead of where this node is in its stream (an entry between is on its
 * way from another gateway: two gateways' publishes can pass each other) waits this long for it,
 * and at most this many wait per stream; then the stream is read.
 */
const AHEAD_MS = 20;
const AHEAD_MAX = 1024;

/**
 * The history streams: one per room, and one per identity for private conversations (a private
 * entry goes to both sides' streams, so a node reads just the streams of its own members), each
 * trimmed to `retention` entries. An entry's message id is taken where the layout says
 * (history-keys.ts): on one Redis from one counter, by one script (APPEND_BATCH) that also adds the
 * entry under the stream id `<message id>-0`, so ids increase across the cluster; on a Redis Cluster
 * from the counter of the room's slot, by APPEND_IN_SLOT_BATCH on that shard alone, so ids increase
 * within a room only (a private entry's id is taken in its conversation's slot, by APPEND_IN_SLOT,
 * then added to both sides' streams). What a node takes in one turn goes in as one call (one per
 * room on a cluster), not one per message. Either way a room stream's order is id order and a reader can start at a message id.
 * A node reads only the streams it serves (`serve`/`drop`): rooms with a member here, the
 * identities of its members. Starting to serve one, it first reads what it lacks (`serve`
 * resolves after that), then follows it: on one Redis with the others in one blocking XREAD; on a
 * cluster (where one XREAD cannot span slots) by a read of the stream each time the bus says it
 * grew (`nudge`: a room's event, a private message to a member here), and of every stream
 * followed once per `blockMs` in case a nudge was lost.
 */
export class RedisHistory implements MessageLog {
  readonly #options: RedisHistoryOptions;
  /** This process's tag in the streams: its own entries (stored already) are skipped unread. */
  readonly #writer = randomBytes(6).toString('hex');
  #follower: ((record: LogRecord) => void) | undefined;
  #highestOf: (stream: LogStream) => number = () => 0;
  /** Streams followed now → the last stream id read. */
  readonly #following = new Map<string, string>();
  /** Streams served now (followed once read up) → their read-up while it runs. */
  readonly #served = new Map<string, Promise<void> | undefined>();
  /**
   * Streams served whose read-up failed (their shard was failing over): what is kept here of them
   * may lack entries until a read of them succeeds (the follow, or `caughtUp`).
   */
  readonly #behind = new Set<string>();
  /** Where this process stopped reading a stream it no longer serves: it reads on from there when it serves it again. */
  readonly #stoppedAt = new Map<string, string>();
  /** Files announced here → the streams their checksum goes to. */
  readonly #openFiles = new Map<number, string[]>();
  /** The reader connection's CLIENT ID, to cut its blocking read short when the streams change. */
  #readerId: string | undefined;
  #reading = false;
  #wake: (() => void) | undefined;
  #highestId: number;
  /** Per-slot ids: the highest sequence this node knows of each slot, and the least any slot's next id takes (above its own history at start). */
  readonly #slotSequences = new Map<number, number>();
  readonly #startSequence: number;
  /** Cluster follow: streams being read now (true: read again once done, it grew meanwhile). */
  readonly #polls = new Map<string, boolean>();
  /** Cluster: each sender's entries being stored, oldest first; each settles once it is stored (or failed) and every one before it has settled. */
  readonly #senderQueues = new Map<string, { settle?: () => void }[]>();
  /** Entries taken this turn, appended at its end: on one Redis all in one call (key ''), on a cluster one call per room stream. */
  readonly #batches = new Map<string, PendingAppend[]>();
  #batchScheduled = false;
  /** Batches with a call in flight (#sendBatch). */
  readonly #inFlight = new Set<string>();
  /** Cluster: entries appended here, by message id, with where they sit in their stream, until the bus carries them with their events (takeCarried). */
  readonly #carried = new Map<number, CarriedEntry>();
  /** Cluster: entries heard ahead of where this node is in their stream, by the stream id of the entry before each (heard). */
  readonly #ahead = new Map<string, { byAfter: Map<string, CarriedEntry>; timer: NodeJS.Timeout }>();
  #closed = false;

  constructor(options: RedisHistoryOptions) {
    this.#options = options;
    this.#highestId = options.lastHistoryId;
    this.#startSequence = splitId(options.lastHistoryId).sequence + 1;
  }

  /** The highest message id this node has stored or seen: if Redis comes back without its data, ids go on above it. */
  get highestId(): number {
    return this.#highestId;
  }

  /** Streams this node follows now (tests, metrics). */
  followed(): string[] {
    return [...this.#following.keys()];
  }

  /**
   * Stores an entry and resolves with its id once it is as durable as asked (--redis-wait-replicas:
   * a replica of each master written has it). The entries taken in one turn of the event loop go
   * to Redis together at its end (#appendBatches): on one Redis in one script call, on a cluster in
   * one call per room (a private entry on its own, as its id and streams are in other slots). A
   * sender's entries resolve in the order appended, so its acknowledgements keep the order of its
   * requests (the hub sends the next before the last is stored): on one Redis the one call (and the
   * one connection, from turn to turn) keeps that order; on a cluster two rooms' entries go to two
   * shards and may be stored in either order, so there each waits for the one before.
   */
  append(entry: NewHistoryEntry, ts: number): Promise<number> {
    if (this.#options.keys.ids !== 'per-slot') return new Promise<number>((resolve, reject) => this.#enqueue(entry, ts, resolve, reject));
    // Settled through the sender's queue (#settleInOrder): no promise per entry beyond its own.
    const sender = entry.from;
    return new Promise<number>((resolve, reject) => {
      let queue = this.#senderQueues.get(sender);
      if (queue === undefined) this.#senderQueues.set(sender, (queue = []));
      const place: { settle?: () => void } = {};
      queue.push(place);
      const done = (settle: () => void): void => {
        place.settle = settle;
        this.#settleInOrder(sender);
      };
      const stored = (id: number): void => done(() => resolve(id));
      const failed = (error: Error): void => done(() => reject(error));
      if (roomOf(entry) === undefined) this.#appendPrivateInSlot(entry, ts).then(stored, (error: unknown) => failed(error as Error));
      else this.#enqueue(entry, ts, stored, failed);
    });
  }

  /** A cluster: the sender's entries whose outcome is known, settled from the oldest on, up to the first still being stored. */
  #settleInOrder(sender: string): void {
    const queue = this.#senderQueues.get(sender);
    if (queue === undefined) return;
    let settled = 0;
    while (settled < queue.length && queue[settled]!.settle !== undefined) queue[settled++]!.settle!();
    if (settled === queue.length) this.#senderQueues.delete(sender);
    else if (settled > 0) queue.splice(0, settled);
  }

  /** The entry waits for the end of this turn, with the others of its batch (one Redis: all; a cluster: its room's). */
  #enqueue(entry: NewHistoryEntry, ts: number, resolve: (id: number) => void, reject: (error: Error) => void): void {
    if (!this.#options.redis.ready) return reject(unavailable('not connected'));
    const streams = this.#streamsOf(entry);
    const key = this.#options.keys.ids === 'per-slot' ? streams[0]! : '';
    let batch = this.#batches.get(key);
    if (batch === undefined) this.#batches.set(key, (batch = []));
    batch.push({ entry, ts, json: JSON.stringify(entry), streams, resolve, reject });
    // A call of this batch's in flight: it goes when that one is answered (#sendBatch).
    if (this.#batchScheduled || this.#inFlight.has(key)) return;
    this.#batchScheduled = true;
    // After every socket read of this turn: what they brought goes in as few calls as there are batches.
    setImmediate(this.#appendBatches);
  }

  readonly #appendBatches = (): void => {
    this.#batchScheduled = false;
    for (const key of [...this.#batches.keys()]) this.#sendBatch(key);
  };

  /**
   * What waits in batch `key` goes in one call (up to BATCH_ENTRIES and BATCH_BYTES; the rest
   * waits), unless one of its calls is in flight: then when that one is answered. One call in
   * flight per batch (per room on a cluster) keeps a room's appends in the order taken although
   * they run by EVALSHA (a call answered NOSCRIPT is sent again as EVAL, and no later call can
   * pass it), and gathers what comes during a round trip into the next call.
   */
  #sendBatch(key: string): void {
    const waiting = this.#batches.get(key);
    if (waiting === undefined || this.#inFlight.has(key)) return;
    const part = firstPart(waiting);
    if (part.length === waiting.length) this.#batches.delete(key);
    else this.#batches.set(key, waiting.slice(part.length));
    this.#inFlight.add(key);
    void this.#appendBatch(part, () => {
      this.#inFlight.delete(key);
      // At the end of this turn, with the rest (and the publishes this answer brings): one socket write for them all.
      if (!this.#batches.has(key) || this.#batchScheduled) return;
      this.#batchScheduled = true;
      setImmediate(this.#appendBatches);
    });
  }

  /**
   * One call for `batch` (`answered` once Redis answered it, or it failed); each entry resolves
   * with its id once the batch is as durable as asked, or every one fails with CLUSTER_UNAVAILABLE.
   */
  async #appendBatch(batch: PendingAppend[], answered: () => void): Promise<void> {
    const { redis } = this.#options;
    let ids: number[];
    try {
      let appended: { ids: number[]; written: string; placed?: Placed };
      try {
        if (!redis.ready) throw new Error('not connected');
        appended = await (this.#options.keys.ids === 'per-slot' ? this.#appendRoomInSlot(batch) : this.#appendAll(batch));
      } finally {
        answered();
      }
      const { ids: taken, written, placed } = appended;
      if (taken.length !== batch.length) throw new Error(`the append script returned ${taken.length} ids for ${batch.length} entries`);
      ids = taken;
      for (const [i, { entry, streams }] of batch.entries()) this.#stored(entry, ids[i]!, streams);
      if (placed !== undefined) this.#placed(batch, ids, placed);
      await redis.replicated(written);
    } catch (error) {
      for (const pending of batch) pending.reject(unavailable((error as Error).message));
      return;
    }
    for (const [i, pending] of batch.entries()) pending.resolve(ids[i]!);
  }

  /** One Redis: every entry of the batch takes its id from the one counter and goes into its streams, in one script call, in order. */
  async #appendAll(batch: PendingAppend[]): Promise<{ ids: number[]; written: string }> {
    const { redis, keys, retention, timeoutMs } = this.#options;
    const scriptKeys = [keys.counter];
    const indexOf = new Map<string, number>();
    const args = [String(retention), this.#writer];
    for (const { ts, json, streams } of batch) {
      const indexes = streams.map((stream) => {
        let index = indexOf.get(stream);
        if (index === undefined) indexOf.set(stream, (index = scriptKeys.push(stream))); // Lua's KEYS count from 1
        return index;
      });
      args.push(String(ts), json, indexes.join(','));
    }
    // By EVALSHA: the one call in flight (#sendBatch) keeps a member's messages in the order sent.
    const appended = redis.run('appendBatch', scriptKeys, args);
    const ids = (await withTimeout(appended, timeoutMs, 'storing a message')) as string[];
    return { ids: ids.map(Number), written: keys.counter };
  }

  /**
   * A Redis Cluster: a room's entries take consecutive ids from the counter of the room's slot and
   * go into its stream, on the room's shard, in one script call; `placed`: the stream id of the
   * stream's entry before them and each one's own.
   */
  async #appendRoomInSlot(batch: PendingAppend[]): Promise<{ ids: number[]; written: string; placed: Placed }> {
    const { redis, keys, retention, timeoutMs } = this.#options;
    const stream = batch[0]!.streams[0]!;
    const slot = keySlot(stream);
    const floor = Math.max(this.#slotSequences.get(slot) ?? 0, this.#startSequence - 1);
    const counter = keys.slotCounter(stream);
    const args = [String(retention), this.#writer, String(floor), String(slot)];
    for (const { ts, json } of batch) args.push(String(ts), json);
    // By EVALSHA: the one call in flight per room (#sendBatch) keeps a room's messages in the order sent.
    const appended = redis.run('appendInSlotBatch', [counter, stream], args);
    // [stream id before them, then per entry: message id, stream id]
    const reply = (await withTimeout(appended, timeoutMs, 'storing a message')) as string[];
    const ids: number[] = [];
    const at: string[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      ids.push(Number(reply[i]));
      at.push(reply[i + 1]!);
    }
    return { ids, written: counter, placed: { after: reply[0] ?? '', at } };
  }

  /**
   * A room's entries appended here, and where they sit in its stream: kept for the bus to carry
   * with their events (takeCarried); and where this node has read the stream up to just before
   * them, it is past them now (its own entries: there is nothing to read of them).
   */
  #placed(batch: PendingAppend[], ids: number[], { after, at }: Placed): void {
    let before = after;
    for (const [i, { entry, ts }] of batch.entries()) {
      const id = ids[i]!;
      const here = at[i]!;
      this.#carried.set(id, { id, ts, entry, at: here, after: before });
      before = here;
    }
    while (this.#carried.size > CARRIED) this.#carried.delete(this.#carried.keys().next().value!);
    const stream = batch[0]!.streams[0]!;
    if (this.#following.get(stream) !== after) return;
    this.#following.set(stream, before);
    this.#takeAhead(stream);
  }

  /** The entry appended here under `id`, for the bus to carry with its event (once: it is forgotten here). */
  takeCarried(id: number): CarriedEntry | undefined {
    const carried = this.#carried.get(id);
    if (carried !== undefined) this.#carried.delete(id);
    return carried;
  }

  /**
   * A Redis Cluster: a private entry takes its id in its conversation's slot, then goes into both
   * sides' streams (each its own shard: not one step; a failure between says CLUSTER_UNAVAILABLE,
   * as a timeout does, though one side may hold it).
   */
  async #appendPrivateInSlot(entry: NewHistoryEntry, ts: number): Promise<number> {
    const { redis, keys, retention, timeoutMs } = this.#options;
    if (!redis.ready) throw unavailable('not connected');
    const streams = this.#streamsOf(entry);
    try {
      const json = JSON.stringify(entry);
      const idKey = keys.conversation(...this.#sidesOf(entry));
      const slot = keySlot(idKey);
      const floor = Math.max(this.#slotSequences.get(slot) ?? 0, this.#startSequence - 1);
      const counter = keys.slotCounter(idKey);
      // In order: a member's messages must be stored in the order sent (redis-io.ts, runInOrder).
      const appended = redis.runInOrder('appendInSlot', [counter], [String(retention), this.#writer, String(ts), json, String(floor), String(slot)]);
      const id = Number(await withTimeout(appended, timeoutMs, 'storing a message'));
      const added = streams.map((stream) =>
        redis.command(['XADD', stream, 'MAXLEN', '~', String(retention), '*', 'n', this.#writer, 'i', String(id), 't', String(ts), 'e', json]),
      );
      await withTimeout(Promise.all(added), timeoutMs, 'storing a private message');
      this.#stored(entry, id, streams);
      await Promise.all([counter, ...streams].map((key) => redis.replicated(key)));
      return id;
    } catch (error) {
      throw unavailable((error as Error).message);
    }
  }

  /** An entry is in Redis under `id`: ids go on above it, and a file's checksum will follow it to its streams. */
  #stored(entry: NewHistoryEntry, id: number, streams: string[]): void {
    this.#saw(id);
    if (entry.kind !== 'file') return;
    this.#openFiles.set(id, streams);
    if (this.#openFiles.size > OPEN_FILES) this.#openFiles.delete(this.#openFiles.keys().next().value!);
  }

  /** An id this node took or read: a slot's next id goes on above it (per-slot layout), and the highest is what RAISE_COUNTER keeps (one counter). */
  #saw(id: number): void {
    this.#highestId = Math.max(this.#highestId, id);
    if (this.#options.keys.ids !== 'per-slot') return;
    const { slot, sequence } = splitId(id);
    if (sequence > (this.#slotSequences.get(slot) ?? 0)) this.#slotSequences.set(slot, sequence);
  }

  completeFile(id: number, sha256: string): void {
    const { redis, keys, retention } = this.#options;
    const streams = this.#openFiles.get(id);
    if (streams === undefined || !redis.ready) return;
    this.#openFiles.delete(id);
    const args = [String(retention), this.#writer, String(id), sha256];
    const logged =
      keys.ids === 'per-slot'
        ? Promise.all(streams.map((stream) => redis.runInOrder('completeFileAtTop', [stream], args)))
        : redis.runInOrder('completeFile', [keys.counter, ...streams], args);
    logged.catch((error: unknown) => {
      redis.logError('logging a file checksum', error as Error);
    });
  }

  follow(handler: (record: LogRecord) => void, highest?: (stream: LogStream) => number): void {
    this.#follower = handler;
    if (highest !== undefined) this.#highestOf = highest;
    void (this.#options.keys.ids === 'per-slot' ? this.#sweep() : this.#follow());
  }

  /** A Redis Cluster: `of`'s stream grew (the bus said so): it is read on now, if this node follows it. */
  nudge(of: LogStream): void {
    const key = this.#options.keys.stream(of);
    if (this.#following.has(key)) this.#poll(key);
  }

  /**
   * A Redis Cluster: another node appended `carried` to `of`'s stream (the bus carried it with its
   * event). Where this node has read the stream up to just the entry before it, it is the next
   * entry: taken as a read would take it, without reading the stream. Otherwise (an entry between
   * not heard yet, or one heard out of order) the stream is read on (nudge); one already read is
   * ignored.
   */
  heard(of: LogStream, carried: CarriedEntry): void {
    const key = this.#options.keys.stream(of);
    const position = this.#following.get(key);
    if (position === undefined) return;
    // From another node over the wire: checked before it reaches the history.
    const { id, ts, entry, at, after } = carried as { [K in keyof CarriedEntry]: unknown };
    const wellFormed = typeof id === 'number' && Number.isSafeInteger(id) && typeof ts === 'number' && typeof entry === 'object' && entry !== null;
    if (!wellFormed || typeof at !== 'string' || typeof after !== 'string') return this.#poll(key);
    if (compareStreamIds(at, position) <= 0) return;
    if (this.#behind.has(key)) return this.#poll(key);
    if (after !== position) return this.#holdAhead(key, carried);
    this.#takeCarried(key, carried);
    this.#takeAhead(key);
  }

  /** Entries heard ahead that follow on from where this node is in the stream now: taken, in order. */
  #takeAhead(key: string): void {
    const ahead = this.#ahead.get(key);
    const position = this.#following.get(key);
    if (ahead === undefined || position === undefined) return;
    for (let next = ahead.byAfter.get(position); next !== undefined; next = ahead.byAfter.get(next.at)) {
      ahead.byAfter.delete(next.after);
      this.#takeCarried(key, next);
    }
    if (ahead.byAfter.size === 0) this.#dropAhead(key);
  }

  /** The next entry of a followed stream, from the bus: stored here as a read of the stream would store it. */
  #takeCarried(key: string, { id, ts, entry, at }: CarriedEntry): void {
    this.#following.set(key, at);
    this.#saw(id);
    this.#follower?.({ id, ts, entry });
  }

  /** An entry heard ahead of where this node is in its stream: it waits for the ones between (AHEAD_MS at most; then the stream is read). */
  #holdAhead(key: string, carried: CarriedEntry): void {
    let ahead = this.#ahead.get(key);
    if (ahead === undefined) {
      const timer = setTimeout(() => {
        this.#ahead.delete(key);
        this.#poll(key);
      }, AHEAD_MS);
      this.#ahead.set(key, (ahead = { byAfter: new Map(), timer }));
    }
    if (ahead.byAfter.size >= AHEAD_MAX) {
      this.#dropAhead(key);
      return this.#poll(key);
    }
    ahead.byAfter.set(carried.after, carried);
  }

  #dropAhead(key: string): void {
    const ahead = this.#ahead.get(key);
    if (ahead === undefined) return;
    clearTimeout(ahead.timer);
    this.#ahead.delete(key);
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
    const key = this.#options.keys.stream(of);
    if (this.#served.has(key)) return this.#served.get(key) ?? Promise.resolve();
    const reading = this.#serve(key, of).finally(() => {
      if (this.#served.get(key) === reading) this.#served.set(key, undefined);
    });
    this.#served.set(key, reading);
    return reading;
  }

  async #serve(key: string, of: LogStream): Promise<void> {
    let position = this.#startOf(key, of);
    // A shard failing over answers nothing for a second or more (and this node's map of the cluster may be stale): the read is made again.
    const deadline = Date.now() + this.#options.timeoutMs * 3;
    for (let pause = 50; ; pause = Math.min(pause * 2, 500)) {
      try {
        position = await this.#readUp(key, position);
        this.#behind.delete(key);
        break;
      } catch (error) {
        if (!this.#served.has(key) || this.#closed || Date.now() + pause > deadline) {
          this.#behind.add(key);
          this.#options.redis.logError(`reading the history of ${'room' in of ? `room ${of.room}` : 'a member'}`, error as Error);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
    if (!this.#served.has(key) || this.#following.has(key)) return; // dropped meanwhile, or served again and read up by then
    this.#following.set(key, position);
    this.#stoppedAt.delete(key);
    this.#restartRead();
    // On a cluster nothing blocks on it: what came during its read-up is read at once.
    if (this.#options.keys.ids === 'per-slot') this.#poll(key);
  }

  /**
   * Whether what this node keeps of a served stream may lack entries of it: its read-up failed
   * and no read of it has succeeded since. A room's history read here is then not whole.
   */
  behind(of: LogStream): boolean {
    return this.#behind.has(this.#options.keys.stream(of));
  }

  /**
   * A served stream that is `behind`: read on now, once, from where this node is in it. Resolves
   * once what is kept here holds every entry the stream held; rejects (CLUSTER_UNAVAILABLE) when
   * the stream cannot be read.
   */
  async catchUp(of: LogStream): Promise<void> {
    const key = this.#options.keys.stream(of);
    await this.#served.get(key);
    if (!this.#behind.has(key)) return;
    const position = this.#following.get(key) ?? this.#startOf(key, of);
    let last: string;
    try {
      last = await this.#readUp(key, position);
    } catch (error) {
      throw unavailable(`reading the history: ${(error as Error).message}`);
    }
    this.#behind.delete(key);
    const now = this.#following.get(key);
    if (now !== undefined && compareStreamIds(last, now) > 0) this.#following.set(key, last);
  }

  /** A stream this node may not serve, read up once (a REST reader's room): what it lacks is stored, nothing more is followed. */
  async readUp(of: LogStream): Promise<void> {
    const key = this.#options.keys.stream(of);
    if (this.#following.has(key)) return this.catchUp(of);
    let last: string;
    try {
      last = await this.#readUp(key, this.#startOf(key, of));
    } catch (error) {
      throw unavailable(`reading the history: ${(error as Error).message}`);
    }
    if (!this.#following.has(key)) this.#stoppedAt.set(key, last);
  }

  /** This node no longer serves `of`: its stream is not read any more. */
  drop(of: LogStream): void {
    const key = this.#options.keys.stream(of);
    this.#served.delete(key);
    this.#behind.delete(key);
    this.#dropAhead(key);
    const position = this.#following.get(key);
    if (position === undefined) return;
    this.#following.delete(key);
    this.#stoppedAt.set(key, position);
    this.#restartRead();
  }

  /** The reading loop ends (the reader connection is cut by the caller). */
  stop(): void {
    this.#closed = true;
    for (const key of [...this.#ahead.keys()]) this.#dropAhead(key);
    this.#wake?.();
  }

  /** Where reading a stream starts: where this process stopped reading it, or the highest id kept here of a room, or the start of an identity's. */
  #startOf(key: string, of: LogStream): string {
    // An identity's stream also holds what others sent it: its highest id here (from a conversation this node served through the other side) says nothing of what it lacks.
    return this.#stoppedAt.get(key) ?? ('room' in of ? `${this.#highestOf(of)}-0` : '0-0');
  }

  /** Entries of `key` from `from` on (inclusive unless `exclusive`: the store ignores what it has), a page at a time; the last stream id read. */
  async #readUp(key: string, from: string, exclusive = false): Promise<string> {
    const { redis, timeoutMs } = this.#options;
    let start = exclusive ? `(${from}` : from;
    let last = from;
    for (;;) {
      const page = (await withTimeout(redis.command(['XRANGE', key, start, '+', 'COUNT', String(READ_COUNT)]), timeoutMs * 5, 'reading a history stream')) as [
        string,
        string[],
      ][];
      // A followed stream's entries up to where this node is in it are here already (taken from the bus meanwhile).
      const had = this.#following.get(key);
      for (const [entryId, fields] of page) {
        last = entryId;
        if (had === undefined || compareStreamIds(entryId, had) > 0) this.#take(fields);
      }
      if (page.length < READ_COUNT) return last;
      start = `(${last}`;
    }
  }

  /** The streams followed changed: a read blocked on the old set is cut short (or ends by itself within blockMs). */
  #restartRead(): void {
    if (this.#options.keys.ids === 'per-slot') return; // followed by reads of one stream at a time (#sweep)
    this.#wake?.();
    // On a cluster CLIENT UNBLOCK cannot be routed to the reader's node: the read ends by itself within blockMs.
    if (!this.#reading || this.#readerId === undefined || !this.#options.redis.ready || this.#options.redis.mode !== 'single') return;
    this.#options.redis
      .command(['CLIENT', 'UNBLOCK', this.#readerId])
      .then((unblocked) => {
        if (Number(unblocked) === 0) this.#readerId = undefined; // a reconnected reader has another id
      })
      .catch((error: unknown) => this.#options.redis.logError('restarting the history read', error as Error));
  }

  /**
   * Follows the served streams into this node's history, as entries come. After a Redis outage
   * it reads on from the last entry it saw of each, so nothing logged meanwhile is missed.
   */
  async #follow(): Promise<void> {
    const { redis, blockMs } = this.#options;
    while (!this.#closed) {
      if (this.#following.size === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      let reply: unknown;
      let streams: [string, string][];
      try {
        if (redis.mode === 'single') this.#readerId ??= String(await redis.read(['CLIENT', 'ID']));
        streams = [...this.#following];
        if (streams.length === 0) continue;
        this.#reading = true;
        reply = await redis.read([
          'XREAD',
          'COUNT',
          String(READ_COUNT),
          'BLOCK',
          String(blockMs),
          'STREAMS',
          ...streams.map(([key]) => key),
          ...streams.map(([, at]) => at),
        ]);
      } catch (error) {
        this.#readerId = undefined;
        // stop() may have run during the await.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- TypeScript keeps the loop's narrowing across the await
        if (this.#closed) return;
        redis.logError('reading the history streams', error as Error);
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      } finally {
        this.#reading = false;
      }
      // Every stream read to its end is whole here now; one that gave a full page may have more.
      const full = new Set(reply === null ? [] : (reply as [string, unknown[]][]).filter(([, entries]) => entries.length >= READ_COUNT).map(([key]) => key));
      for (const [key] of streams) if (!full.has(key)) this.#behind.delete(key);
      if (reply === null) continue;
      // RESP2: [[stream, [[entryId, [field, value, ...]], ...]], ...]
      for (const [key, entries] of reply as [string, [string, string[]][]][]) {
        for (const [entryId, fields] of entries) {
          const position = this.#following.get(key);
          // Dropped meanwhile, or read up further by a serve that ran meanwhile.
          if (position === undefined || compareStreamIds(entryId, position) <= 0) continue;
          this.#following.set(key, entryId);
          this.#take(fields);
        }
      }
    }
  }

  /** A Redis Cluster: every stream followed is read on once per blockMs (what a lost nudge left behind: an outage, a reconnection). */
  async #sweep(): Promise<void> {
    while (!this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#options.blockMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have run during the await
      if (this.#closed || !this.#options.redis.ready) continue;
      for (const key of this.#following.keys()) this.#poll(key);
    }
  }

  /** Reads a followed stream on from where this node is in it; one read per stream at a time, made again when it grew meanwhile. */
  #poll(key: string): void {
    if (this.#polls.has(key)) {
      this.#polls.set(key, true);
      return;
    }
    this.#polls.set(key, false);
    void (async () => {
      try {
        do {
          this.#polls.set(key, false);
          const position = this.#following.get(key);
          if (position === undefined) return;
          const last = await this.#readUp(key, position, true);
          // Read through to the end from where this node was: nothing of it is missing here now.
          this.#behind.delete(key);
          const now = this.#following.get(key);
          // Dropped meanwhile, or read further by a serve that ran meanwhile.
          if (now !== undefined && compareStreamIds(last, now) > 0) this.#following.set(key, last);
        } while (this.#polls.get(key) === true && !this.#closed);
      } catch (error) {
        this.#options.redis.logError('reading a history stream', error as Error);
      } finally {
        this.#polls.delete(key);
      }
    })();
  }

  #take(fields: string[]): void {
    if (fields[0] === 'n' && fields[1] === this.#writer) return; // stored when it was appended
    const record = parseLogEntry(fields);
    if (record === undefined) return;
    this.#saw(record.id);
    this.#follower?.(record);
  }

  /** A room's entry goes to the room's stream; a private one to both sides' (one when they are the same identity). */
  #streamsOf(entry: NewHistoryEntry): string[] {
    const { keys } = this.#options;
    const room = roomOf(entry);
    if (room !== undefined) return [keys.stream({ room })];
    return [...new Set(this.#sidesOf(entry).map((identity) => keys.stream({ identity })))];
  }

  /** A private entry's two identities: its sender's and its recipient's (a guest's is its name's). */
  #sidesOf(entry: NewHistoryEntry): [string, string] {
    const from = ('fromIdentity' in entry ? entry.fromIdentity : undefined) ?? `name:${entry.from.toLowerCase()}`;
    const to = ('toIdentity' in entry ? entry.toIdentity : undefined) ?? `name:${('to' in entry ? (entry.to ?? '') : '').toLowerCase()}`;
    return [from, to];
  }
}

/** Where a batch's entries went in their room's stream: the stream id of the entry before them, and each one's. */
interface Placed {
  after: string;
  at: string[];
}

/** An entry taken, waiting for its batch's append. */
interface PendingAppend {
  entry: NewHistoryEntry;
  ts: number;
  json: string;
  streams: string[];
  resolve(id: number): void;
  reject(error: Error): void;
}

/** What of a batch goes in its next call: at most BATCH_ENTRIES entries and (beyond its first entry) BATCH_BYTES of JSON. */
function firstPart(batch: PendingAppend[]): PendingAppend[] {
  let bytes = 0;
  let n = 0;
  for (const pending of batch) {
    if (n === BATCH_ENTRIES || (n > 0 && bytes + pending.json.length > BATCH_BYTES)) break;
    bytes += pending.json.length;
    n++;
  }
  return n === batch.length ? batch : batch.slice(0, n);
}

/** The room an entry was said in (undefined: a private message or file). */
function roomOf(entry: NewHistoryEntry): string | undefined {
  return entry.kind === 'private' ? undefined : entry.room;
}

/** Orders two stream ids (`<ms>-<seq>`). */
function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  // Called for every entry heard or read: no arrays.
  const [aMs, aSeq] = streamIdParts(a);
  const [bMs, bSeq] = streamIdParts(b);
  return aMs - bMs || aSeq - bSeq;
}

function streamIdParts(id: string): [number, number] {
  const dash = id.indexOf('-');
  if (dash === -1) return [Number(id) || 0, 0];
  return [Number(id.slice(0, dash)) || 0, Number(id.slice(dash + 1)) || 0];
}

function parseLogEntry(fields: string[]): LogRecord | undefined {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) values.set(fields[i]!, fields[i + 1]!);
  const id = Number(values.get('i'));
  if (!Number.isSafeInteger(id)) return undefined;
  const sha256 = values.get('s');
  if (sha256 !== undefined) return { id, sha256 };
  const entry = values.get('e');
  if (entry === undefined) return undefined;
  return { id, ts: Number(values.get('t')), entry: JSON.parse(entry) as NewHistoryEntry };
}
