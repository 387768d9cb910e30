import type Database from 'better-sqlite3';
import { openDatabase } from '../sqlite-file.js';
import { BACKSTOP_AUTOCHECKPOINT_PAGES, WalCheckpointer } from './wal-checkpointer.js';
import type { HistoryEntry, Transport } from '@switchboard/protocol';
import type { Cursor, HistoryPage, HistoryQuery, HistoryStore, Located, NewHistoryEntry, SearchQuery } from './history-store.js';

interface Row {
  id: number;
  kind: 'message' | 'private' | 'file';
  ts: number;
  room: string | null;
  sender: string;
  recipient: string | null;
  transport: Transport;
  text: string | null;
  file_name: string | null;
  file_size: number | null;
  file_mime: string | null;
  file_sha256: string | null;
  data: string | null;
}

/**
 * Ids given to entries kept elsewhere (memory, none) are reserved in blocks of this many: one
 * small write per block, not per message. A restart starts after the block, so ids skip at most
 * this many and never repeat.
 */
export const ID_RESERVE_BLOCK = 10_000;

/**
 * The history database's page cache. Appends write the ends of the table and its indexes, and
 * readers ask for recent pages: that working set is a few hundred KiB however large the file
 * grows, so 4 MiB keeps it and older pages besides.
 */
