/** The most of one read or write a log entry keeps: a 100 MB stream costs the log its cap, no more. */
export const ENTRY_BYTES = 4096;
/** A new ring's byte store; it doubles as the device's entries need, up to capacity × ENTRY_BYTES. */
const FIRST_BYTES = 16 * 1024;
const FIRST_SLOTS = 64;
/**
 * Bytes that were shared (one buffer written to every device of a listener) and no larger than
 * this are kept by reference, not copied: 200 devices hearing one line keep one buffer, not 200
 * copies. Of larger ones the first ENTRY_BYTES are copied once, and that copy is what every
 * device's entry keeps (sharedHead), so an entry never holds more alive.
 */
export const SHARED_UP_TO = 4 * ENTRY_BYTES;
/**
 * The first ENTRY_BYTES of each large shared buffer, copied the first time a ring keeps it: a
 * busy listener's flush (more than SHARED_UP_TO for each of its 200 devices) was 200 copies of
 * 4 KiB, and the rings grew and moved them, a sixth of the gateway's time at 4,000 lines/s.
 */
const sharedHeads = new WeakMap<Uint8Array, Uint8Array>();

function sharedHead(bytes: Uint8Array): Uint8Array {
  let head = sharedHeads.get(bytes);
  if (head === undefined) sharedHeads.set(bytes, (head = Uint8Array.prototype.slice.call(bytes, 0, ENTRY_BYTES)));
  return head;
}
/** Per entry in the metadata ring: time, where its bytes start (absolute), its length, kept bytes × 8 + flags. */
const FIELDS = 4;
/** An entry in traffic.bin: f64 ts, u8 flags (1: out, 2: auto, 4: event), u32 length, u16 bytes kept, then those bytes. */
export const ENTRY_HEAD = 8 + 1 + 4 + 2;
const OUT = 1;
const AUTO = 2;
const EVENT = 4;
const FLAGS = 8;

export type Direction = 'in' | 'out';

export interface TrafficEntry {
  /** Milliseconds since the epoch. */
  ts: number;
  direction: Direction;
  /** How many bytes passed; `bytes` keeps the first ENTRY_BYTES of them. */
  length: number;
  bytes: Uint8Array;
  /** Written by an auto-reply rule. */
  auto?: true;
  /** Not bytes but what happened to the connection (connected, dialing, backoff…): `bytes` is its UTF-8 text. */
  event?: true;
  /** Its place in the device's log: one more than the entry before it, never reused (set by the ring). */
  seq?: number;
}

/**
 * One device's newest `capacity` entries, in two rings written over in place: the entries'
 * numbers in a Float64Array and their bytes in one byte store. Why not an object and a buffer
 * per entry: on a busy device (a raw pipe relays thousands of reads and writes a second) each
 * entry lived long enough to reach V8's old generation, and collecting them there was a
 * mark-compact every ~100 ms. A ring allocates nothing per entry. Both rings start small and
 * double when full until they hold `capacity` entries of ENTRY_BYTES, so a quiet device costs
 * little; after that the oldest entry makes room. Bytes that many devices were written (a
 * room's line) are kept by reference instead (SHARED_UP_TO, sharedHead): one buffer for all their logs.
 */
export class TrafficRing {
  #meta = new Float64Array(0);
  #bytes = new Uint8Array(0);
  /** By slot: the entry's bytes when they are kept by reference (nothing in the byte store). */
  #refs: (Uint8Array | undefined)[] = [];
  /** The oldest entry's slot, and how many there are. */
  #first = 0;
  #count = 0;
  /** Where the next entry's bytes go, counted from the ring's start (byte store index: modulo its size). */
  #head = 0;
  /** The oldest entry's sequence number: entry i (oldest first) is `#firstSeq + i`. */
  #firstSeq: number;

  /** `firstSeq`: the sequence number its first entry gets (a log read back from traffic.bin goes on where it was). */
  constructor(
    readonly capacity: number,
    firstSeq = 0,
  ) {
    this.#firstSeq = firstSeq;
  }

  get size(): number {
    return this.#count;
  }

  /** The oldest entry's sequence number (the next entry's, when there are none). */
  get firstSeq(): number {
    return this.#firstSeq;
  }

