import { writeU32BE } from '@switchboard/protocol';

/**
 * Joins a batch of frames into one buffer for one write. In a flush, the members of a room
 * usually have the very same frames queued, so each transport keeps the last joined batch and
 * hands it to the next member with the same frames: encode once, join once, one write each.
 */
export class JoinCache {
  #frames: readonly Uint8Array[] = [];
  #joined: Uint8Array | undefined;

  constructor(private readonly build: (frames: readonly Uint8Array[]) => Uint8Array) {}

  get(frames: readonly Uint8Array[]): Uint8Array {
    if (this.#joined === undefined || !sameFrames(frames, this.#frames)) {
      this.#frames = frames;
      this.#joined = this.build(frames);
    }
    return this.#joined;
  }
}

/** The frames back to back, for a byte stream (TCP). */
export function joinStream(frames: readonly Uint8Array[]): Uint8Array {
  return frames.length === 1 ? frames[0]! : concat(frames, 0, () => undefined);
}

/**
 * The frames as consecutive WebSocket binary messages, one frame each. Server frames are not
 * masked, so the bytes are the same for every browser and can be built once.
 */
export function joinWebSocket(frames: readonly Uint8Array[]): Uint8Array {
  return concat(frames, 10, webSocketHeader);
}

function concat(frames: readonly Uint8Array[], headerRoom: number, header: (length: number) => Uint8Array | undefined): Uint8Array {
  let length = 0;
  for (const frame of frames) length += frame.length + headerRoom;
  const joined = Buffer.allocUnsafe(length);
  let at = 0;
  for (const frame of frames) {
    const head = header(frame.length);
    if (head !== undefined) {
      joined.set(head, at);
      at += head.length;
    }
    joined.set(frame, at);
    at += frame.length;
  }
  return joined.subarray(0, at);
}

/** RFC 6455 §5.2 header of an unmasked, final, binary frame carrying `length` bytes. */
export function webSocketHeader(length: number): Uint8Array {
  if (length < 126) return Uint8Array.of(0x82, length);
  if (length < 65536) return Uint8Array.of(0x82, 126, length >>> 8, length & 0xff);
  const head = Uint8Array.of(0x82, 127, 0, 0, 0, 0, 0, 0, 0, 0);
  writeU32BE(head, 6, length);
  return head;
}

function sameFrames(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
