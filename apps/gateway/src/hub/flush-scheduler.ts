import type { Member } from './member.js';

/**
 * Joins a batch of frames into one buffer for stream transports. Members of one room usually
 * have the very same frames queued in a flush, so the joined buffer is made once and shared:
 * encode once, join once, one write per member.
 */
export class SharedBatch {
  #stream = new JoinCache((frames) => concat(frames, 0, () => undefined));
  #webSocket = new JoinCache((frames) => concat(frames, 10, webSocketHeader));

  /** The frames back to back, for a byte stream (TCP). */
  join(frames: readonly Uint8Array[]): Uint8Array {
    return frames.length === 1 ? frames[0]! : this.#stream.get(frames);
  }

  /**
   * The frames as consecutive WebSocket binary messages, one frame each (server frames are not
   * masked, so the bytes are the same for every member and can be built once).
   */
  joinWebSocket(frames: readonly Uint8Array[]): Uint8Array {
    return this.#webSocket.get(frames);
  }
}

/** Remembers the last joined sequence: the next member usually has exactly the same frames. */
class JoinCache {
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
  return Uint8Array.of(0x82, 127, 0, 0, 0, 0, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
}

function sameFrames(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Writes members' queued frames in batches instead of once per frame. How long a flush may
 * wait for company depends on what the last one cost: a flush that wrote to many members (a
 * wide fan-out) is worth merging with the next, so the next waits up to ~20 µs per member it
 * wrote, never more than `windowMs`; a cheap flush (a private message, a bridge round trip) is
 * followed at once, at the end of the turn. When the hub is idle nothing waits at all.
 * Under load at K = 200 this cuts system calls per delivery several times over; it never
 * delays a frame by more than the window.
 *
 * Before any socket is written, `beforeWrite` runs (the history commit), so what a member
 * reads is already stored.
 */
/** How long the next flush may wait for each member the last one wrote to. */
const WAIT_PER_WRITE_MS = 0.02;

export class FlushScheduler {
  #dirty: Member[] = [];
  #scheduled = false;
  #lastFlushAt = -Infinity;
  /** Members written by the last flush: its cost, roughly. */
  #lastWrites = 0;

  readonly #beforeWrite: () => void;
  readonly #afterWrite: (member: Member) => void;
  readonly #afterFlush: () => void;
  readonly #windowMs: number;

  constructor(options: {
    /** Runs before any socket is written (the history commit). */
    beforeWrite: () => void;
    /** Runs after each member's write (its socket backlog is known then). */
    afterWrite: (member: Member) => void;
    /** Runs when every outbox has been written. */
    afterFlush: () => void;
    windowMs: number;
  }) {
    this.#beforeWrite = options.beforeWrite;
    this.#afterWrite = options.afterWrite;
    this.#afterFlush = options.afterFlush;
    this.#windowMs = options.windowMs;
  }

  /** Queue a member's outbox for the next flush. */
  add(member: Member): void {
    this.#dirty.push(member);
    this.schedule();
  }

  /** Make sure a flush is coming even if no member is dirty (history still commits). */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const window = Math.min(this.#windowMs, this.#lastWrites * WAIT_PER_WRITE_MS);
    const wait = this.#lastFlushAt + window - performance.now();
    // Timers do not go below a millisecond: shorter waits are not worth one.
    if (wait < 1) setImmediate(this.#run);
    else setTimeout(this.#run, wait);
  }

  flushNow(): void {
    this.#run();
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    this.#lastFlushAt = performance.now();
    this.#beforeWrite();
    const members = this.#dirty;
    this.#dirty = [];
    const batch = new SharedBatch();
    let writes = 0;
    for (const member of members) {
      member.dirty = false;
      if (member.state === 'closed' || member.overflowed || member.pending.length === 0) continue;
      const frames = member.pending;
      member.pending = [];
      member.pendingBytes = 0;
      member.link.write(frames, batch);
      writes++;
      this.#afterWrite(member);
    }
    this.#lastWrites = writes;
    this.#afterFlush();
  };
}
