import type { NewHistoryEntry } from '../history/history-store.js';
import type { CarriedEntry } from './cluster.js';
import type { HistoryKeys } from './history-keys.js';
import { keySlot } from './key-slot.js';
import { withTimeout, type RedisConnections } from './redis-io.js';
import type { SeenIds } from './seen-ids.js';
import { SenderOrder } from './sender-order.js';
import { roomOf, unavailable } from './stream-entries.js';

export interface StreamAppenderOptions {
  redis: RedisConnections;
  keys: HistoryKeys;
  /** Entries kept in each stream (MAXLEN ~). */
  retention: number;
  /** How long storing a message may take. */
  timeoutMs: number;
  /** This process's tag on the entries it appends: its readers skip them (they are stored already). */
  writer: string;
  ids: SeenIds;
  /** A Redis Cluster: entries appended to `stream` just after the entry `after`, the last of them at `last` (the read side moves past them). */
  appendedHere(stream: string, after: string, last: string): void;
}

/** One append call carries at most this many entries, and about this many bytes of them: a turn's larger batch goes as several calls, in order. */
const BATCH_ENTRIES = 256;
const BATCH_BYTES = 512 * 1024;
/** Files announced here whose checksum may still come: their streams are remembered this long (oldest forgotten first). */
const OPEN_FILES = 10_000;
/** Entries appended here whose event the bus has not published yet (it takes each as it does): at most this many are kept (oldest forgotten first). */
const CARRIED = 10_000;

/**
 * The append side of the history streams: what a node takes in one turn goes in as one call (one
 * per room on a cluster), not one per message, with one call in flight per batch; a sender's
 * acknowledgements keep the order of its requests; on a cluster a room's entries are kept, with
 * where they sit in the stream, for the bus to carry with their events.
 */
export class StreamAppender {
  readonly #options: StreamAppenderOptions;
  readonly #senderOrder = new SenderOrder();
  /** Entries taken this turn, appended at its end: on one Redis all in one call (key ''), on a cluster one call per room stream. */
  readonly #batches = new Map<string, PendingAppend[]>();
  #batchScheduled = false;
  /** Batches with a call in flight (#sendBatch). */
  readonly #inFlight = new Set<string>();
  /** Cluster: entries appended here, by message id, with where they sit in their stream, until the bus carries them with their events (takeCarried). */
  readonly #carried = new Map<number, CarriedEntry>();
  /** Files announced here → the streams their checksum goes to. */
  readonly #openFiles = new Map<number, string[]>();

  constructor(options: StreamAppenderOptions) {
    this.#options = options;
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
    // Settled through the sender's queue (sender-order.ts): no promise per entry beyond its own.
    return new Promise<number>((resolve, reject) => {
      const done = this.#senderOrder.enter(entry.from);
      const stored = (id: number): void => done(() => resolve(id));
      const failed = (error: Error): void => done(() => reject(error));
      if (roomOf(entry) === undefined) this.#appendPrivateInSlot(entry, ts).then(stored, (error: unknown) => failed(error as Error));
      else this.#enqueue(entry, ts, stored, failed);
    });
  }

  /** The entry waits for the end of this turn, with the others of its batch (one Redis: all; a cluster: its room's). */
  #enqueue(entry: NewHistoryEntry, ts: number, resolve: (id: number) => void, reject: (error: Error) => void): void {
    if (!this.#options.redis.ready) return reject(unavailable('not connected'));
    const streams = streamsOf(this.#options.keys, entry);
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
    const args = [String(retention), this.#options.writer];
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
    const floor = this.#options.ids.floorOf(slot);
    const counter = keys.slotCounter(stream);
    const args = [String(retention), this.#options.writer, String(floor), String(slot)];
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
    this.#options.appendedHere(batch[0]!.streams[0]!, after, before);
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
    const streams = streamsOf(this.#options.keys, entry);
    try {
      const json = JSON.stringify(entry);
      const idKey = keys.conversation(...sidesOf(entry));
      const slot = keySlot(idKey);
      const floor = this.#options.ids.floorOf(slot);
      const counter = keys.slotCounter(idKey);
      // In order: a member's messages must be stored in the order sent (redis-io.ts, runInOrder).
      const appended = redis.runInOrder('appendInSlot', [counter], [String(retention), this.#options.writer, String(ts), json, String(floor), String(slot)]);
      const id = Number(await withTimeout(appended, timeoutMs, 'storing a message'));
      const added = streams.map((stream) =>
        redis.command(['XADD', stream, 'MAXLEN', '~', String(retention), '*', 'n', this.#options.writer, 'i', String(id), 't', String(ts), 'e', json]),
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
    this.#options.ids.saw(id);
    if (entry.kind !== 'file') return;
    this.#openFiles.set(id, streams);
    if (this.#openFiles.size > OPEN_FILES) this.#openFiles.delete(this.#openFiles.keys().next().value!);
  }

  completeFile(id: number, sha256: string): void {
    const { redis, keys, retention } = this.#options;
    const streams = this.#openFiles.get(id);
    if (streams === undefined || !redis.ready) return;
    this.#openFiles.delete(id);
    const args = [String(retention), this.#options.writer, String(id), sha256];
    const logged =
      keys.ids === 'per-slot'
        ? Promise.all(streams.map((stream) => redis.runInOrder('completeFileAtTop', [stream], args)))
        : redis.runInOrder('completeFile', [keys.counter, ...streams], args);
    logged.catch((error: unknown) => {
      redis.logError('logging a file checksum', error as Error);
    });
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

/** A room's entry goes to the room's stream; a private one to both sides' (one when they are the same identity). */
function streamsOf(keys: HistoryKeys, entry: NewHistoryEntry): string[] {
  const room = roomOf(entry);
  if (room !== undefined) return [keys.stream({ room })];
  return [...new Set(sidesOf(entry).map((identity) => keys.stream({ identity })))];
}

/** A private entry's two identities: its sender's and its recipient's (a guest's is its name's). */
function sidesOf(entry: NewHistoryEntry): [string, string] {
  const from = ('fromIdentity' in entry ? entry.fromIdentity : undefined) ?? `name:${entry.from.toLowerCase()}`;
  const to = ('toIdentity' in entry ? entry.toIdentity : undefined) ?? `name:${('to' in entry ? (entry.to ?? '') : '').toLowerCase()}`;
  return [from, to];
}