export const HISTORY_CACHE_KIB = 4096;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('message', 'private', 'file')),
  ts INTEGER NOT NULL,
  room TEXT,
  sender TEXT NOT NULL,
  sender_key TEXT NOT NULL,
  recipient TEXT,
  recipient_key TEXT,
  transport TEXT NOT NULL,
  text TEXT,
  file_name TEXT,
  file_size INTEGER,
  file_mime TEXT,
  file_sha256 TEXT,
  data TEXT,
  sender_identity TEXT,
  recipient_identity TEXT,
  unindexed INTEGER
);
CREATE INDEX IF NOT EXISTS entries_by_room ON entries (room, id) WHERE room IS NOT NULL;
-- The operator's history across everything, by (ts, id) (an index holds the rowid, id, after its columns).
CREATE INDEX IF NOT EXISTS entries_by_time ON entries (ts);
CREATE TABLE IF NOT EXISTS id_reserved (one INTEGER PRIMARY KEY CHECK (one = 1), up_to INTEGER NOT NULL);
`;

/**
 * Committed rows wait for the identity indexes and the search index in batches of this many
 * (`unindexed` set, in `entries_unindexed`). A commit costs a WAL page per B-tree page it
 * changes: a row's own page and the time index's are the tail's, shared by the whole commit,
 * but each of a private row's two identity index entries lands on its identity's page, so a
 * commit of 64 private rows between 200 members changed some 130 index pages (most of a private
 * row's cost in the bench); and each commit made the search index a new segment to merge later.
 * A batch at a time, each page carries many rows and a segment thousands; in a transaction and
 * a turn of its own, after the flush whose commit completed it (#indexLater). Meanwhile reads by
 * identity also look through the short tail of rows waiting, a search first indexes it, and a
 * start indexes what a crash left waiting: every read sees every committed row.
 *
 * 1,024, not 256: a batch of 256 private rows between 200 members still rewrote most of those
 * index pages (some 400) for 256 rows; 1,024 share them four times as widely (the store alone:
 * 22 -> 15 CPU µs a private row, 15.6 -> 11.5 a room's; the bench at 16,000 private messages
 * a second: 56 -> 44 µs a message, p99 39 -> 30 ms). Not 2,048: a batch runs on the event loop,
 * and one of 2,048 rows (some 30-40 ms) every quarter second at 8,000 private messages a second
 * put the bench's p99 past 50 ms with the core half idle; one of 1,024 takes about 10 ms.
 */
export const INDEX_BATCH = 1024;

/**
 * The rows of one identity (sender or recipient) as `id IN (…)`, four parameters (the identity
 * each time): those in the identity indexes, and the tail still waiting for them. INDEXED BY:
 * the planner, left alone, walks the whole table backwards by id for a page of a quiet identity.
 */
const OF_IDENTITY = `id IN (SELECT id FROM entries INDEXED BY private_by_sender WHERE sender_identity = ? AND unindexed IS NULL
  UNION ALL SELECT id FROM entries INDEXED BY private_by_recipient WHERE recipient_identity = ? AND unindexed IS NULL
  UNION ALL SELECT id FROM entries INDEXED BY entries_unindexed WHERE unindexed IS NOT NULL AND (sender_identity = ? OR recipient_identity = ?))`;

/** Characters of a message's text the search index takes: the words of a chat line, not a device's megabytes. */
export const SEARCH_INDEXED_CHARS = 4096;

/**
 * Full-text search (docs/chat.md, "Search"): an FTS5 index over message texts and file names, written
 * in batches (INDEX_BATCH) and before every search, so a message is found as soon as it is
 * acknowledged. Contentless: the texts stay in `entries` only (hits are read from there by rowid).
 * Indexed: the first SEARCH_INDEXED_CHARS characters of a text; not the text of a message sent as
 * bytes (`data`: a device's binary, whose text is only its display). Diacritics are folded (cafe finds café).
 *
 * Not by a trigger, as before: a trigger gives each INSERT statement a savepoint, at which FTS5
 * writes what it has gathered as a new segment, so every few rows became a segment to merge
 * later (about half of a private message's cost in the bench, whatever the commit's size).
 * One INSERT … SELECT makes a whole batch one segment.
 */
const SEARCH_INDEXED = (row: string): string => `CASE WHEN ${row}.data IS NULL THEN substr(${row}.text, 1, ${SEARCH_INDEXED_CHARS}) END, ${row}.file_name`;
const SEARCH_SCHEMA = `CREATE VIRTUAL TABLE entries_search USING fts5(text, file_name, content='', tokenize='unicode61 remove_diacritics 2');`;
const INSERT_ENTRY = `INSERT OR IGNORE INTO entries (id, kind, ts, room, sender, sender_key, recipient, recipient_key, transport, text, file_name, file_size, file_mime, data, sender_identity, recipient_identity, unindexed)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`;
/** The rows waiting (INDEX_BATCH) join the search index, and then (no longer `unindexed`) the identity indexes. */
const INDEX_WAITING = `INSERT INTO entries_search (rowid, text, file_name) SELECT id, ${SEARCH_INDEXED('entries')} FROM entries INDEXED BY entries_unindexed WHERE unindexed IS NOT NULL;
  UPDATE entries SET unindexed = NULL WHERE unindexed IS NOT NULL;`;

/**
 * History in SQLite (WAL). Appends are queued and written in one transaction per flush, which
 * the hub runs once per event-loop turn before sockets are written: one commit for many
 * messages, and no acknowledgement leaves before its message is stored. The WAL is
 * checkpointed by a worker thread (WalCheckpointer), not inside those commits.
 */
export class SqliteHistoryStore implements HistoryStore {
  readonly #db: Database.Database;
  readonly #complete: Database.Statement;
  readonly #insertMany: (rows: unknown[][]) => void;
  #pending: unknown[][] = [];
  readonly #lastIdAtOpen: number;
  /** Ids up to this are reserved (ID_RESERVE_BLOCK); `#reserve` is the new mark the next flush writes. */
  #reservedUpTo: number;
  #reserve: number | undefined;
  readonly #writeReserve: Database.Statement;
  #checkpointer: WalCheckpointer | undefined;
  /** Committed rows waiting for the identity and search indexes (INDEX_BATCH). */
  #unindexed = 0;
  readonly #indexWaiting: () => void;
  /** A batch is complete and its indexing comes in a turn of its own (#indexLater). */
  #indexScheduled = false;

  /**
   * `dataDir` null keeps history in memory for the life of the process. `synchronous`
   * (--history-sync): `normal` survives a process crash, `full` a power loss too (docs/operations.md).
   */
  constructor(dataDir: string | null, options: { synchronous?: 'normal' | 'full' } = {}) {
    this.#db = openDatabase(dataDir, 'history.sqlite', HISTORY_CACHE_KIB, options.synchronous);
    this.#db.exec(SCHEMA);
    // Databases from before byte-exact messages: the column is added once, empty.
    const columns = this.#db.prepare('PRAGMA table_info(entries)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'data')) this.#db.exec('ALTER TABLE entries ADD COLUMN data TEXT');
    // Private entries from before identities belong to nobody: only an operator reads them.
    for (const column of ['sender_identity', 'recipient_identity']) {
      if (!columns.some((c) => c.name === column)) this.#db.exec(`ALTER TABLE entries ADD COLUMN ${column} TEXT`);
    }
    if (!columns.some((c) => c.name === 'unindexed')) this.#db.exec('ALTER TABLE entries ADD COLUMN unindexed INTEGER');
    // Private history is read by identity: these indexes, written in batches (INDEX_BATCH), and the
    // tail waiting for them. They replace the indexes of older databases that took each row at
    // once (rebuilt once, on the first start), and the name-keyed ones that served no query.
    this.#db.exec(`DROP INDEX IF EXISTS entries_by_sender_identity; DROP INDEX IF EXISTS entries_by_recipient_identity;
      DROP INDEX IF EXISTS entries_by_recipient; DROP INDEX IF EXISTS entries_by_sender;
      CREATE INDEX IF NOT EXISTS private_by_sender ON entries (sender_identity, id) WHERE sender_identity IS NOT NULL AND unindexed IS NULL;
      CREATE INDEX IF NOT EXISTS private_by_recipient ON entries (recipient_identity, id) WHERE recipient_identity IS NOT NULL AND unindexed IS NULL;
      CREATE INDEX IF NOT EXISTS entries_unindexed ON entries (id) WHERE unindexed IS NOT NULL;`);
    this.#createSearchIndex();
    // What a stop left waiting is indexed now: the tail starts empty.
    this.#indexWaiting = this.#db.transaction(() => {
      this.#db.exec(INDEX_WAITING);
      this.#unindexed = 0;
    });
    this.#indexWaiting();
    // Databases from before: the index is written by flush(), no longer by a trigger.
    this.#db.exec('DROP TRIGGER IF EXISTS entries_search_insert');
    this.#complete = this.#db.prepare('UPDATE entries SET file_sha256 = ? WHERE id = ?');
    // Statements prepared once; one run per row (a multi-row INSERT measured no cheaper). A row
    // already there (a replicated entry seen twice) is ignored, and so not indexed twice.
    const insertEntry = this.#db.prepare(INSERT_ENTRY);
    this.#insertMany = this.#db.transaction((rows: unknown[][]) => {
      for (const row of rows) this.#unindexed += insertEntry.run(row).changes;
      if (this.#reserve !== undefined) this.#writeReserve.run(this.#reserve);
      this.#reserve = undefined;
    });
    const max = this.#db.prepare('SELECT MAX(id) AS max FROM entries').get() as { max: number | null };
    const reserved = this.#db.prepare('SELECT up_to FROM id_reserved').get() as { up_to: number } | undefined;
    this.#reservedUpTo = reserved?.up_to ?? 0;
    this.#lastIdAtOpen = Math.max(max.max ?? 0, this.#reservedUpTo);
    this.#writeReserve = this.#db.prepare('INSERT OR REPLACE INTO id_reserved (one, up_to) VALUES (1, ?)');
    if (dataDir !== null) {
      // Checkpoints off the event loop; should the worker fail, the writer checkpoints itself again, as by default.
      this.#db.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
      this.#checkpointer = new WalCheckpointer(this.#db.name, () => {
        if (this.#db.open) this.#db.pragma('wal_autocheckpoint = 1000');
      });
    }
  }

  lastId(): number {
    return this.#lastIdAtOpen;
  }

  idUsed(id: number): void {
    if (id <= this.#reservedUpTo) return;
    this.#reservedUpTo = id + ID_RESERVE_BLOCK;
    this.#reserve = this.#reservedUpTo;
  }

  /** What SQLite was told for its syncs: 1 NORMAL, 2 FULL (for the tests of --history-sync). */
  synchronous(): number {
    return this.#db.pragma('synchronous', { simple: true }) as number;
  }

  /** The search index, built once from what a database from before it already holds (rows waiting included: none wait after it). */
  #createSearchIndex(): void {
    const exists = this.#db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'entries_search'").get() !== undefined;
    if (exists) return;
    this.#db.transaction(() => {
      this.#db.exec(SEARCH_SCHEMA);
      this.#db.exec(`INSERT INTO entries_search (rowid, text, file_name) SELECT id, ${SEARCH_INDEXED('entries')} FROM entries;
        UPDATE entries SET unindexed = NULL WHERE unindexed IS NOT NULL;`);
    })();
  }

  search(q: SearchQuery): HistoryPage {
    this.flush();
    // Found as soon as acknowledged: what waits for its batch is indexed now.
    if (this.#unindexed > 0) this.#indexWaiting();
    if (q.words.length === 0) return { entries: [], more: false };
    // Each word a quoted prefix ("word"*): what the searcher typed is never FTS5 syntax.
    const match = q.words.map((word) => `"${word.replaceAll('"', '""')}"*`).join(' ');
    const where = ['entries_search MATCH ?'];
    const params: unknown[] = [match];
    if (q.room !== undefined) {
      where.push('e.room = ?');
      params.push(q.room);
    }
    if (q.scope !== 'everything') {
      if (q.scope.privateOf === null) where.push('e.room IS NOT NULL');
      else {
        where.push('(e.room IS NOT NULL OR (e.recipient_key IS NOT NULL AND (e.sender_identity = ? OR e.recipient_identity = ?)))');
        params.push(q.scope.privateOf, q.scope.privateOf);
      }
    }
    if (q.before !== undefined) {
      const [clause, values] = this.#bound(q.before, '<', q.byTime, 'e.ts', 'e.id');
      where.push(clause);
      params.push(...values);
    }
    // Hits are sorted whichever the order (the FTS index gives them by rowid, then each is read by it).
    const sql = `SELECT e.id, e.kind, e.ts, e.room, e.sender, e.recipient, e.transport, e.text, e.file_name, e.file_size, e.file_mime, e.file_sha256, e.data
      FROM entries_search JOIN entries e ON e.id = entries_search.rowid
      WHERE ${where.join(' AND ')} ORDER BY ${q.byTime === true ? 'e.ts DESC, e.id DESC' : 'e.id DESC'} LIMIT ?`;
    const rows = this.#query(sql).all(...params, q.limit + 1) as Row[];
    const more = rows.length > q.limit;
    if (more) rows.pop();
    return { entries: rows.map(toEntry), more };
  }

  append(entry: NewHistoryEntry, id: number, ts: number): void {
    const room = entry.kind === 'private' ? null : (entry.room ?? null);
    const to = entry.kind === 'message' ? null : (entry.to ?? null);
    this.#pending.push([
      id,
      entry.kind,
      ts,
      room,
      entry.from,
      entry.from.toLowerCase(),
      to,
      to?.toLowerCase() ?? null,
      entry.transport,
      entry.kind === 'file' ? null : entry.text,
      entry.kind === 'file' ? entry.name : null,
      entry.kind === 'file' ? entry.size : null,
      entry.kind === 'file' ? entry.mime : null,
      entry.kind === 'file' ? null : (entry.data ?? null),
      entry.kind === 'message' ? null : (entry.fromIdentity ?? null),
      entry.kind === 'message' ? null : (entry.toIdentity ?? null),
    ]);
  }

  completeFile(id: number, sha256: string): void {
    this.flush();
    this.#complete.run(sha256, id);
  }

  flush(): void {
    if (this.#pending.length === 0 && this.#reserve === undefined) return;
    const rows = this.#pending;
    this.#pending = [];
    try {
      this.#insertMany(rows);
    } catch (error) {
      // Rolled back (a lock held past the busy timeout, a full disk): the rows wait for the next try, in order.
      this.#pending = rows.concat(this.#pending);
      throw error;
    }
    if (this.#unindexed >= INDEX_BATCH && !this.#indexScheduled) {
      this.#indexScheduled = true;
      setImmediate(this.#indexLater);
    }
  }

  /**
   * A complete batch is indexed in a transaction of its own, in the turn after the commit that
   * completed it: the gateway runs the commit just before it writes the messages it stored, and
   * the batch (some 10 µs a row) inside that commit held back the writes of the whole flush.
   */
  readonly #indexLater = (): void => {
    this.#indexScheduled = false;
    // Closed meanwhile (the next start indexes them), or a search indexed them first.
    if (!this.#db.open || this.#unindexed < INDEX_BATCH) return;
    try {
      this.#indexWaiting();
    } catch {
      // Rolled back: the rows stay in the tail, where every read finds them, and the next
      // commit tries the batch again (a failure that lasts, a full disk, fails that commit too).
    }
  };

  query(q: HistoryQuery): HistoryPage {
    this.flush();
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.room !== undefined) {
      where.push('room = ?');
      params.push(q.room);
    } else if (q.viewer !== undefined) {
      const me = q.viewer.identity;
      const rooms = q.viewer.rooms;
      const roomClause = rooms.length > 0 ? `room IN (${rooms.map(() => '?').join(',')}) OR ` : '';
      where.push(`(${roomClause}(recipient_key IS NOT NULL AND ${OF_IDENTITY}))`);
      params.push(...rooms, me, me, me, me);
    } else if (q.privateOf !== undefined) {
      const me = q.privateOf.identity;
      if (q.privateOf.peer === undefined) {
        where.push(`recipient_key IS NOT NULL AND ${OF_IDENTITY}`);
        params.push(me, me, me, me);
      } else {
        // Mine, with whoever goes by that name: my side by identity, theirs by name.
        const peer = q.privateOf.peer.toLowerCase();
        where.push(`${OF_IDENTITY} AND ((sender_identity = ? AND recipient_key = ?) OR (recipient_identity = ? AND sender_key = ?))`);
        params.push(me, me, me, me, me, peer, me, peer);
      }
    }
    const ascending = q.after !== undefined && q.before === undefined;
    // Across logs by (ts, id). A viewer's rooms and identity narrow the rows through their own
    // indexes and the page is sorted (`+ts` keeps the planner off entries_by_time, which would
    // walk every room's rows for a quiet viewer); everything (an operator) walks entries_by_time.
    const ts = where.length > 0 ? '+ts' : 'ts';
    for (const [cursor, op] of [
      [q.before, '<'],
      [q.after, '>'],
    ] as const) {
      if (cursor === undefined) continue;
      const [clause, values] = this.#bound(cursor, op, q.byTime, ts, 'id');
      where.push(clause);
      params.push(...values);
    }
    const direction = ascending ? 'ASC' : 'DESC';
    const sql = `SELECT id, kind, ts, room, sender, recipient, transport, text, file_name, file_size, file_mime, file_sha256, data
      FROM entries ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${q.byTime === true ? `${ts} ${direction}, id ${direction}` : `id ${direction}`} LIMIT ?`;
    const rows = this.#query(sql).all(...params, q.limit + 1) as Row[];
    const more = rows.length > q.limit;
    if (more) rows.pop();
    if (!ascending) rows.reverse();
    return { entries: rows.map(toEntry), more };
  }

  /** A page's bound as SQL: by id, or across logs by (ts, id) (a bare id is placed by its entry's ts first). */
  #bound(cursor: Cursor, op: '<' | '>', byTime: boolean | undefined, ts: string, id: string): [string, unknown[]] {
    if (byTime !== true) return [`${id} ${op} ?`, [typeof cursor === 'number' ? cursor : cursor.id]];
    const at = typeof cursor === 'number' ? { id: cursor, ts: this.locate(cursor)?.ts } : cursor;
    if (at.ts === undefined) throw new Error(`No entry ${at.id} to place a page by.`);
    return [`(${ts}, ${id}) ${op} (?, ?)`, [at.ts, at.id]];
  }

  locate(id: number): Located | undefined {
    this.flush();
    const row = this.#query('SELECT ts, room, sender_identity, recipient_identity FROM entries WHERE id = ?').get(id) as
      { ts: number; room: string | null; sender_identity: string | null; recipient_identity: string | null } | undefined;
    return row && { ts: row.ts, room: row.room, fromIdentity: row.sender_identity, toIdentity: row.recipient_identity };
  }

  #queries = new Map<string, Database.Statement>();
  #query(sql: string): Database.Statement {
    let statement = this.#queries.get(sql);
    if (statement === undefined) {
      // Few shapes exist (room or viewer, before/after, number of rooms); bound the cache anyway.
      if (this.#queries.size > 256) this.#queries.clear();
      statement = this.#db.prepare(sql);
      this.#queries.set(sql, statement);
    }
    return statement;
  }

  writable(): boolean {
    try {
      // Takes the write lock and lets go: fails on a read-only or vanished database.
      this.#db.exec('BEGIN IMMEDIATE; ROLLBACK');
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.flush();
    this.#checkpointer?.close();
    this.#db.close();
  }
}

function toEntry(row: Row): HistoryEntry {
  const base = { id: row.id, ts: row.ts, from: row.sender, transport: row.transport };
  switch (row.kind) {
    case 'message':
      return { kind: 'message', ...base, room: row.room ?? '', text: row.text ?? '', ...(row.data !== null && { data: row.data }) };
    case 'private':
      return { kind: 'private', ...base, to: row.recipient ?? '', text: row.text ?? '', ...(row.data !== null && { data: row.data }) };
    case 'file': {
      const entry: HistoryEntry = {
        kind: 'file',
        ...base,
        name: row.file_name ?? '',
        size: row.file_size ?? 0,
        mime: row.file_mime ?? 'application/octet-stream',
      };
      if (row.room !== null) entry.room = row.room;
      if (row.recipient !== null) entry.to = row.recipient;
      if (row.file_sha256 !== null) entry.sha256 = row.file_sha256;
      return entry;
    }
  }
}
