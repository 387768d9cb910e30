/**
 * How a device's byte stream is cut into messages, and how a message is written back, for
 * programs that do not speak Switchboard's length prefix: `line` (a delimiter ends a message)
 * and `raw` (an idle gap or a fixed length ends one, optionally with the classic WinForms
 * client's leading type byte). Byte-level only: text encodings are the device link's business.
 */

export type DeviceMessageKind = 'text' | 'file';

export interface DeviceMessage {
  kind: DeviceMessageKind;
  /** Its bytes in one buffer. */
  bytes: Uint8Array;
  /**
   * The same bytes as the reads that brought them, when it came in several (a raw message cut
   * from a stream): a reader that can take them piece by piece need not join them.
   */
  readonly parts?: readonly Uint8Array[];
  /** A line longer than the limit: these are its first bytes, the rest until the delimiter was dropped. */
  cut?: boolean;
  /** A raw file the gateway would not hold (too large, or devices' files in flight at their limit): no bytes, and the rest until the idle gap is dropped. */
  refused?: 'too-large' | 'busy';
}

/**
 * What every raw connection's unfinished files may hold together. A file has no length on the
 * wire, so it is held until the idle gap ends it; without a shared bound, each connection could
 * hold a file's worth (issue 22: 8 connections streaming took 265 MB).
 */
export class HeldBudget {
  used = 0;
  constructor(readonly limit: number) {}

  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used -= n;
  }
}

/** The pieces of a message's bytes, in order (one when it has no `parts`). */
export function partsOf(message: DeviceMessage): readonly Uint8Array[] {
  return message.parts ?? [message.bytes];
}

/**
 * A raw message kept as the reads that brought it, joined only when `bytes` is asked for: a
 * streaming device's 64 KiB messages are decoded piece by piece, and a buffer per message,
 * allocated and dropped at once, is what made V8 run full collections on a busy pipe.
 */
class HeldMessage implements DeviceMessage {
  #bytes: Uint8Array | undefined;

  constructor(
    readonly kind: DeviceMessageKind,
    readonly parts: readonly Uint8Array[],
  ) {}

  get bytes(): Uint8Array {
    return (this.#bytes ??= this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts));
  }
}

export interface Framing {
  /** Bytes as they arrive (the framing may keep them: the caller must not change them later); the whole messages they complete. */
  push(chunk: Uint8Array): DeviceMessage[];
  /** Bytes held as an unfinished message (a raw file being refused counts as 1: its idle gap is still awaited). */
  readonly pending: number;
  /** How long an unfinished message may sit before `flush()` takes it as whole (0: never). */
  readonly idleMs: number;
  /** The unfinished message, taken as whole (after an idle gap). */
  flush(): DeviceMessage | undefined;
  /** A message as the device expects it on the wire. */
  encode(message: DeviceMessage): Uint8Array;
  /** A reply written by hand (an auto-reply): like encode, but a line that already ends with the delimiter keeps just that one. */
  encodeReply(bytes: Uint8Array): Uint8Array;
  /** Whether files travel (the type byte tells them apart); else a device gets text only. */
  readonly carriesFiles: boolean;
  /** The connection closed: what it held is let go, its share of a shared budget too. */
  discard?(): void;
}

export interface LineOptions {
  delimiter: Uint8Array;
  maxLineBytes: number;
  idleFlushMs: number;
}

export interface RawOptions {
  idleMs: number;
  fixedLength: number | null;
  typeByte: boolean;
  /** A device that streams text without a pause is cut into messages of this many bytes at most. */
  maxMessageBytes: number;
  /** typeByte, no fixedLength: a file (first byte 1) is held whole, up to this many bytes with its type byte; longer is refused. */
  maxFileMessageBytes?: number;
  /** typeByte, no fixedLength: shared by every connection's unfinished files; a file that does not fit is refused. */
  fileBudget?: HeldBudget;
}

export class LineFraming implements Framing {
  readonly carriesFiles = false;
  /** The unfinished line as the reads that brought it: joined once, when a delimiter or the limit comes. */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  /** Dropping the rest of an overlong line until its delimiter. */
  #discarding = false;