  /** The sequence number the next entry gets. */
  get nextSeq(): number {
    return this.#firstSeq + this.#count;
  }

  /**
   * Keeps the first ENTRY_BYTES of `bytes`: copied, unless `shared` (bytes nobody changes, written
   * to other devices too): then the ring keeps the buffer itself when it is at most SHARED_UP_TO
   * long, else the one copy of its head that every ring keeping it shares.
   */
  push(ts: number, direction: Direction, bytes: Uint8Array, length = bytes.length, auto = false, event = false, shared = false): void {
    if (this.capacity === 0) return;
    const kept = Math.min(bytes.length, ENTRY_BYTES);
    const byReference = shared ? (bytes.length <= SHARED_UP_TO ? bytes : sharedHead(bytes)) : undefined;
    const stored = byReference !== undefined ? 0 : kept;
    if (this.#count === this.#slots) {
      if (this.#slots < this.capacity) this.#growMeta();
      else this.#dropOldest();
    }
    while (this.#head + stored - this.#tail > this.#bytes.length) {
      if (this.#bytes.length < this.capacity * ENTRY_BYTES) this.#growBytes(stored);
      else this.#dropOldest();
    }
    const index = (this.#first + this.#count) % this.#slots;
    this.#refs[index] = byReference;
    if (stored > 0) {
      const store = this.#bytes;
      const at = this.#head % store.length;
      const before = Math.min(kept, store.length - at); // what fits before the store wraps
      store.set(before === bytes.length ? bytes : bytes.subarray(0, before), at);
      if (before < kept) store.set(bytes.subarray(before, kept), 0);
    }
    const slot = index * FIELDS;
    const meta = this.#meta;
    meta[slot] = ts;
    meta[slot + 1] = this.#head;
    meta[slot + 2] = length;
    meta[slot + 3] = kept * FLAGS + (direction === 'out' ? OUT : 0) + (auto ? AUTO : 0) + (event ? EVENT : 0);
    this.#head += stored;
    this.#count++;
  }

  /**
   * The newest `limit` entries, oldest first, each with a copy of its bytes and its sequence
   * number; with `after`, the oldest `limit` entries whose sequence number is greater (a reader
   * that follows the log pages forward).
   */
  entries(limit = this.#count, after?: number): TrafficEntry[] {
    const out: TrafficEntry[] = [];
    const meta = this.#meta;
    const from = after === undefined ? Math.max(0, this.#count - limit) : Math.max(0, Math.floor(after) + 1 - this.#firstSeq);
    const to = Math.min(this.#count, from + limit);
    for (let i = from; i < to; i++) {
      const slot = ((this.#first + i) % this.#slots) * FIELDS;
      const bytes = new Uint8Array(this.#kept(slot));
      this.#copyEntry(slot, bytes, 0, bytes.length);
      const flags = meta[slot + 3]!;
      const entry: TrafficEntry = { ts: meta[slot]!, direction: flags & OUT ? 'out' : 'in', length: meta[slot + 2]!, bytes, seq: this.#firstSeq + i };
      if (flags & AUTO) entry.auto = true;
      if (flags & EVENT) entry.event = true;
      out.push(entry);
    }
    return out;
  }

  /** The bytes encodeInto copies for the newest `limit` entries (the bytes kept by reference are not copied). */
  encodedSize(limit: number): number {
    let size = 0;
    this.#each(limit, (slot) => (size += ENTRY_HEAD + (this.#refs[slot / FIELDS] === undefined ? this.#kept(slot) : 0)));
    return size;
  }

  /**
   * The newest `limit` entries as traffic.bin has them, in order: written into `record` from `at`
   * (encodedSize bytes), except the bytes kept by reference, which go into `parts` as they are,
   * between the pieces of `record` (a gathered write; nobody changes them). `record` up to `at`
   * is pushed with the first piece.
   */
  encodeInto(limit: number, record: Buffer, at: number, parts: Uint8Array[]): void {
    const meta = this.#meta;
    let pieceStart = 0;
    this.#each(limit, (slot) => {
      const kept = this.#kept(slot);
      record.writeDoubleBE(meta[slot]!, at);
      record[at + 8] = meta[slot + 3]! & (FLAGS - 1);
      record.writeUInt32BE(meta[slot + 2]!, at + 9);
      record.writeUInt16BE(kept, at + 13);
      at += ENTRY_HEAD;
      const ref = this.#refs[slot / FIELDS];
      if (ref === undefined) {
        this.#copyOut(meta[slot + 1]!, record, at, kept);
        at += kept;
      } else if (kept > 0) {
        parts.push(record.subarray(pieceStart, at), kept === ref.length ? ref : ref.subarray(0, kept));
        pieceStart = at;
      }
    });
    parts.push(record.subarray(pieceStart, at));
  }

  /** How many of its bytes the entry in `slot` keeps (the packed field's upper part). */
  #kept(slot: number): number {
    return Math.floor(this.#meta[slot + 3]! / FLAGS);
  }

  #each(limit: number, visit: (slot: number) => void): void {
    for (let i = Math.max(0, this.#count - limit); i < this.#count; i++) visit(((this.#first + i) % this.#slots) * FIELDS);
  }

  get #slots(): number {
    return this.#meta.length / FIELDS;
  }

  /** Where the oldest entry's bytes start (the head when there are none). */
  get #tail(): number {
    return this.#count === 0 ? this.#head : this.#meta[this.#first * FIELDS + 1]!;
  }

  /** The entry in `slot`'s kept bytes into `into` at `at`: from its reference or from the byte store. */
  #copyEntry(slot: number, into: Uint8Array, at: number, kept: number): void {
    const ref = this.#refs[slot / FIELDS];
    if (ref === undefined) this.#copyOut(this.#meta[slot + 1]!, into, at, kept);
    else into.set(kept === ref.length ? ref : ref.subarray(0, kept), at);
  }

  #copyOut(start: number, into: Uint8Array, at: number, length = into.length - at): void {
    if (length === 0) return;
    const store = this.#bytes;
    const from = start % store.length;
    const before = Math.min(length, store.length - from);
    into.set(store.subarray(from, from + before), at);
    if (before < length) into.set(store.subarray(0, length - before), at + before);
  }

  #dropOldest(): void {
    this.#refs[this.#first] = undefined; // a buffer kept by reference goes with its entry
    this.#first = (this.#first + 1) % this.#slots;
    this.#count--;
    this.#firstSeq++;
  }

  /**
   * Twice the slots (at most capacity), the entries moved to the front in order: in two block
   * copies (before and after the ring's wrap), not a view and a copy per entry. The rings of a
   * line listener's devices fill in step and so grow in the same flush: 200 of them moving 512
   * entries one by one held the event loop some 30 ms.
   */
  #growMeta(): void {
    const slots = Math.min(this.capacity, Math.max(FIRST_SLOTS, this.#slots * 2));
    const meta = new Float64Array(slots * FIELDS);
    const first = this.#first;
    const end = Math.min(first + this.#count, this.#slots); // the entries before the wrap
    const wrapped = first + this.#count - end; // and those after it, at the start
    meta.set(this.#meta.subarray(first * FIELDS, end * FIELDS));
    if (wrapped > 0) meta.set(this.#meta.subarray(0, wrapped * FIELDS), (end - first) * FIELDS);
    const refs: (Uint8Array | undefined)[] = [];
    for (let i = 0; i < this.#count; i++) refs[i] = this.#refs[(first + i) % this.#slots];
    this.#meta = meta;
    this.#refs = refs;
    this.#first = 0;
  }

  /** A store twice the size (at most capacity × ENTRY_BYTES) with the live bytes moved to its start. */
  #growBytes(need: number): void {
    const size = Math.min(this.capacity * ENTRY_BYTES, Math.max(FIRST_BYTES, this.#bytes.length * 2, need));
    const bytes = new Uint8Array(size);
    const tail = this.#tail;
    if (this.#head > tail) this.#copyOut(tail, bytes, 0, this.#head - tail);
    const meta = this.#meta;
    for (let i = 0; i < this.#count; i++) {
      const start = ((this.#first + i) % this.#slots) * FIELDS + 1;
      meta[start] = meta[start]! - tail;
    }
    this.#head -= tail;
    this.#bytes = bytes;
  }
}
