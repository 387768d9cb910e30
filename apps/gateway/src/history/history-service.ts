import { ProtocolError, isValidName, type ClientMessageOf } from '@switchboard/protocol';
import type { LogRecord, MessageLog } from '../cluster/cluster.js';
import { OPEN_ROOM, admits, roomForbidden, type RoomAccess, type RoomVisitor } from '../hub/room-access.js';
import type { HistoryPage, HistoryStore, NewHistoryEntry } from './history-store.js';

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
 *   restricted (hub/room-access.ts);
 * - private messages and private files only by their sender and recipient, by identity: an
 *   account's by whoever signs in as it, a guest's by the holder of its token (a later guest who
 *   takes the freed name sees none of it), and by an operator;
 * - history across all rooms and private conversations at once only by an operator.
 * Limits are clamped to `maxPage`.
 */
export class HistoryService {
  /** A room's access setting (the hub points it at the identity store's). */
  roomAccess: (room: string) => RoomAccess = () => OPEN_ROOM;

  constructor(
    private readonly store: HistoryStore,
    private readonly log: MessageLog,
    readonly maxPage: number,
    /** Makes sure a commit comes this turn, also when nobody is sent anything. */
    private readonly scheduleCommit: () => void,
  ) {
    // What other nodes logged joins this node's replica, so every node reads the whole history.
    log.follow((record) => this.#replicate(record));
  }

  /**
   * Logs an entry under a new id (through the cluster: at once in process, a promise over
   * Redis) and stores it, committed this turn and before the next socket write.
   */
  record<E extends NewHistoryEntry>(entry: E, ts: number): Recorded<E> | Promise<Recorded<E>> {
    const id = this.log.append(entry, ts);
    return typeof id === 'number' ? this.#store(entry, id, ts) : id.then((id) => this.#store(entry, id, ts));
  }

  #store<E extends NewHistoryEntry>(entry: E, id: number, ts: number): Recorded<E> {
    this.store.append(entry, id, ts);
    this.scheduleCommit();
    return { ...entry, id, ts };
  }

  #replicate(record: LogRecord): void {
    if ('sha256' in record) this.store.completeFile(record.id, record.sha256);
    else this.#store(record.entry, record.id, record.ts);
  }

  completeFile(id: number, sha256: string): void {
    this.store.completeFile(id, sha256);
    this.log.completeFile(id, sha256);
  }

  /** Commits what was recorded (the gateway runs it before writing to any socket). */
  flush(): void {
    this.store.flush();
  }

  /** A room's history for a reader who may not yet have been admitted to it: ROOM_FORBIDDEN unless the room admits it. */
  roomFor(visitor: RoomVisitor, room: string, range: HistoryRange): HistoryPage {
    if (isValidName(room)) {
      const setting = this.roomAccess(room);
      if (!admits(setting, visitor)) throw roomForbidden(room, setting, 'read its history');
    }
    return this.room(room, range);
  }

  /** A room's history, for a member already admitted to it, or an operator. */
  room(room: string, range: HistoryRange): HistoryPage {
    if (!isValidName(room)) throw new ProtocolError('ROOM_INVALID', `"${room}" is not a valid room name.`);
    return this.store.query({ room, ...this.#range(range) });
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
    const range = this.#range(request);
    if (privately) return this.store.query({ privateOf: { identity: reader.identity, peer: request.with }, ...range });
    return this.store.query({ viewer: reader, ...range });
  }

  /** Everything, or one room: the operator's view (REST with admin rights). */
  forOperator(request: HistoryRange & { room?: string | undefined }): HistoryPage {
    if (request.room !== undefined) return this.room(request.room, request);
    return this.store.query(this.#range(request));
  }

  #range(range: HistoryRange): { before?: number | undefined; after?: number | undefined; limit: number } {
    return { before: range.before, after: range.after, limit: Math.min(range.limit ?? 50, this.maxPage) };
  }

  writable(): boolean {
    return this.store.writable();
  }

  close(): void {
    this.store.close();
  }
}