  constructor(private readonly options: LineOptions) {}

  get pending(): number {
    return this.#heldBytes;
  }

  get idleMs(): number {
    return this.options.idleFlushMs;
  }

  push(chunk: Uint8Array): DeviceMessage[] {
    const { delimiter, maxLineBytes } = this.options;
    // A read in the middle of a long line (no delimiter in it or across its start, still
    // within the limit) is only kept: a line in many reads is joined once, not once per read.
    if (
      this.#heldBytes > 0 &&
      !this.#discarding &&
      this.#heldBytes + chunk.length <= maxLineBytes &&
      indexOf(chunk, delimiter, 0) < 0 &&
      !this.#straddles(chunk)
    ) {
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
      return [];
    }
    const out: DeviceMessage[] = [];
    const heldBytes = this.#heldBytes;
    let buffer = heldBytes === 0 ? chunk : Buffer.concat([...this.#held, chunk], heldBytes + chunk.length);
    // A delimiter may straddle the previous chunk's end: look back that far, no further.
    let from = Math.max(0, heldBytes - delimiter.length + 1);
    for (;;) {
      const at = indexOf(buffer, delimiter, from);
      if (at < 0) break;
      if (this.#discarding) this.#discarding = false;
      else out.push({ kind: 'text', bytes: buffer.slice(0, Math.min(at, maxLineBytes)), ...(at > maxLineBytes && { cut: true }) });
      buffer = buffer.subarray(at + delimiter.length);
      from = 0;
    }
    if (this.#discarding) buffer = buffer.subarray(Math.max(0, buffer.length - delimiter.length + 1));
    else if (buffer.length > maxLineBytes + delimiter.length - 1) {
      // Too long to be one line even if its delimiter is arriving: cut it here.
      out.push({ kind: 'text', bytes: buffer.slice(0, maxLineBytes), cut: true });
      this.#discarding = true;
      buffer = buffer.subarray(Math.max(0, buffer.length - delimiter.length + 1));
    }
    this.#held = buffer.length === 0 ? [] : [buffer.slice()];
    this.#heldBytes = buffer.length;
    return out;
  }

  /** Whether a delimiter begins in what is held and ends in `chunk`. */
  #straddles(chunk: Uint8Array): boolean {
    const reach = this.options.delimiter.length - 1;
    if (reach === 0) return false;
    const tail: number[] = [];
    for (let i = this.#held.length - 1; i >= 0 && tail.length < reach; i--) {
      const part = this.#held[i]!;
      for (let j = part.length - 1; j >= 0 && tail.length < reach; j--) tail.unshift(part[j]!);
    }
    const probe = concat(Uint8Array.from(tail), chunk.subarray(0, reach));
    const at = indexOf(probe, this.options.delimiter, 0);
    return at >= 0 && at < tail.length;
  }

  flush(): DeviceMessage | undefined {
    if (this.#heldBytes === 0 || this.#discarding) return undefined;
    const bytes = this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held, this.#heldBytes);
    this.#held = [];
    this.#heldBytes = 0;
    return { kind: 'text', bytes };
  }

  encode(message: DeviceMessage): Uint8Array {
    return concat(message.bytes, this.options.delimiter);
  }

  encodeReply(bytes: Uint8Array): Uint8Array {
    const delimiter = this.options.delimiter;
    const ends = bytes.length >= delimiter.length && indexOf(bytes, delimiter, bytes.length - delimiter.length) >= 0;
    return ends ? bytes : concat(bytes, delimiter);
  }
}

export class RawFraming implements Framing {
  /** The unfinished message as the reads that brought them: never joined here. */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  /** The held bytes are the rest of a text message cut at the limit: no type byte of their own. */
  #continuing = false;
  /** Dropping a refused file until the idle gap ends it. */
  #refusing = false;
  /** Of fileBudget, what this connection's unfinished file holds. */
  #reserved = 0;

  constructor(private readonly options: RawOptions) {}

  get carriesFiles(): boolean {
    return this.options.typeByte;
  }

  get pending(): number {
    return this.#refusing ? Math.max(1, this.#heldBytes) : this.#heldBytes;
  }

  get idleMs(): number {
    return this.options.idleMs;
  }

  push(chunk: Uint8Array): DeviceMessage[] {
    if (this.#refusing) return [];
    // Kept as it is, not copied: a socket's reads are fresh buffers that nobody writes to again.
    if (chunk.length > 0) this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#holdingFile()) return this.#holdFile();
    const out: DeviceMessage[] = [];
    for (;;) {
      // A continuation has no type byte of its own: one byte less than the limit with it.
      const fixed = this.options.fixedLength ?? this.options.maxMessageBytes - (this.#continuing && this.options.typeByte ? 1 : 0);
      if (this.#heldBytes < fixed) break;
      const continuation = this.#continuing;
      // Cut at the limit with no pause: what follows is the same text, not a new type byte.
      this.#continuing = this.options.typeByte && this.options.fixedLength === null;
      out.push(this.#message(this.#take(fixed), continuation));
    }
    return out;
  }

  flush(): DeviceMessage | undefined {
    const continuation = this.#continuing;
    this.#continuing = false;
    this.#refusing = false;
    const message = this.#heldBytes === 0 ? undefined : this.#message(this.#take(this.#heldBytes), continuation);
    this.#release();
    return message;
  }

  /** A typeByte file in idle-gap framing: held whole until the gap, within its size limit and the shared budget. */
  #holdingFile(): boolean {
    const { typeByte, fixedLength, maxFileMessageBytes } = this.options;
    return typeByte && fixedLength === null && maxFileMessageBytes !== undefined && !this.#continuing && this.#heldBytes > 0 && this.#held[0]![0] === 1;
  }

  #holdFile(): DeviceMessage[] {
    const { maxFileMessageBytes, fileBudget } = this.options;
    let refused: DeviceMessage['refused'];
    if (this.#heldBytes > maxFileMessageBytes!) refused = 'too-large';
    else if (fileBudget !== undefined && !fileBudget.take(this.#heldBytes - this.#reserved)) refused = 'busy';
    else this.#reserved = this.#heldBytes;
    if (refused === undefined) return [];
    // Nothing of it is kept, and nothing more is read into it: the device is told, and sends again.
    this.#held = [];
    this.#heldBytes = 0;
    this.#release();
    this.#refusing = true;
    return [{ kind: 'file', bytes: new Uint8Array(0), refused }];
  }

  discard(): void {
    this.#held = [];
    this.#heldBytes = 0;
    this.#release();
  }

  #release(): void {
    this.options.fileBudget?.give(this.#reserved);
    this.#reserved = 0;
  }

  /** The first `n` bytes held, as views of the reads that brought them; they are held no more. */
  #take(n: number): Uint8Array[] {
    const parts: Uint8Array[] = [];
    let wanted = n;
    while (wanted > 0) {
      const head = this.#held[0]!;
      if (head.length <= wanted) {
        parts.push(head);
        this.#held.shift();
        wanted -= head.length;
      } else {
        parts.push(head.subarray(0, wanted));
        this.#held[0] = head.subarray(wanted);
        wanted = 0;
      }
    }
    this.#heldBytes -= n;
    return parts;
  }

  encodeReply(bytes: Uint8Array): Uint8Array {
    return this.encode({ kind: 'text', bytes });
  }

  encode(message: DeviceMessage): Uint8Array {
    if (!this.options.typeByte) return message.bytes;
    return concat(Uint8Array.of(message.kind === 'file' ? 1 : 0), message.bytes);
  }

  /** With the type byte: 0 then text, 1 then a file's bytes (the WinForms client's convention). */
  #message(parts: Uint8Array[], continuation = false): DeviceMessage {
    const first = parts[0];
    if (!this.options.typeByte || first === undefined || continuation) return new HeldMessage('text', parts);
    const kind = first[0] === 1 ? 'file' : 'text';
    if (first.length === 1) parts.shift();
    else parts[0] = first.subarray(1);
    return new HeldMessage(kind, parts);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  for (let i = haystack.indexOf(first, from); i >= 0 && i <= haystack.length - needle.length; i = haystack.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
