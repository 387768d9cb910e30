import { createWriteStream, mkdirSync, readdirSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../sqlite-file.js';

/** What the gateway keeps of a file: the bytes in `<data-dir>/files/<id>`, this in files.sqlite. */
export interface StoredFile {
  /** The file's history id (its file-offer's `id`). */
  id: number;
  name: string;
  size: number;
  mime: string;
  sha256: string;
  from: string;
  ts: number;
  room: string | null;
  to: string | null;
  fromIdentity: string | null;
  toIdentity: string | null;
}

export type NewStoredFile = Omit<StoredFile, 'sha256'>;

export interface FileStoreLimits {
  /** Largest file kept. */
  maxFileBytes: number;
  /** Bytes kept per room (files sent privately count towards the total only). */
  maxRoomBytes: number;
  maxTotalBytes: number;
  /** How long a file is kept; 0 keeps files until the limits push them out. */
  retentionMs: number;
}

/** Who may see which files: the caller decides (HistoryService's rules), the store only filters by identity. */
export type FileScope = 'everything' | { privateOf: string | null };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  size INTEGER NOT NULL,
  mime TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  sender TEXT NOT NULL,
  ts INTEGER NOT NULL,
  room TEXT,
  recipient TEXT,
  sender_identity TEXT,
  recipient_identity TEXT
);
CREATE INDEX IF NOT EXISTS files_by_room ON files (room, id) WHERE room IS NOT NULL;
`;

interface Row {
  id: number;
  name: string;
  size: number;
  mime: string;
  sha256: string;
  sender: string;
  ts: number;
  room: string | null;
  recipient: string | null;
  sender_identity: string | null;
  recipient_identity: string | null;
}

const toStored = (r: Row): StoredFile => ({
  id: r.id,
  name: r.name,
  size: r.size,
  mime: r.mime,
  sha256: r.sha256,
  from: r.sender,
  ts: r.ts,
  room: r.room,
  to: r.recipient,
  fromIdentity: r.sender_identity,
  toIdentity: r.recipient_identity,
});

/** How often files past the retention period are removed. */
const PRUNE_EVERY_MS = 3_600_000;

/**
 * Files kept for later (docs/chat.md, "Files kept"): the relay writes a transfer's bytes here as they
 * pass, and only a transfer that completed with the SHA-256 its sender announced is kept (the
 * relay checks it); the rest is deleted. Past the per-room or total limit the oldest files go
 * first; past the retention period they go too.
 */
export class FileStore {
  readonly #dir: string;
  readonly #db: Database.Database;
  readonly #limits: FileStoreLimits;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  readonly #writers = new Set<FileWriter>();

  constructor(dataDir: string, limits: FileStoreLimits, now: () => number = Date.now) {
    this.#dir = join(dataDir, 'files');
    mkdirSync(this.#dir, { recursive: true });
    this.#db = openDatabase(dataDir, 'files.sqlite', 512);
    this.#db.exec(SCHEMA);
    this.#limits = limits;
    this.#now = now;
    // Parts of transfers cut short by a stop, and files whose row never got written.
    const kept = new Set((this.#db.prepare('SELECT id FROM files').all() as { id: number }[]).map((r) => String(r.id)));
    for (const entry of readdirSync(this.#dir)) if (!kept.has(entry)) rmSync(join(this.#dir, entry), { force: true });
    this.prune();
    this.#timer = setInterval(() => this.prune(), PRUNE_EVERY_MS).unref();
  }

  get limits(): FileStoreLimits {
    return this.#limits;
  }

  /** Starts keeping a file as it arrives; null when it is larger than a limit lets it be. */
  begin(file: NewStoredFile): FileWriter | null {
    const { maxFileBytes, maxRoomBytes, maxTotalBytes } = this.#limits;
    if (file.size > maxFileBytes || file.size > maxTotalBytes || (file.room !== null && file.size > maxRoomBytes)) return null;
    const writer = new FileWriter(this, file, join(this.#dir, `${file.id}.part`), () => this.#writers.delete(writer));
    this.#writers.add(writer);
    return writer;
  }

  /** The writer finished: the file is kept under its id, and older files make room for it. */
  keep(file: StoredFile, part: string): void {
    renameSync(part, this.path(file.id));
    this.#db
      .prepare(
        'INSERT OR REPLACE INTO files (id, name, size, mime, sha256, sender, ts, room, recipient, sender_identity, recipient_identity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(file.id, file.name, file.size, file.mime, file.sha256, file.from, file.ts, file.room, file.to, file.fromIdentity, file.toIdentity);
    if (file.room !== null) this.#evict('WHERE room = ?', [file.room], this.#limits.maxRoomBytes);
    this.#evict('', [], this.#limits.maxTotalBytes);
  }

  /** Removes the oldest files of the set until its bytes fit in `max`. */
  #evict(where: string, params: unknown[], max: number): void {
    const { total } = this.#db.prepare(`SELECT COALESCE(SUM(size), 0) AS total FROM files ${where}`).get(...params) as { total: number };
    let over = total - max;
    if (over <= 0) return;
    for (const row of this.#db.prepare(`SELECT id, size FROM files ${where} ORDER BY id ASC`).iterate(...params) as IterableIterator<{
      id: number;
      size: number;
    }>) {
      if (over <= 0) break;
      this.#forget.push(row.id);
      over -= row.size;
    }
    this.#removeForgotten();
  }

  #forget: number[] = [];
  #removeForgotten(): void {
    const ids = this.#forget;
    this.#forget = [];
    const remove = this.#db.prepare('DELETE FROM files WHERE id = ?');
    for (const id of ids) {
      remove.run(id);
      rmSync(this.path(id), { force: true });
    }
  }

  /** Removes files older than the retention period. */
  prune(): void {
    if (this.#limits.retentionMs <= 0) return;
    const before = this.#now() - this.#limits.retentionMs;
    this.#forget.push(...(this.#db.prepare('SELECT id FROM files WHERE ts < ?').all(before) as { id: number }[]).map((r) => r.id));
    this.#removeForgotten();
  }

  path(id: number): string {
    return join(this.#dir, String(id));
  }

  get(id: number): StoredFile | undefined {
    const row = this.#db.prepare('SELECT * FROM files WHERE id = ?').get(id) as Row | undefined;
    if (row === undefined) return undefined;
    // A file removed from the folder by hand is not there to give.
    try {
      if (statSync(this.path(id)).size !== row.size) return undefined;
    } catch {
      return undefined;
    }
    return toStored(row);
  }

  /** Kept files within `scope`, newest first. */
  list(query: { scope: FileScope; room?: string | undefined; before?: number | undefined; limit: number }): { files: StoredFile[]; more: boolean } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.room !== undefined) {
      where.push('room = ?');
      params.push(query.room);
    }
    if (query.scope !== 'everything') {
      if (query.scope.privateOf === null) where.push('room IS NOT NULL');
      else {
        where.push('(room IS NOT NULL OR sender_identity = ? OR recipient_identity = ?)');
        params.push(query.scope.privateOf, query.scope.privateOf);
      }
    }
    if (query.before !== undefined) {
      where.push('id < ?');
      params.push(query.before);
    }
    const rows = this.#db
      .prepare(`SELECT * FROM files ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`)
      .all(...params, query.limit + 1) as Row[];
    const more = rows.length > query.limit;
    if (more) rows.pop();
    return { files: rows.map(toStored), more };
  }

  close(): void {
    clearInterval(this.#timer);
    for (const writer of [...this.#writers]) writer.abort();
    this.#db.close();
  }
}

/** One file being written as its transfer passes through the relay. */
export class FileWriter {
  readonly #stream: WriteStream;
  #failed = false;

  constructor(
    private readonly store: FileStore,
    private readonly file: NewStoredFile,
    private readonly part: string,
    private readonly done: () => void,
  ) {
    this.#stream = createWriteStream(part);
    // A full disk or a vanished folder loses this copy, never the transfer itself.
    this.#stream.on('error', () => {
      this.#failed = true;
    });
  }

  write(chunk: Uint8Array): void {
    if (this.#failed) return;
    // A copy: the chunk is a view into a socket read the decoder hands on.
    this.#stream.write(Buffer.from(chunk));
  }

  /** The relay checked the bytes against the sender's SHA-256: keep them once they are on disk. */
  complete(sha256: string, onKept: (error?: Error) => void = () => {}): void {
    this.#stream.end(() => {
      this.done();
      if (this.#failed) {
        rmSync(this.part, { force: true });
        onKept(new Error('the file could not be written'));
        return;
      }
      try {
        this.store.keep({ ...this.file, sha256 }, this.part);
        onKept();
      } catch (error) {
        rmSync(this.part, { force: true });
        onKept(error as Error);
      }
    });
  }

  /** The transfer failed or was stopped: nothing is kept. */
  abort(): void {
    this.done();
    // Once closed: a stream destroyed before it opened still creates its file.
    this.#stream.once('close', () => rmSync(this.part, { force: true }));
    this.#stream.destroy();
  }
}
