import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { FILE_CHUNK_BYTES } from '@switchboard/protocol';
import { ClientError } from './client-errors.js';

/** What the sender needs from the connection. */
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
