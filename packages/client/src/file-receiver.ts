import { createHash, type Hash } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import type { ErrorCode, ServerMessageOf } from '@switchboard/protocol';
import type { ClientErrorCode } from './client-errors.js';
import { createUniqueFile } from './safe-file-name.js';

export type FileOfferMessage = ServerMessageOf<'file-offer'>;

export interface FileProgress {
  /** The server's transfer id (from its file-offer). */
  transfer: number;
  name: string;
  from: string;
  received: number;
  size: number;
}

export interface FileSaved {
  transfer: number;
  /** The name the sender gave: untrusted, for display only. */
  name: string;
  from: string;
  size: number;
  /** Lower-case hex SHA-256 of the bytes received, equal to the one the sender announced. */
  sha256: string;
  /** Where the file was written, or null when the client has no download directory. */
  path: string | null;
}

export interface FileAborted {
  transfer: number;
  name: string;
  from: string;
  /** The server's code from file-abort, or the client's own (FILE_CHECKSUM_MISMATCH, ...). */
  code: ErrorCode | ClientErrorCode;
  reason: string;
}

export interface FileReceiverOptions {
  /** Where files are saved; without it the bytes are checked and dropped. */
  downloadDir?: string | undefined;
  /** Stop reading the socket until the returned function is called (disk backpressure). */
  holdInput: () => () => void;
  onProgress: (progress: FileProgress) => void;
  onSaved: (saved: FileSaved) => void;
  onAborted: (aborted: FileAborted) => void;
}

interface Incoming {
  offer: FileOfferMessage;
  hash: Hash;
  received: number;
  /** Resolves once the .part file is open (or at once without a download directory). */
  opened: Promise<void>;
  tempPath?: string;
  stream?: WriteStream;
  /** Chunks that arrived while the .part file was being opened. */
  early: Uint8Array[];
  /** Set when opening or writing failed; the transfer is then discarded. */
  writeError?: Error;
}

/**
 * Receives the files offered to this client (file-offer, file-data..., file-end, matched by
 * the server's transfer id). Bytes stream to "<name>.part" in the download directory and
 * are hashed as they come, so a file is never held in memory; a slow disk pauses the
 * socket instead. On file-end the SHA-256 decides: rename to a fresh final name, or delete.
 */
export class FileReceiver {
  readonly #options: FileReceiverOptions;
  readonly #transfers = new Map<number, Incoming>();
  // Finishing and cleaning up is asynchronous; close() waits for all of it.
  readonly #work = new Set<Promise<void>>();
  #dirReady: Promise<void> | undefined;

  constructor(options: FileReceiverOptions) {
    this.#options = options;
  }

  /** Transfers currently being received. */
  get active(): number {
    return this.#transfers.size;
  }

  offer(offer: FileOfferMessage): void {
    const previous = this.#transfers.get(offer.transfer);
    if (previous) this.#discard(previous, 'FILE_ABORTED', 'A new offer reused this transfer id.');
    const entry: Incoming = { offer, hash: createHash('sha256'), received: 0, opened: Promise.resolve(), early: [] };
    this.#transfers.set(offer.transfer, entry);
    const dir = this.#options.downloadDir;
    if (dir === undefined) return;
    const release = this.#options.holdInput();
    entry.opened = (async () => {
      this.#dirReady ??= mkdir(dir, { recursive: true }).then(() => undefined);
      await this.#dirReady;
      const file = await createUniqueFile(dir, offer.name, '.part');
      entry.tempPath = file.path;
      const stream = file.handle.createWriteStream();
      entry.stream = stream;
      stream.on('error', (error) => {
        entry.writeError ??= error;
      });
      for (const chunk of entry.early.splice(0)) stream.write(chunk);
    })()
      .catch((error: unknown) => {
        entry.writeError ??= error as Error;
        this.#dirReady = undefined; // The next offer tries to create the directory again.
        if (this.#transfers.get(offer.transfer) === entry) {
          this.#discard(entry, 'FILE_WRITE_FAILED', `Cannot write ${offer.name}: ${messageOf(error)}`);
        }
      })
      .finally(release);
  }

