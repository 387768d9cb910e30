import { DEFAULT_MAX_FRAME_LENGTH, LENGTH_PREFIX_BYTES } from './frame-types.js';
import { ProtocolError } from './errors.js';

export interface FrameDecoderOptions {
  /** Largest N (type byte + payload) accepted; checked on the length prefix. Default 1 MiB. */
  maxFrameLength?: number;
}

/**
 * Called once per whole frame. `payload` is a view: into the pushed chunk when the frame
 * arrived in one piece (no copy), or into a buffer assembled for a frame that spanned chunks.
 * It stays valid as long as the caller does not overwrite the chunk it pushed.
 */
export type FrameHandler = (type: number, payload: Uint8Array) => void;

const READ_LENGTH = 0;
const READ_BODY = 1;
const FAILED = 2;

/**
 * Streaming decoder for `u32be N | type | N-1 payload bytes`. Push chunks as they arrive;
 * whole frames come out whatever the chunking. A bad length prefix is fatal: the decoder
 * throws a ProtocolError once and then ignores further input, since the byte stream can
 * no longer be trusted.
 */
export class FrameDecoder {
  readonly maxFrameLength: number;
  #onFrame: FrameHandler;
  #state = READ_LENGTH;
  // Length prefix bytes, when the prefix arrives split across chunks.
  #prefix = new Uint8Array(LENGTH_PREFIX_BYTES);
  #prefixFill = 0;
  // The frame being assembled: N, and the pieces received so far (views, not copies).
  #frameLength = 0;
  #pieces: Uint8Array[] = [];
  #piecesLength = 0;

  constructor(onFrame: FrameHandler, options: FrameDecoderOptions = {}) {
    const max = options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH;
    if (!Number.isInteger(max) || max < 1 || max > 0xffffffff) {
      throw new RangeError(`maxFrameLength must be an integer from 1 to 2^32-1, got ${max}`);
    }
    this.maxFrameLength = max;
    this.#onFrame = onFrame;
  }

  /** Bytes held for a frame that has not finished arriving (prefix included). */
  get bufferedBytes(): number {
    return this.#prefixFill + this.#piecesLength + (this.#state === READ_BODY ? LENGTH_PREFIX_BYTES : 0);
  }

  /** True while part of a frame has arrived and the rest has not. */
  get midFrame(): boolean {
    return this.#prefixFill > 0 || this.#state === READ_BODY;
  }

  /**
   * Feed bytes. Calls the handler for each frame completed by this chunk. Throws a
   * ProtocolError (FRAME_EMPTY or FRAME_TOO_LARGE) on a bad length prefix, before any of
   * that frame's payload is buffered; after that the decoder is failed and ignores input.
   */
  push(chunk: Uint8Array): void {
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.#state === READ_LENGTH) {
        let length: number;
        if (this.#prefixFill === 0 && end - offset >= LENGTH_PREFIX_BYTES) {
          length = readU32(chunk, offset);
          offset += LENGTH_PREFIX_BYTES;
        } else {
          const take = Math.min(LENGTH_PREFIX_BYTES - this.#prefixFill, end - offset);
          this.#prefix.set(chunk.subarray(offset, offset + take), this.#prefixFill);
          this.#prefixFill += take;
          offset += take;
          if (this.#prefixFill < LENGTH_PREFIX_BYTES) return;
          this.#prefixFill = 0;
          length = readU32(this.#prefix, 0);
        }
        this.#checkLength(length);
        if (end - offset >= length) {
          // Fast path: the whole frame is in this chunk; hand out a view.
          const type = chunk[offset]!;
          const payload = chunk.subarray(offset + 1, offset + length);
          offset += length;
          this.#onFrame(type, payload);
          continue;
        }
        this.#frameLength = length;
        this.#state = READ_BODY;
      } else if (this.#state === READ_BODY) {
        const take = Math.min(this.#frameLength - this.#piecesLength, end - offset);
        this.#pieces.push(chunk.subarray(offset, offset + take));
        this.#piecesLength += take;
        offset += take;
        if (this.#piecesLength === this.#frameLength) {
          const body = join(this.#pieces, this.#piecesLength);
          this.#pieces = [];
          this.#piecesLength = 0;
          this.#state = READ_LENGTH;
          this.#onFrame(body[0]!, body.subarray(1));
        }
      } else {
        return; // FAILED: drop everything.
      }
    }
  }

  /** Forget any partial frame, e.g. when the connection is reused after an error. */
  reset(): void {
    this.#state = READ_LENGTH;
    this.#prefixFill = 0;
    this.#pieces = [];
    this.#piecesLength = 0;
  }

  #checkLength(length: number): void {
    if (length === 0) {
      this.#state = FAILED;
      throw new ProtocolError('FRAME_EMPTY');
    }
    if (length > this.maxFrameLength) {
      this.#state = FAILED;
      throw new ProtocolError(
        'FRAME_TOO_LARGE',
        `Frame length ${length} exceeds the maximum of ${this.maxFrameLength} bytes.`,
      );
    }
  }
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function join(pieces: Uint8Array[], length: number): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
