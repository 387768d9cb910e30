import { DEFAULT_MAX_FRAME_LENGTH, LENGTH_PREFIX_BYTES } from './frame-types.js';
import { ProtocolError } from './errors.js';
import { readU32BE } from './bytes.js';

export interface FrameDecoderOptions {
  /** Largest N (type byte + payload) accepted; checked on the length prefix. Default 1 MiB. */
  maxFrameLength?: number;
}

/**
 * Called once per whole frame. `payload` is a view: into the pushed chunk when the frame
 * arrived in one piece (no copy), or into a buffer assembled for a frame that spanned chunks.
 * It stays valid as long as the caller does not overwrite the chunk it pushed.
 *
 * If the handler throws, push() rethrows at once and keeps the rest of the chunk unread; the
 * next push() (an empty chunk will do) reads it first. So a throwing handler never loses
 * bytes or knocks the decoder off the frame boundaries.
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
 *
 * It keeps views (not copies) of the chunks that hold an unfinished frame, so a chunk must
 * not be overwritten after it is pushed (Node sockets and WebSockets hand out fresh buffers).
 */
export class FrameDecoder {
  readonly maxFrameLength: number;
  #onFrame: FrameHandler;
  #state = READ_LENGTH;
  // The length prefix read so far, when it arrives split across chunks: a number, not a
  // buffer (a 4-byte Uint8Array costs about 200 bytes per connection, held for its lifetime).
  #prefix = 0;
  #prefixFill = 0;
  // The frame being assembled: N, and the pieces received so far (views, not copies).
  #frameLength = 0;
  #pieces: Uint8Array[] = [];
  #piecesLength = 0;
  // The unread rest of a chunk whose handler threw; the next push() reads it first.
  #held: Uint8Array | undefined;
  // Counts reset() calls, so push() can tell that a handler reset the decoder mid-chunk.
  #resets = 0;
  // Set by pause(): no more frames are handed out; input is held until resume().
  #paused = false;

  constructor(onFrame: FrameHandler, options: FrameDecoderOptions = {}) {
    const max = options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH;
    if (!Number.isInteger(max) || max < 1 || max > 0xffffffff) {
      throw new RangeError(`maxFrameLength must be an integer from 1 to 2^32-1, got ${max}`);
    }
    this.maxFrameLength = max;
    this.#onFrame = onFrame;
  }

  /**
   * Bytes held and not yet handed out as frames: a frame that has not finished arriving
   * (prefix included), plus the unread rest of a chunk whose handler threw.
   */
  get bufferedBytes(): number {
    return this.#prefixFill + this.#piecesLength + (this.#state === READ_BODY ? LENGTH_PREFIX_BYTES : 0) + (this.#held?.length ?? 0);
  }

  /** True while bytes are held that have not been handed out as frames (see bufferedBytes). */
  get midFrame(): boolean {
    return this.#prefixFill > 0 || this.#state === READ_BODY || this.#held !== undefined;
  }

  /**
   * Feed bytes. Calls the handler for each frame completed by this chunk. Throws a
   * ProtocolError (FRAME_EMPTY or FRAME_TOO_LARGE) on a bad length prefix, before any of
   * that frame's payload is buffered; after that the decoder is failed and ignores input.
   * An error thrown by the handler passes through (see FrameHandler).
   */
  push(chunk: Uint8Array): void {
    if (this.#paused) {
      // Paused: keep the bytes (the caller should have stopped reading; this is what was in flight).
      if (chunk.length > 0) this.#held = this.#held === undefined ? chunk : concat(this.#held, chunk);
      return;
    }
    if (this.#held !== undefined) {
      // Rare path (a handler threw last time): one copy to read on as a single chunk.
      chunk = chunk.length === 0 ? this.#held : concat(this.#held, chunk);
      this.#held = undefined;
    }
    const resets = this.#resets;
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.#state === READ_LENGTH) {
        let length: number;
        if (this.#prefixFill === 0 && end - offset >= LENGTH_PREFIX_BYTES) {
          length = readU32BE(chunk, offset);
          offset += LENGTH_PREFIX_BYTES;
        } else {
          while (this.#prefixFill < LENGTH_PREFIX_BYTES && offset < end) {
            this.#prefix = this.#prefix * 256 + chunk[offset++]!;
            this.#prefixFill++;
          }
          if (this.#prefixFill < LENGTH_PREFIX_BYTES) return;
          length = this.#prefix;
          this.#prefix = 0;
          this.#prefixFill = 0;
        }
        this.#checkLength(length);
        if (end - offset >= length) {
          // Fast path: the whole frame is in this chunk; hand out a view.
          const type = chunk[offset]!;
          const payload = chunk.subarray(offset + 1, offset + length);
          offset += length;
          this.#deliver(type, payload, chunk, offset);
          if (this.#resets !== resets) return;
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the handler #deliver called may have paused
          if (this.#paused) return this.#hold(chunk, offset);
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
          this.#deliver(body[0]!, body.subarray(1), chunk, offset);
          if (this.#resets !== resets) return;
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the handler #deliver called may have paused
          if (this.#paused) return this.#hold(chunk, offset);
        }
      } else {
        return; // FAILED: drop everything.
      }
    }
  }

  /**
   * Backpressure from inside a handler: no frame after the current one is handed out until
   * resume(); the rest of the chunk (and anything pushed meanwhile) is held, not lost.
   */
  pause(): void {
    this.#paused = true;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Hands out the held frames (the handler may pause again), then reads on as usual. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#held !== undefined) this.push(new Uint8Array(0));
  }

  #hold(chunk: Uint8Array, readTo: number): void {
    if (readTo < chunk.length) this.#held = chunk.subarray(readTo);
  }

  /**
   * Forget every byte held (partial frame, unread rest), e.g. to reuse the decoder after an
   * error. Called from a handler, it also drops the rest of the chunk being read.
   */
  reset(): void {
    this.#state = READ_LENGTH;
    this.#prefix = 0;
    this.#prefixFill = 0;
    this.#pieces = [];
    this.#piecesLength = 0;
    this.#held = undefined;
    this.#paused = false;
    this.#resets++;
  }

  // The decoder's state is already past this frame when the handler runs. If the handler
  // throws, what is left of the chunk is kept for the next push(), unless it reset the
  // decoder: a reset forgets the rest of the chunk too.
  #deliver(type: number, payload: Uint8Array, chunk: Uint8Array, readTo: number): void {
    const resets = this.#resets;
    try {
      this.#onFrame(type, payload);
    } catch (error) {
      if (this.#resets === resets && readTo < chunk.length) this.#held = chunk.subarray(readTo);
      throw error;
    }
  }

  #checkLength(length: number): void {
    if (length === 0) {
      this.#state = FAILED;
      throw new ProtocolError('FRAME_EMPTY');
    }
    if (length > this.maxFrameLength) {
      this.#state = FAILED;
      throw new ProtocolError('FRAME_TOO_LARGE', `Frame length ${length} exceeds the maximum of ${this.maxFrameLength} bytes.`);
    }
  }
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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