  data(transfer: number, bytes: Uint8Array): void {
    const entry = this.#transfers.get(transfer);
    if (!entry) return; // Not ours, already discarded, or finished: nothing to keep.
    const { offer } = entry;
    if (entry.received + bytes.length > offer.size) {
      this.#discard(entry, 'FILE_SIZE_MISMATCH', `More than the announced ${offer.size} bytes arrived.`);
      return;
    }
    entry.hash.update(bytes);
    entry.received += bytes.length;
    if (entry.stream) {
      if (!entry.stream.write(bytes)) this.#holdUntilDrained(entry.stream);
    } else if (this.#options.downloadDir !== undefined) {
      entry.early.push(bytes);
    }
    this.#options.onProgress({ transfer, name: offer.name, from: offer.from, received: entry.received, size: offer.size });
  }

  end(transfer: number, announcedSha256: string): void {
    const entry = this.#transfers.get(transfer);
    if (!entry) return;
    this.#transfers.delete(transfer);
    const { offer } = entry;
    if (entry.received !== offer.size) {
      this.#cleanUp(entry, 'FILE_SIZE_MISMATCH', `Received ${entry.received} of the announced ${offer.size} bytes.`);
      return;
    }
    const sha256 = entry.hash.digest('hex');
    if (sha256 !== announcedSha256.toLowerCase()) {
      this.#cleanUp(entry, 'FILE_CHECKSUM_MISMATCH', `The SHA-256 of ${offer.name} does not match the one announced.`);
      return;
    }
    this.#track(this.#finish(entry, sha256));
  }

  abort(transfer: number, code: ErrorCode, reason: string): void {
    const entry = this.#transfers.get(transfer);
    if (entry) this.#discard(entry, code, reason);
  }

  /** Discards every unfinished transfer and waits until partial files are deleted. */
  async close(reason: string): Promise<void> {
    for (const entry of [...this.#transfers.values()]) this.#discard(entry, 'FILE_ABORTED', reason);
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
  }

  async #finish(entry: Incoming, sha256: string): Promise<void> {
    const { offer } = entry;
    const dir = this.#options.downloadDir;
    await entry.opened;
    if (dir === undefined) {
      this.#options.onSaved({ transfer: offer.transfer, name: offer.name, from: offer.from, size: offer.size, sha256, path: null });
      return;
    }
    try {
      if (entry.writeError !== undefined || !entry.stream || !entry.tempPath) throw entry.writeError ?? new Error('not open');
      await closeStream(entry.stream);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition, @typescript-eslint/only-throw-error -- the stream's 'error' may set it while it closes
      if (entry.writeError !== undefined) throw entry.writeError;
      // Reserve the final name with O_EXCL, then rename over our own empty placeholder:
      // a file that already exists is never replaced.
      const final = await createUniqueFile(dir, offer.name);
      await final.handle.close();
      await rename(entry.tempPath, final.path);
      this.#options.onSaved({ transfer: offer.transfer, name: offer.name, from: offer.from, size: offer.size, sha256, path: final.path });
    } catch (error) {
      await removeQuietly(entry.tempPath);
      this.#options.onAborted({
        transfer: offer.transfer,
        name: offer.name,
        from: offer.from,
        code: 'FILE_WRITE_FAILED',
        reason: `Cannot save ${offer.name}: ${messageOf(error)}`,
      });
    }
  }

  #discard(entry: Incoming, code: FileAborted['code'], reason: string): void {
    this.#transfers.delete(entry.offer.transfer);
    this.#cleanUp(entry, code, reason);
  }

  /** Closes and deletes the partial file, then reports the abort (so a listener finds it gone). */
  #cleanUp(entry: Incoming, code: FileAborted['code'], reason: string): void {
    const { offer } = entry;
    entry.early = [];
    this.#track(
      (async () => {
        await entry.opened;
        if (entry.stream) await closeStream(entry.stream).catch(() => undefined);
        await removeQuietly(entry.tempPath);
        this.#options.onAborted({ transfer: offer.transfer, name: offer.name, from: offer.from, code, reason });
      })(),
    );
  }

  #holdUntilDrained(stream: WriteStream): void {
    const release = this.#options.holdInput();
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      release();
    };
    stream.on('drain', done);
    stream.on('close', done);
  }

  #track(work: Promise<void>): void {
    const tracked = work.catch(() => undefined).finally(() => this.#work.delete(tracked));
    this.#work.add(tracked);
  }
}

/** Ends the stream and resolves once its file handle is closed. */
function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.closed) {
      resolve();
      return;
    }
    stream.once('close', () => resolve());
    stream.once('error', reject);
    if (stream.writableEnded) {
      if (stream.destroyed) resolve();
      return;
    }
    stream.end();
  });
}

async function removeQuietly(file: string | undefined): Promise<void> {
  if (file !== undefined) await rm(file, { force: true }).catch(() => undefined);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
