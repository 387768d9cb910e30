/**
 * Cheap receivers: they cut a byte stream into units (a length-prefixed frame, a WebSocket
 * frame, an IRC line) and hand each whole unit to a sink as a range of the buffer that was
 * read, without copying. Only a unit that straddles two reads is copied (once, into a buffer
 * of its own size), so a member that only counts pays a few byte reads per unit.
 */
export interface UnitSink {
  /** buf[start, end) is one whole unit, header included. Valid only during the call. */
  unit(buf: Buffer, start: number, end: number): void;
}

/** Cuts units whose length can be read from a header at their start. */
abstract class HeaderWalker {
  #head = Buffer.alloc(16);
  #headFill = 0;
  #pending: Buffer | null = null;
  #pendingFill = 0;

  constructor(protected readonly sink: UnitSink) {}

  /** Whole unit size if buf[p, end) holds enough of the header to know it, else -1. */
  protected abstract sizeAt(buf: Buffer, p: number, end: number): number;

  feed(buf: Buffer, start: number, end: number): void {
    let p = start;
    // 1. A unit that began in an earlier read.
    if (this.#headFill > 0 || this.#pending !== null) {
      while (this.#pending === null) {
        if (p >= end) return;
        this.#head[this.#headFill++] = buf[p++]!;
        const size = this.sizeAt(this.#head, 0, this.#headFill);
        if (size >= 0) {
          this.#pending = Buffer.allocUnsafe(size);
          this.#head.copy(this.#pending, 0, 0, this.#headFill);
          this.#pendingFill = this.#headFill;
          this.#headFill = 0;
        } else if (this.#headFill === this.#head.length) {
          throw new Error('unit header too long');
        }
      }
      const pending = this.#pending;
      const take = Math.min(end - p, pending.length - this.#pendingFill);
      buf.copy(pending, this.#pendingFill, p, p + take);
      this.#pendingFill += take;
      p += take;
      if (this.#pendingFill < pending.length) return;
      this.#pending = null;
      this.#pendingFill = 0;
      this.sink.unit(pending, 0, pending.length);
    }
    // 2. Whole units, in place.
    while (p < end) {
      const size = this.sizeAt(buf, p, end);
      if (size < 0 || p + size > end) break;
      this.sink.unit(buf, p, p + size);
      p += size;
    }
    // 3. The start of a unit that ends in a later read.
    if (p < end) {
      const size = this.sizeAt(buf, p, end);
      if (size < 0) {
        buf.copy(this.#head, 0, p, end);
        this.#headFill = end - p;
      } else {
        this.#pending = Buffer.allocUnsafe(size);
        buf.copy(this.#pending, 0, p, end);
        this.#pendingFill = end - p;
      }
    }
  }
}

/** Switchboard's frames: u32be N, then N bytes (type + payload). */
export class LengthPrefixWalker extends HeaderWalker {
  protected sizeAt(buf: Buffer, p: number, end: number): number {
    if (end - p < 4) return -1;
    return 4 + (((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0);
  }
}

/** WebSocket frames as a server sends them (RFC 6455 §5.2; a mask is allowed but not expected). */
export class WebSocketFrameWalker extends HeaderWalker {
  protected sizeAt(buf: Buffer, p: number, end: number): number {
    if (end - p < 2) return -1;
    const b1 = buf[p + 1]!;
    const mask = b1 & 0x80 ? 4 : 0;
    const len7 = b1 & 0x7f;
    if (len7 < 126) return 2 + mask + len7;
    if (len7 === 126) {
      if (end - p < 4) return -1;
      return 4 + mask + ((buf[p + 2]! << 8) | buf[p + 3]!);
    }
    if (end - p < 10) return -1;
    // 64-bit length; frames here stay far below 2^53.
    return 10 + mask + buf.readUInt32BE(p + 2) * 2 ** 32 + buf.readUInt32BE(p + 6);
  }
}

/** Offset of a WebSocket frame's payload from the frame's start. */
export function webSocketPayloadOffset(buf: Buffer, start: number): number {
  const b1 = buf[start + 1]!;
  const len7 = b1 & 0x7f;
  return (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
}

/** IRC lines, each ending in LF (CR LF on the wire; the CR stays in the unit). */
export class LineWalker {
  #carry: Buffer | null = null;

  constructor(private readonly sink: UnitSink) {}

  feed(buf: Buffer, start: number, end: number): void {
    let p = start;
    if (this.#carry !== null) {
      const nl = buf.indexOf(10, p);
      if (nl < 0 || nl >= end) {
        this.#carry = Buffer.concat([this.#carry, buf.subarray(p, end)]);
        if (this.#carry.length > 64 * 1024) throw new Error('IRC line longer than 64 KiB');
        return;
      }
      const line = Buffer.concat([this.#carry, buf.subarray(p, nl + 1)]);
      this.#carry = null;
      this.sink.unit(line, 0, line.length);
      p = nl + 1;
    }
    while (p < end) {
      const nl = buf.indexOf(10, p);
      if (nl < 0 || nl >= end) break;
      this.sink.unit(buf, p, nl + 1);
      p = nl + 1;
    }
    if (p < end) this.#carry = Buffer.from(buf.subarray(p, end));
  }
}

/** Finds the end of an HTTP response head (CRLF CRLF); -1 when not there yet. */
export function httpHeadEnd(buf: Buffer, start: number, end: number): number {
  const at = buf.indexOf('\r\n\r\n', start, 'latin1');
  return at >= 0 && at + 4 <= end ? at + 4 : -1;
}
