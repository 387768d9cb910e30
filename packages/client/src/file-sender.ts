import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { FILE_CHUNK_BYTES, ProtocolError, type ClientMessage, type ServerMessage } from '@switchboard/protocol';
import { checkName, definedOnly } from './arguments.js';
import { ClientError } from './client-errors.js';
import type { FileOfferMessage, SendFileOptions, SentFile } from './client-types.js';
import type { Expected, RefRequest } from './request-tracker.js';

/** What the sender needs from the connection. */
export interface FileLink {
  /** Throws CLOSED unless the connection is open. */
  assertOpen(): void;
  /** Open, and the socket still takes writes (a file-abort can still go out). */
  readonly writable: boolean;
  /** Sends a request with a fresh ref; resolves with its replies, rejects with its error frame. */
  request(kind: string, frame: RefRequest, expects: Expected, signal?: AbortSignal): Promise<ServerMessage[]>;
  /** Writes a frame that gets no reply; false when the socket's buffer is full. */
  write(message: ClientMessage): boolean;
  /** Resolves on the socket's 'drain'; rejects when the connection closes or `signal` aborts. */
  drained(signal: AbortSignal): Promise<void>;
}

/** One file being sent. Cancelling aborts its signal, which ends whatever it is waiting for. */
class OutgoingFile {
  /** From the server's echo of the offer: the id recipients (and the server's file-abort) use. */
  serverTransfer: number | undefined;
  readonly #controller = new AbortController();

  constructor(readonly transfer: number) {}

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  cancel(reason: Error): void {
    if (!this.signal.aborted) this.#controller.abort(reason);
  }

  throwIfCancelled(): void {
    if (this.signal.aborted) throw this.signal.reason as Error;
  }
}

// "Transfer 7: ..." and "No open transfer has id 7.": how error frames caused by file-data
// (which has no ref) name the transfer they are about.
const NAMED_TRANSFER = /\btransfer\b\D{0,16}?(\d+)/i;

/**
 * Sends files (PROTOCOL.md §7): file-offer, then, once the server has echoed the offer (so a
 * refusal such as FILE_TOO_LARGE costs no data), file-data chunks read from disk with
 * backpressure and hashed on the way, then file-end with the SHA-256. Done when the server
 * confirms with its own file-end: it has checked the size and the checksum.
 */
export class FileSender {
  readonly #link: FileLink;
  readonly #outgoing = new Map<number, OutgoingFile>();
  #nextTransfer = 1;

  constructor(link: FileLink) {
    this.#link = link;
  }

