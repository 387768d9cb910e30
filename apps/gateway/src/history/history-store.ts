import type { HistoryEntry, Transport } from '@switchboard/protocol';

export type NewHistoryEntry =
  | { kind: 'message'; room: string; from: string; transport: Transport; text: string; data?: string | undefined }
  | {
      kind: 'private';
      from: string;
      to: string;
      transport: Transport;
      text: string;
      data?: string | undefined;
      /** Whose conversation it is: the identities of both sides (names can be taken over). */
      fromIdentity: string;
      toIdentity: string;
    }
  | {
      kind: 'file';
      from: string;
      transport: Transport;
      name: string;
      size: number;
      mime: string;
      room?: string | undefined;
      to?: string | undefined;
      fromIdentity?: string | undefined;
      toIdentity?: string | undefined;
    };

/** Who is asking, for queries over "everything I can see": their rooms and their private messages. */
export interface HistoryViewer {
  identity: string;
  rooms: readonly string[];
}

/** One identity's private entries (messages and files sent privately), or only those with the member named `peer`. */
export interface PrivateScope {
  identity: string;
  peer?: string | undefined;
}

/**
 * Where an entry stands among the entries of several rooms and conversations: by time, then id.
 * Ids increase within one room or conversation only (each may take them on its own Redis shard),
 * so a page across logs is ordered, and continued, by position.
 */
export interface Position {
  ts: number;
  id: number;
}

/** A page's bound: an id within one log, a position across logs (`byTime`). */
export type Cursor = number | Position;

/** What a cursor id names, enough to place it and to tell who may read it. */
export interface Located {
  ts: number;
  room: string | null;
  fromIdentity: string | null;
  toIdentity: string | null;
}

export interface HistoryQuery {
  room?: string | undefined;
  viewer?: HistoryViewer | undefined;
  privateOf?: PrivateScope | undefined;
  /** Ordered by (ts, id) instead of id: for queries over several rooms or conversations. */
  byTime?: boolean | undefined;
  /** Entries before it, newest `limit` of them. */
  before?: Cursor | undefined;
  /** Entries after it, oldest `limit` of them. */
  after?: Cursor | undefined;
  limit: number;
}

/**
 * A full-text search (SQLite FTS5) over message texts and file names. `scope` says whose
 * entries may match: every entry (an operator), room entries only (`privateOf: null`), or room
 * entries and one identity's private ones. Newest first.
 */
export interface SearchQuery {
  /** Words to find (each as a prefix); all of them must occur. */
  words: readonly string[];
  room?: string | undefined;
  scope: 'everything' | { privateOf: string | null };
  /** Ordered by (ts, id) instead of id: a search across rooms. */
  byTime?: boolean | undefined;
  /** Hits before it (the next page). */
  before?: Cursor | undefined;
  limit: number;
}

export interface HistoryPage {
  /** Oldest first. */
  entries: HistoryEntry[];
  /** More entries exist beyond this page in the direction asked. */
  more: boolean;
}

/**
 * Where messages are kept. Ids come from the cluster's allocator (history-service.ts); the
 * write itself may be batched until flush(), which the gateway runs before it lets any
 * acknowledgement reach a socket. Visibility rules are not here: HistoryService holds them.
 */
export interface HistoryStore {
  append(entry: NewHistoryEntry, id: number, ts: number): void;
  /** The highest id stored or reserved (0 when empty), so ids go on increasing after a restart. */
  lastId(): number;
  /**
   * An id given to an entry this store does not keep (a `memory` or `none` room): lastId()
   * after a restart must still be at or above it.
   */
  idUsed(id: number): void;
  completeFile(id: number, sha256: string): void;
  /** The entry with this id, if kept here: where it stands in time and whose it is. */
  locate(id: number): Located | undefined;
  query(query: HistoryQuery): HistoryPage;
  /** Newest first; `more` when older hits exist. */
  search(query: SearchQuery): HistoryPage;
  /** Commit everything appended so far. */
  flush(): void;
  /** Whether a write can be committed now (readiness: disk full, file gone, read-only). */
  writable(): boolean;
  close(): void;
}
