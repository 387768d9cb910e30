import { ProtocolError, isValidName, type ClientMessageOf, type HistoryEntry } from '@switchboard/protocol';
import type { LogRecord, MessageLog } from '../cluster/cluster.js';
import type { LogStream } from '../cluster/history-keys.js';
import { OPEN_ROOM, admits, roomForbidden, type RoomAccess, type RoomVisitor } from '../room-access.js';
import {
  ROOM_HISTORY_DEFAULT,
  effectiveHistory,
  type EffectiveHistory,
  type HistoryMode,
  type HistorySetting,
  type MemoryHistoryDefaults,
} from './history-setting.js';
import type { Cursor, HistoryPage, HistoryStore, NewHistoryEntry, Position } from './history-store.js';
import { MemoryHistory, compareEntries, type RingOwner } from './memory-history.js';

/**
 * Who searches: an operator (everything), a member or a resume token's holder by identity
 * (rooms and its own private conversations), or nobody in particular (rooms only).
 */
export type Searcher = { operator: true } | { operator: false; identity: string | null; visitor: RoomVisitor };

export type SearchRequest = Pick<ClientMessageOf<'search'>, 'q' | 'room' | 'before' | 'limit'>;

/** Longest search text, in characters. */
export const MAX_SEARCH_LENGTH = 256;
/** Hits per page: the default, and the most one request gets. */
export const SEARCH_PAGE = 20;
export const MAX_SEARCH_PAGE = 100;
/** Words of a search used (each a prefix), and the longest word. */
const MAX_SEARCH_WORDS = 16;
const MAX_WORD_LENGTH = 64;
/** Pages of hits one search reads at most while leaving out rooms the searcher may not read. */
const SEARCH_PAGES = 8;

/** The words of a search as the index splits texts: letters, digits and their marks. */
export function searchWords(q: string): string[] {
  return (q.match(/[\p{L}\p{N}\p{M}]+/gu) ?? []).slice(0, MAX_SEARCH_WORDS).map((word) => word.slice(0, MAX_WORD_LENGTH));
}

/** Who reads: a member's identity (what its private history belongs to) and the rooms it is in. */
export interface HistoryReader {
  identity: string;
  rooms: readonly string[];
  /** Its account and role: what decides which restricted rooms it may read. */
  visitor: RoomVisitor;
}

/** The range of a page: `before` scrolls back, `after` catches up, neither gives the newest. */
export interface HistoryRange {
  before?: number | undefined;
  after?: number | undefined;
  limit?: number | undefined;
}

export type Recorded<E extends NewHistoryEntry> = E & { id: number; ts: number };

export type MemberHistoryRequest = Pick<ClientMessageOf<'history'>, 'room' | 'with' | 'private' | 'before' | 'after' | 'limit'>;

/**
 * The one way into stored history, for the hub and the REST API alike. Its rules:
 * - a room's messages and file announcements are readable by whoever may join the room
 *   (members over the protocol, and `GET /api/history?room=`): anyone, unless the room is
 *   restricted (room-access.ts);
 * - private messages and private files only by their sender and recipient, by identity: an
 *   account's by whoever signs in as it, a guest's by the holder of its token (a later guest who
 *   takes the freed name sees none of it), and by an operator;
 * - history across all rooms and private conversations at once only by an operator.
 * Limits are clamped to `maxPage`.
 */
export class HistoryService {
  /** A room's access setting (the hub points it at the identity store's). */
  roomAccess: (room: string) => RoomAccess = () => OPEN_ROOM;
  /** A room's history setting (the hub points it at the identity store's). */
  roomSetting: (room: string) => HistorySetting = () => ROOM_HISTORY_DEFAULT;
  readonly #memory: MemoryHistory;
  /** Durable rows recorded since the last flush (what the group commit waits for). */
  #uncommitted = 0;