  async send(filePath: string, options: SendFileOptions = {}): Promise<SentFile> {
    const link = this.#link;
    link.assertOpen();
    if (options.room !== undefined) checkName(options.room, 'room');
    if (options.to !== undefined) checkName(options.to, 'member name');
    let file: FileHandle;
    try {
      file = await open(filePath, 'r');
    } catch (cause) {
      throw new ClientError('FILE_UNREADABLE', `Cannot read ${filePath}: ${describeFsError(cause)}.`, { cause });
    }
    const outgoing = new OutgoingFile(this.#takeTransferId());
    const { transfer, signal } = outgoing;
    this.#outgoing.set(transfer, outgoing);
    const onCallerAbort = (): void => outgoing.cancel(new ClientError('FILE_CANCELLED', 'The transfer was aborted.'));
    let offered = false;
    try {
      const stat = await file.stat();
      if (!stat.isFile()) throw new ClientError('FILE_UNREADABLE', `${filePath} is not a regular file.`);
      const size = stat.size;
      const name = options.name ?? path.basename(filePath);
      if (options.signal?.aborted) throw new ClientError('FILE_CANCELLED', 'The transfer was aborted before it started.');
      outgoing.throwIfCancelled();
      link.assertOpen();
      options.signal?.addEventListener('abort', onCallerAbort, { once: true });
      offered = true;
      const offerFrame: RefRequest = { type: 'file-offer', transfer, name, size, ...definedOnly({ mime: options.mime, room: options.room, to: options.to }) };
      const [offer] = (await link.request('file-offer', offerFrame, ['file-offer'], signal)) as [FileOfferMessage];
      outgoing.serverTransfer = offer.transfer;
      const wire: FileWire = {
        writeChunk: (id, data) => link.write({ type: 'file-data', transfer: id, data }),
        drained: () => link.drained(signal),
        checkCancelled: () => {
          outgoing.throwIfCancelled();
          link.assertOpen();
        },
      };
      const sha256 = await streamFileChunks(file, size, transfer, wire, options.onProgress);
      // The server answers with its own file-end once size and SHA-256 check out, or with
      // FILE_SIZE_MISMATCH / FILE_CHECKSUM_MISMATCH carrying this request's ref.
      await link.request('file-end', { type: 'file-end', transfer, sha256 }, ['file-end'], signal);
      return { transfer, serverTransfer: offer.transfer, id: offer.id, name, size, sha256 };
    } catch (error) {
      // Tell the server, unless it is the one that ended the transfer or the link is gone.
      if (offered && !(error instanceof ProtocolError) && link.writable) {
        link.write({ type: 'file-abort', transfer, reason: error instanceof Error ? error.message : String(error) });
      }
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', onCallerAbort);
      this.#outgoing.delete(transfer);
      await file.close().catch(() => undefined);
    }
  }

  /**
   * An error frame that answers no waiting request (it has no ref: file-data caused it).
   * When its message names one of our transfers, that transfer ends with it. True if so.
   */
  unattributedError(failure: ProtocolError): boolean {
    const named = NAMED_TRANSFER.exec(failure.message)?.[1];
    const outgoing = named === undefined ? undefined : this.#outgoing.get(Number(named));
    outgoing?.cancel(failure);
    return outgoing !== undefined;
  }

  /** A file-abort from the server: true when it ends one of our transfers (by the server's id). */
  serverAborted(transfer: number, failure: ProtocolError): boolean {
    for (const outgoing of this.#outgoing.values()) {
      if (outgoing.serverTransfer === transfer) {
        outgoing.cancel(failure);
        return true;
      }
    }
    return false;
  }

  /** The connection closed: every transfer ends with `reason`. */
  cancelAll(reason: Error): void {
    for (const outgoing of this.#outgoing.values()) outgoing.cancel(reason);
  }

  #takeTransferId(): number {
    let id = this.#nextTransfer;
    while (this.#outgoing.has(id)) id = (id % 0xffffffff) + 1;
    this.#nextTransfer = (id % 0xffffffff) + 1;
    return id;
  }
}

/** What streaming needs from the connection. */
export interface FileWire {
  /** Writes one file-data frame; false when the socket's buffer is full. */
  writeChunk(transfer: number, data: Uint8Array): boolean;
  /** Resolves on the socket's 'drain'; rejects when the connection or transfer ends first. */
  drained(): Promise<void>;
  /** Throws the reason when the transfer was cancelled (server abort, caller's signal). */
  checkCancelled(): void;
}

/**
 * Streams `size` bytes of an open file as file-data frames of FILE_CHUNK_BYTES, hashing as
 * it goes, and returns the SHA-256 (hex). Honours write()'s return value: nothing more is
 * read from disk until the socket has drained, so a slow link never fills memory.
 */
export async function streamFileChunks(
  file: FileHandle,
  size: number,
  transfer: number,
  wire: FileWire,
  onProgress?: (sent: number, size: number) => void,
): Promise<string> {
  const hash = createHash('sha256');
  // One buffer for the whole file: encoding a frame copies the bytes out of it.
  const buffer = Buffer.allocUnsafe(Math.min(FILE_CHUNK_BYTES, Math.max(size, 1)));
  let sent = 0;
  while (sent < size) {
    wire.checkCancelled();
    const want = Math.min(buffer.length, size - sent);
    const { bytesRead } = await file.read(buffer, 0, want, sent);
    if (bytesRead === 0) {
      throw new ClientError('FILE_CHANGED', `The file shrank while it was being sent (${sent} of ${size} bytes).`);
    }
    const chunk = buffer.subarray(0, bytesRead);
    hash.update(chunk);
    sent += bytesRead;
    wire.checkCancelled();
    const more = wire.writeChunk(transfer, chunk);
    onProgress?.(sent, size);
    if (!more) await wire.drained();
  }
  wire.checkCancelled();
  return hash.digest('hex');
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return error instanceof Error ? error.message : String(error);
}