  constructor(
    private readonly store: HistoryStore,
    private readonly log: MessageLog,
    readonly maxPage: number,
    /**
     * Makes sure a commit comes, also when nobody is sent anything: at the end of this turn, or
     * within the group-commit window while rows keep coming (`rows`: waiting for it so far).
     */
    private readonly scheduleCommit: (rows: number) => void,
    /** Private conversations' setting (--private-history) and the rings' default bounds. */
    private readonly settings: { privateHistory: HistorySetting; memory: MemoryHistoryDefaults } = {
      privateHistory: ROOM_HISTORY_DEFAULT,
      memory: { size: 100, ttlSeconds: 3600 },
    },
    now: () => number = Date.now,
  ) {
    this.#memory = new MemoryHistory((owner) => {
      const setting = this.#effective('room' in owner ? owner.room : null);
      return { size: setting.size ?? settings.memory.size, ttlSeconds: setting.ttlSeconds ?? settings.memory.ttlSeconds };
    }, now);
    // What other nodes logged joins this node's replica: over Redis, of the rooms and private conversations it serves.
    log.follow(
      (record) => this.#replicate(record),
      (stream) => this.#highestOf(stream),
    );
  }

  /**
   * Logs an entry under a new id (through the cluster: at once in process, a promise over
   * Redis) and stores it, committed this turn and before the next socket write.
   */
  record<E extends NewHistoryEntry>(entry: E, ts: number): Recorded<E> | Promise<Recorded<E>> {
    const id = this.log.append(entry, ts);
    return typeof id === 'number' ? this.#store(entry, id, ts) : id.then((id) => this.#store(entry, id, ts));
  }

  /** A room's setting in force (null: the private conversations'), size and TTL filled in for `memory`. */
  historyOf(room: string | null): EffectiveHistory {
    return this.#effective(room);
  }

  #effective(room: string | null): EffectiveHistory {
    return effectiveHistory(room === null ? this.settings.privateHistory : this.roomSetting(room), this.settings.memory);
  }

  /** Read on every message: the mode alone, without filling in a ring's bounds. */
  #modeOf(entry: NewHistoryEntry): HistoryMode {
    const room = entry.kind === 'private' ? undefined : entry.room;
    return room === undefined ? this.settings.privateHistory.mode : this.roomSetting(room).mode;
  }

  /** Kept as its room's (or the private conversations') setting says; the id is taken either way, so ids keep increasing. */
  #store<E extends NewHistoryEntry>(entry: E, id: number, ts: number): Recorded<E> {
    switch (this.#modeOf(entry)) {
      case 'durable':
        this.store.append(entry, id, ts);
        this.scheduleCommit(++this.#uncommitted);
        break;
      case 'memory':
        this.#memory.append(ringOf(entry), memoryEntry(entry, id, ts), 'fromIdentity' in entry ? entry.fromIdentity : undefined);
        this.#idUsed(id);
        break;
      case 'none':
        this.#idUsed(id);
        break;
    }
    // Not `{ ...entry, id, ts }`: V8's copy of an object spread kept what it holds (the message's
    // text) alive through scavenges, and every message was promoted to the old generation
    // (2 MB/s at 4,000 msg/s, docs/benchmark.md); Object.assign's copy is an ordinary young object.
    const recorded = Object.assign({}, entry) as Recorded<E>;
    recorded.id = id;
    recorded.ts = ts;
    return recorded;
  }

  /** Ids keep increasing across a restart when the newest went where the database does not look. */
  #idUsed(id: number): void {
    this.store.idUsed(id);
    this.scheduleCommit(this.#uncommitted);
  }

  /** The highest id kept here of a room (or of an identity's private conversations), where the setting keeps it. */
  #highestOf(stream: LogStream): number {
    const room = 'room' in stream ? stream.room : null;
    const one = { limit: 1 };
    let page: HistoryPage;
    switch (this.#effective(room).mode) {
      case 'durable':
        page = this.store.query(room === null ? { privateOf: { identity: (stream as { identity: string }).identity }, ...one } : { room, ...one });
        break;
      case 'memory':
        page = room === null ? this.#memory.privateOf((stream as { identity: string }).identity, undefined, one) : this.#memory.room(room, one);
        break;
      case 'none':
        return 0;
    }
    return page.entries.at(-1)?.id ?? 0;
  }

  #replicate(record: LogRecord): void {
    if ('sha256' in record) this.store.completeFile(record.id, record.sha256);
    else this.#store(record.entry, record.id, record.ts);
  }

  completeFile(id: number, sha256: string): void {
    this.store.completeFile(id, sha256);
    this.#memory.completeFile(id, sha256);
    this.log.completeFile(id, sha256);
  }

  /** Commits what was recorded (the gateway runs it before writing to any socket); returns the rows recorded since the last flush. */
  flush(): number {
    this.store.flush();
    const rows = this.#uncommitted;
    this.#uncommitted = 0;
    return rows;
  }

  /** A room's history for a reader who may not yet have been admitted to it: ROOM_FORBIDDEN unless the room admits it. */
  roomFor(visitor: RoomVisitor, room: string, range: HistoryRange): HistoryPage {
    if (isValidName(room)) {
      const setting = this.roomAccess(room);
      if (!admits(setting, visitor)) throw roomForbidden(room, setting, 'read its history');
    }
    return this.room(room, range);
  }

  /**
   * `roomFor()` for a REST reader, who may ask any gateway: a room this node does not serve is
   * first read up from the cluster's log (CLUSTER_UNAVAILABLE when it cannot be read).
   */
  async roomForReader(visitor: RoomVisitor, room: string, range: HistoryRange): Promise<HistoryPage> {
    await this.readRoomUp(visitor, room);
    return this.roomFor(visitor, room, range);
  }

  /**
   * Before a room's history is read by someone not in it (over Redis, the room may be one this
   * node does not serve): it is read up from the cluster's log, once the room admits the reader
   * (ROOM_INVALID, ROOM_FORBIDDEN otherwise). When the log cannot be read it rejects with
   * CLUSTER_UNAVAILABLE: what is kept here may lack entries, and a short page would say there are none.
   */
  readRoomUp(visitor: RoomVisitor, room: string): Promise<void> | undefined {
    this.roomFor(visitor, room, { limit: 1 }); // refused before anything is read
    return this.log.readUp?.({ room });
  }

  /**
   * Before a served room's history is read (a join's, `hello {since}`, `history {room}`): undefined
   * when what is kept here is whole; when its read-up from the cluster's log failed (its shard
   * failing over), a promise that reads it on now, and rejects with CLUSTER_UNAVAILABLE if it still cannot.
   */
  roomCaughtUp(room: string): Promise<void> | undefined {
    return this.log.behind?.({ room }) === true ? this.log.catchUp?.({ room }) : undefined;
  }

  /** A member with this identity arrived here: its private conversations are read up (over Redis) before its hello is answered further. */
  privateReady(identity: string): Promise<void> | undefined {
    return this.log.serve?.({ identity });
  }

  /** A room's history, for a member already admitted to it, or an operator. */
  room(room: string, range: HistoryRange): HistoryPage {
    if (!isValidName(room)) throw new ProtocolError('ROOM_INVALID', `"${room}" is not a valid room name.`);
    switch (this.#effective(room).mode) {
      case 'durable':
        return this.store.query({ room, ...this.#range(range) });
      case 'memory':
        return this.#memory.room(room, this.#range(range));
      case 'none':
        return { entries: [], more: false };
    }
  }

  /** What a member asks for over the protocol (PROTOCOL.md §6), within what it may see. */
  forMember(reader: HistoryReader, request: MemberHistoryRequest): HistoryPage {
    const privately = request.with !== undefined || request.private === true;
    if (request.room !== undefined && privately) {
      throw new ProtocolError('INVALID_MESSAGE', 'history takes a room, or with/private for private messages, not both.');
    }
    if (request.with !== undefined && !isValidName(request.with)) {
      throw new ProtocolError('NAME_INVALID', `"${request.with}" is not a valid member name.`);
    }
    if (request.room !== undefined) return this.roomFor(reader.visitor, request.room, request);
    const privateMode = this.#effective(null).mode;
    // One conversation (`with`) is one log, by id; all of them, or rooms and conversations, by (ts, id).
    const range =
      request.with !== undefined ? this.#range(request) : this.#timeRange(request, { operator: false, identity: reader.identity, visitor: reader.visitor });
    if (privately) {
      if (privateMode === 'durable') return this.store.query({ privateOf: { identity: reader.identity, peer: request.with }, ...range });
      if (privateMode === 'memory') return this.#memory.privateOf(reader.identity, request.with, range);
      return { entries: [], more: false };
    }
    // Each room, and the private conversations, from where their setting keeps them.
    const durableRooms = reader.rooms.filter((room) => this.#effective(room).mode === 'durable');
    const memoryRooms = reader.rooms.filter((room) => this.#effective(room).mode === 'memory');
    const durable =
      durableRooms.length > 0 || privateMode === 'durable'
        ? this.store.query({ viewer: { identity: privateMode === 'durable' ? reader.identity : '', rooms: durableRooms }, ...range })
        : { entries: [], more: false };
    if (memoryRooms.length === 0 && privateMode !== 'memory') return durable;
    return merged(durable, this.#memory.viewer(memoryRooms, privateMode === 'memory' ? reader.identity : null, range), range);
  }

  /**
   * Full-text search over what the searcher may read (docs/chat.md, "Search"): the messages and
   * files of every room that admits it (as `roomFor()`), its own private conversations by
   * identity, and everything for an operator. A `room` that does not admit it is ROOM_FORBIDDEN. Newest hits first; `before` continues from the oldest one got.
   */
  search(searcher: Searcher, request: SearchRequest): HistoryPage {
    if (request.q.length === 0 || request.q.length > MAX_SEARCH_LENGTH) {
      throw new ProtocolError('INVALID_MESSAGE', `q must be 1 to ${MAX_SEARCH_LENGTH} characters.`);
    }
    if (request.room !== undefined && !isValidName(request.room)) throw new ProtocolError('ROOM_INVALID', `"${request.room}" is not a valid room name.`);
    const limit = Math.max(1, Math.min(request.limit ?? SEARCH_PAGE, MAX_SEARCH_PAGE));
    const scope = searcher.operator ? ('everything' as const) : { privateOf: searcher.identity };
    const words = searchWords(request.q);
    if (request.room !== undefined && !this.#mayReadRoom(searcher, request.room))
      throw roomForbidden(request.room, this.roomAccess(request.room), 'search its history');
    // One room's hits by id; across rooms and conversations by (ts, id), continued from the position of `before`.
    const byTime = request.room === undefined;
    // Room hits pass the same room rule as reading the room; a bounded number of pages is
    // searched for enough of them (`more` then says to ask again from the last one got).
    const entries: HistoryEntry[] = [];
    let before: Cursor | undefined = byTime && request.before !== undefined ? this.#position(request.before, 'before', searcher) : request.before;
    for (let page = 0; page < SEARCH_PAGES; page++) {
      const found = this.store.search({ words, room: request.room, scope, byTime, before, limit: limit - entries.length });
      for (const entry of found.entries) {
        const room = entry.kind === 'private' ? undefined : entry.room;
        // Only what is kept durably now is found: rows a room kept before it was set to memory or none are not.
        if (this.#effective(room ?? null).mode !== 'durable') continue;
        if (searcher.operator || room === undefined || this.#mayReadRoom(searcher, room)) entries.push(entry);
      }
      const last = found.entries.at(-1);
      if (!found.more || entries.length >= limit || last === undefined) return { entries, more: found.more };
      before = byTime ? { ts: last.ts, id: last.id } : last.id;
    }
    return { entries, more: true };
  }

  /**
   * Whether a stored entry (a kept file, say) is readable: a room's by whoever may read the
   * room, a private one by its two sides (by identity), everything by an operator.
   */
  mayRead(reader: Searcher, entry: { room: string | null; fromIdentity: string | null; toIdentity: string | null }): boolean {
    if (reader.operator) return true;
    if (entry.room !== null) return this.#mayReadRoom(reader, entry.room);
    return reader.identity !== null && (entry.fromIdentity === reader.identity || entry.toIdentity === reader.identity);
  }

  /** Whether a room's history is readable by the searcher: as `roomFor()`, whoever the room admits. */
  #mayReadRoom(searcher: Searcher, room: string): boolean {
    return searcher.operator || (isValidName(room) && admits(this.roomAccess(room), searcher.visitor));
  }

  /** Everything, or one room: the operator's view (REST with admin rights). */
  forOperator(request: HistoryRange & { room?: string | undefined }): HistoryPage {
    if (request.room !== undefined) return this.room(request.room, request);
    const range = this.#timeRange(request, { operator: true });
    return merged(this.store.query(range), this.#memory.all(range), range);
  }

  #range(range: HistoryRange): PageRange {
    return { before: range.before, after: range.after, limit: Math.min(range.limit ?? 50, this.maxPage) };
  }

  /** A range across rooms and conversations: by (ts, id), its cursors placed where their entries stand. */
  #timeRange(range: HistoryRange, reader: Searcher): PageRange {
    const placed = (id: number | undefined, side: 'before' | 'after'): Position | undefined => {
      if (id === undefined) return undefined;
      if (side === 'after' && id === 0) return { ts: Number.MIN_SAFE_INTEGER, id: 0 }; // from the oldest, as within a room
      return this.#position(id, side, reader);
    };
    return { byTime: true, before: placed(range.before, 'before'), after: placed(range.after, 'after'), limit: Math.min(range.limit ?? 50, this.maxPage) };
  }

  /**
   * Where the entry with this id stands in time, for a page across rooms: ids of two rooms do not
   * compare (each room may take them on its own shard). An id the reader cannot read here (not
   * kept on this gateway, gone from a ring, or not the reader's) places nothing: INVALID_MESSAGE.
   */
  #position(id: number, side: 'before' | 'after', reader: Searcher): Position {
    const found = this.store.locate(id) ?? this.#memory.locate(id);
    if (found === undefined || !this.mayRead(reader, found)) {
      throw new ProtocolError(
        'INVALID_MESSAGE',
        `${side}: ${id} is no entry you can read on this gateway; across rooms a page continues from an id of an entry it gave you (PROTOCOL.md §6).`,
      );
    }
    return { ts: found.ts, id };
  }

  writable(): boolean {
    return this.store.writable();
  }

  close(): void {
    this.store.close();
  }
}

/** The ring an entry goes to: its room's, or its conversation's (by the identities of its two sides). */
function ringOf(entry: NewHistoryEntry): RingOwner {
  if (entry.kind !== 'private' && entry.room !== undefined) return { room: entry.room };
  const from = ('fromIdentity' in entry ? entry.fromIdentity : undefined) ?? `name:${entry.from.toLowerCase()}`;
  const to = ('toIdentity' in entry ? entry.toIdentity : undefined) ?? `name:${('to' in entry ? (entry.to ?? '') : '').toLowerCase()}`;
  return { between: [from, to] };
}

/** An entry as `history` sends it, for a ring. */
function memoryEntry(entry: NewHistoryEntry, id: number, ts: number): HistoryEntry {
  const base = { id, ts, from: entry.from, transport: entry.transport };
  switch (entry.kind) {
    case 'message':
      return { kind: 'message', ...base, room: entry.room, text: entry.text, ...(entry.data !== undefined && { data: entry.data }) };
    case 'private':
      return { kind: 'private', ...base, to: entry.to, text: entry.text, ...(entry.data !== undefined && { data: entry.data }) };
    case 'file':
      return {
        kind: 'file',
        ...base,
        name: entry.name,
        size: entry.size,
        mime: entry.mime,
        ...(entry.room !== undefined && { room: entry.room }),
        ...(entry.to !== undefined && { to: entry.to }),
      };
  }
}

/** The bounds of a page as the store and the rings take them. */
interface PageRange {
  byTime?: boolean;
  before?: Cursor | undefined;
  after?: Cursor | undefined;
  limit: number;
}

/** Two pages of one range as one: in the range's order, `limit` of them from the side the range reads from. */
function merged(a: HistoryPage, b: HistoryPage, range: PageRange): HistoryPage {
  if (b.entries.length === 0) return a;
  if (a.entries.length === 0) return b;
  const all = [...a.entries, ...b.entries].sort((x, y) => compareEntries(x, y, range.byTime));
  const ascending = range.after !== undefined && range.before === undefined;
  const entries = ascending ? all.slice(0, range.limit) : all.slice(Math.max(0, all.length - range.limit));
  return { entries, more: a.more || b.more || all.length > range.limit };
}
