import { createHash } from 'node:crypto';
import type net from 'node:net';
import { FILE_CHUNK_BYTES, decodeServerMessage, type ClientMessage, type ServerMessage } from '@switchboard/protocol';
import { plainLines } from '../hub/plain-lines.js';
import { TokenBucket } from '../hub/rate-limiter.js';
import type { DeviceOrigin } from '../hub/device.js';
import type { Link } from '../transports/link.js';
import { formatAddress } from '../transports/address.js';
import type { DeviceRate } from './device-settings.js';
import { partsOf, type DeviceMessage, type Framing } from './framing.js';

export interface DeviceLinkOptions {
  origin: DeviceOrigin;
  framing: Framing;
  encoding: 'utf8' | 'latin1';
  /** `alice: …` lines for chat use (netcat); off: the text alone (a robot gets `MoveJ p10`). */
  senderPrefix: boolean;
  /** Presence, notices and error lines reach it; off: only what someone said (and private words to it). */
  notices: boolean;
  /** Messages a second it may send; past it its socket is not read until it may send again. */
  rate: DeviceRate;
  /** Largest file a device may send or be sent (bytes). */
  maxFileBytes: number;
  closeTimeoutMs: number;
  /**
   * Devices translated alike (the members of one listener share its settings object): a
   * fanned-out frame becomes their bytes once, not once per device.
   */
  translatedAlike?: object | undefined;
}

/** What the hub is told: client messages, as if the device had sent them framed. */
export interface DeviceInput {
  /** One client message from the device; `bytes`: what it took on the device's socket. */
  message(message: ClientMessage, bytes: number): void;
}

/**
 * Whoever else watches the device's bytes (raw WebSocket pipes, the traffic log); `auto`: an
 * auto-reply wrote them; `shared`: the same bytes went to other devices of its listener and
 * nobody changes them, so they may be kept by reference instead of copied.
 */
export type DeviceTap = (direction: 'in' | 'out', bytes: Uint8Array, auto: boolean, shared: boolean) => void;

/** A turn's writes to a device totalling less than this are joined into one buffer. */
const JOIN_WRITES_BELOW = 64 * 1024;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');
const utf8 = new TextEncoder();

/** Strict UTF-8 of bytes in pieces (a character may straddle two): throws where they are not text. */
function decodeUtf8(parts: readonly Uint8Array[]): string {
  if (parts.length === 1) return strictUtf8.decode(parts[0]);
  // A decoder of its own: one that threw midway would carry a half character into the next message.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let text = '';
  for (let i = 0; i < parts.length - 1; i++) text += decoder.decode(parts[i], { stream: true });
  return text + decoder.decode(parts[parts.length - 1]);
}

/** A fanned-out frame is decoded once for every device that gets it. */
const decoded = new WeakMap<Uint8Array, ServerMessage>();
/** ...and translated once for every group of devices translated alike (null: they get nothing). */
const translated = new WeakMap<Uint8Array, WeakMap<object, Uint8Array | null>>();
/** Frames whose bytes depend on the frame and the settings only (files keep per-device state). */
const SAME_FOR_ALIKE = new Set<ServerMessage['type']>(['message', 'private', 'presence', 'notice', 'error']);
/**
 * The last batch of frames each group of devices translated alike turned into bytes: in a flush
 * the devices of one room come one after another with the very same frames, and the second and
 * later ones write the first one's buffer (no lookup per frame, no join per device).
 */
const lastBatch = new WeakMap<object, { frames: readonly Uint8Array[]; bytes: Uint8Array | undefined }>();

/**
 * A device that speaks no Switchboard framing, as the hub sees it: a member like any other.
 * Its bytes are cut into messages by its framing and said in its room; what the room says
 * reaches it as bytes through the same framing. The hub's frames are translated here, at the
 * edge, so nothing in the hub knows about lines or raw bytes.
 */
export class DeviceLink implements Link {
  readonly transport = 'tcp';
  readonly address: string;
  readonly ip: string;
  /** How it is framed and where it came from (what the hub is told of it beside this link: accept-device.ts). */
  readonly origin: DeviceOrigin;
  readonly taps = new Set<DeviceTap>();
  /**
   * Bytes, reads and writes as they crossed the device's socket (pipes and auto-replies
   * included): one count per entry of its traffic log, so the console's counters match its log.
   */
  readonly wire = { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
  #input: DeviceInput | undefined;
  /** Writes this turn, written together when the turn ends: one socket write and one system call, not one per message. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #onMessage: ((message: DeviceMessage) => void) | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #nextTransfer = 1;
  /** Files being sent to this device (raw framing with the type byte only): joined on file-end. */
  readonly #incomingFiles = new Map<number, { chunks: Uint8Array[]; bytes: number }>();
  /** Its sending rate: messages past it wait in #backlog, and the socket is not read meanwhile. */
  readonly #bucket: TokenBucket;
  readonly #backlog: DeviceMessage[] = [];
  #releaseTimer: NodeJS.Timeout | undefined;
  /** Reading stops while the hub is behind (pauseInput) or the device is over its rate: resumes when neither is. */
  #inputPaused = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly options: DeviceLinkOptions,
  ) {
    ({ ip: this.ip, address: this.address } = formatAddress(socket.remoteAddress, socket.remotePort));
    this.origin = options.origin;
    this.#bucket = new TokenBucket(options.rate.perSecond, options.rate.burst, Date.now());
    socket.once('close', () => clearTimeout(this.#releaseTimer));
  }

  get listener(): string | undefined {
    return this.origin.listener;
  }

  /** The device's remote port (with `ip`, what a rule scoped to one device matches). */
  get port(): number {
    return this.socket.remotePort ?? 0;
  }

  /**
   * Runs once when the device's connection closes (raw pipes close with it). Returns what
   * forgets it: a pipe that closes first must not leave its listener on the device's socket.
   */
  onClose(listener: () => void): () => void {
    if (this.socket.destroyed) {
      queueMicrotask(listener);
      return () => {};
    }
    this.socket.once('close', listener);
    return () => void this.socket.off('close', listener);
  }

  /** Starts reading: every message the device sends goes to `input`, and text messages to `onMessage` too (auto-replies). */
  attach(input: DeviceInput, onMessage?: (message: DeviceMessage) => void): void {
    this.#input = input;
    this.#onMessage = onMessage;
    this.socket.on('data', (chunk: Buffer) => this.#read(chunk));
    this.socket.once('close', () => this.options.framing.discard?.());
  }

  // ---- Link: the hub writes frames ----

  write(frames: readonly Uint8Array[]): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    const alike = this.options.translatedAlike;
    const last = alike === undefined ? undefined : lastBatch.get(alike);
    if (last !== undefined && sameFrames(last.frames, frames)) {
      if (last.bytes !== undefined) this.#out(last.bytes, false, true, true);
      return;
    }
    const out: Uint8Array[] = [];
    let alikeOnly = alike !== undefined;
    for (const frame of frames) {
      let message = decoded.get(frame);
      if (message === undefined) {
        message = decodeServerMessage(frame[4]!, frame.subarray(5));
        decoded.set(frame, message);
      }
      alikeOnly &&= SAME_FOR_ALIKE.has(message.type);
      const bytes = this.#translateShared(frame, message);
      if (bytes !== undefined) out.push(bytes);
    }
    const bytes = out.length === 0 ? undefined : out.length === 1 ? out[0]! : Buffer.concat(out);
    // A batch with a file frame in it is this device's own (its transfers' state): not shared.
    if (alikeOnly) lastBatch.set(alike!, { frames, bytes });
    if (bytes !== undefined) this.#out(bytes, false, alikeOnly, true);
  }

  /** Bytes straight to the device (a raw pipe writes here), seen by the taps. */
  writeRaw(bytes: Uint8Array, auto = false): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.#out(bytes, auto, false, false);
  }

  /**
   * One write to the device, seen by the taps and counted. `now`: the hub's flush, already one
   * write per device, goes to the socket at once when nothing of this turn waits; anything else
   * waits for the end of the turn and is joined with the rest, in order.
   */
  #out(bytes: Uint8Array, auto: boolean, shared: boolean, now: boolean): void {
    for (const tap of this.taps) tap('out', bytes, auto, shared);
    this.wire.bytesOut += bytes.length;
    this.wire.messagesOut++;
    if (now && this.#pending.length === 0) {
      this.socket.write(bytes);
      return;
    }
    if (this.#pending.length === 0) process.nextTick(this.#flushWrites);
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
  }

  /** The turn's writes as one: small ones joined (a copy is cheaper than a stream write each), large ones gathered. */
  readonly #flushWrites = (): void => {
    const pending = this.#pending;
    const bytes = this.#pendingBytes;
    if (pending.length === 0) return;
    this.#pending = [];
    this.#pendingBytes = 0;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (pending.length === 1) socket.write(pending[0]!);
    else if (bytes <= JOIN_WRITES_BELOW) socket.write(Buffer.concat(pending, bytes));
    else {
      socket.cork();
      for (const chunk of pending) socket.write(chunk);
      socket.uncork();
    }
  };

  /** An auto-reply: one message through the device's framing (a line listener appends its delimiter). */
  reply(bytes: Uint8Array): void {
    this.writeRaw(this.options.framing.encodeReply(bytes), true);
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  get bufferedBytes(): number {
    return this.socket.writableLength + this.#pendingBytes;
  }

  /** Runs `listener` once what was written to the device has left for it (a raw pipe waits for this). */
  whenDrained(listener: () => void): void {
    if (this.socket.destroyed) return;
    this.#flushWrites();
    if (this.socket.writableLength === 0) queueMicrotask(listener);
    else this.socket.once('drain', listener);
  }

  pauseInput(): void {
    this.#inputPaused = true;
    this.socket.pause();
  }

  resumeInput(): void {
    this.#inputPaused = false;
    if (this.#backlog.length === 0) this.socket.resume();
  }

  end(): void {
    clearTimeout(this.#idleTimer);
    if (this.socket.destroyed) return;
    this.#flushWrites(); // what was written this turn goes before the end
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), this.options.closeTimeoutMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  destroy(): void {
    clearTimeout(this.#idleTimer);
    this.socket.destroy();
  }

  // ---- The device's bytes in ----

  #read(chunk: Uint8Array): void {
    for (const tap of this.taps) tap('in', chunk, false, false);
    this.wire.bytesIn += chunk.length;
    this.wire.messagesIn++;
    const framing = this.options.framing;
    for (const message of framing.push(chunk)) this.#paced(message);
    if (framing.pending > 0 && framing.idleMs > 0) {
      // One timer for the link, started again on each read that leaves bytes held (no new
      // timer per read); one that goes off with nothing held does nothing.
      if (this.#idleTimer !== undefined) this.#idleTimer.refresh();
      else {
        this.#idleTimer = setTimeout(() => {
          const message = framing.flush();
          if (message !== undefined) this.#paced(message);
        }, framing.idleMs);
        this.#idleTimer.unref();
      }
    }
  }

  /**
   * A message within the device's rate is said now; past it, it waits its turn and the socket
   * is not read meanwhile (TCP pushes back on the device): a fast device is slowed, never cut,
   * and nothing it sent is lost.
   */
  #paced(message: DeviceMessage): void {
    if (this.#backlog.length === 0 && this.#bucket.take(Date.now())) return this.#said(message);
    this.#backlog.push(message);
    if (this.#backlog.length === 1) {
      this.socket.pause();
      this.#scheduleRelease();
    }
  }

  #scheduleRelease(): void {
    // About one token's time, at least 10 ms: the backlog goes out in small batches, not one timer a message.
    const wait = Math.max(10, Math.ceil(1000 / this.options.rate.perSecond));
    this.#releaseTimer = setTimeout(() => this.#release(), wait);
  }

  #release(): void {
    if (this.socket.destroyed) return;
    const now = Date.now();
    while (this.#backlog.length > 0 && this.#bucket.take(now)) this.#said(this.#backlog.shift()!);
    if (this.#backlog.length > 0) return this.#scheduleRelease();
    if (!this.#inputPaused) this.socket.resume();
  }

  #said(message: DeviceMessage): void {
    const input = this.#input;
    if (input === undefined) return;
    if (message.cut && this.options.notices)
      this.#tellDevice(`ERROR LINE_TOO_LONG: a line longer than the listener's limit was cut after ${message.bytes.length} bytes`);
    if (message.refused !== undefined) {
      // Dropped either way; the device hears why only when it asked for the gateway's words.
      if (this.options.notices) {
        this.#tellDevice(
          message.refused === 'too-large'
            ? `ERROR FILE_TOO_LARGE: a file longer than ${this.options.maxFileBytes} bytes was refused`
            : "ERROR FILE_TOO_LARGE: devices' unfinished files are at the gateway's limit; this file was refused, send it again",
        );
      }
      return;
    }
    if (message.kind === 'file') return this.#sendFile(input, message.bytes);
    this.#onMessage?.(message);
    // A message that came in several reads is decoded read by read, never joined (see HeldMessage).
    const parts = partsOf(message);
    let length = 0;
    for (const part of parts) length += part.length;
    if (this.options.encoding === 'latin1') return input.message({ type: 'message', text: parts.map((part) => latin1.decode(part)).join('') }, length);
    let text: string;
    try {
      text = decodeUtf8(parts);
    } catch {
      // Not text: the exact bytes travel as base64, the room sees their UTF-8 reading.
      const bytes = message.bytes;
      return input.message({ type: 'message', text: '', data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64') }, length);
    }
    input.message({ type: 'message', text }, length);
  }

  /** A `1`-typed send: one whole file, offered to the room in chunks like any member's. */
  #sendFile(input: DeviceInput, bytes: Uint8Array): void {
    const transfer = this.#nextTransfer++;
    input.message({ type: 'file-offer', transfer, name: `file-${transfer}.bin`, size: bytes.length }, 0);
    for (let at = 0; at < bytes.length; at += FILE_CHUNK_BYTES) {
      const data = bytes.subarray(at, at + FILE_CHUNK_BYTES);
      input.message({ type: 'file-data', transfer, data }, data.length);
    }
    input.message({ type: 'file-end', transfer, sha256: createHash('sha256').update(bytes).digest('hex') }, 0);
  }

  // ---- The room's frames out, as the device expects them ----

  #translateShared(frame: Uint8Array, message: ServerMessage): Uint8Array | undefined {
    const alike = this.options.translatedAlike;
    if (alike === undefined || !SAME_FOR_ALIKE.has(message.type)) return this.#translate(message);
    let forFrame = translated.get(frame);
    const known = forFrame?.get(alike);
    if (known !== undefined) return known ?? undefined;
    const bytes = this.#translate(message);
    if (forFrame === undefined) translated.set(frame, (forFrame = new WeakMap()));
    forFrame.set(alike, bytes ?? null);
    return bytes;
  }

  #translate(message: ServerMessage): Uint8Array | undefined {
    const prefix = this.options.senderPrefix;
    switch (message.type) {
      case 'message':
      case 'private': {
        const body = message.data !== undefined ? Buffer.from(message.data, 'base64') : this.#encode(message.text);
        if (!prefix) return this.#frame(body);
        const head = message.type === 'private' ? `[private] ${message.from}: ` : plainLines.chat(message.room, message.from, '');
        return this.#frame(Buffer.concat([this.#encode(head), body]));
      }
      // The gateway's own words reach a device only when it asked (`notices`): many devices take
      // every line as a command (a robot once got "* server: The gateway is shutting down…#").
      case 'presence': {
        if (!this.options.notices) return undefined;
        return this.#frame(this.#encode(plainLines.presence(message.room, message.event, message.member.name, message)));
      }
      case 'notice':
        // An operator's word to this device alone reaches it like a private message.
        if (message.private === true && message.code === undefined) return this.#frame(this.#encode(prefix ? plainLines.notice(message.text) : message.text));
        return this.options.notices ? this.#frame(this.#encode(plainLines.notice(message.text))) : undefined;
      case 'error':
        // A device cannot parse error frames: with notices, it gets a line it can log.
        return this.options.notices ? this.#frame(this.#encode(`ERROR ${message.code}: ${message.message}`)) : undefined;
      case 'file-offer':
        if (this.options.framing.carriesFiles && message.size <= this.options.maxFileBytes) {
          this.#incomingFiles.set(message.transfer, { chunks: [], bytes: 0 });
        }
        return this.options.notices ? this.#frame(this.#encode(plainLines.file(message.from, message.name, message.size))) : undefined;
      case 'file-data': {
        const file = this.#incomingFiles.get(message.transfer);
        if (file !== undefined) {
          file.chunks.push(message.data);
          file.bytes += message.data.length;
        }
        return undefined;
      }
      case 'file-end': {
        const file = this.#incomingFiles.get(message.transfer);
        this.#incomingFiles.delete(message.transfer);
        return file === undefined ? undefined : this.options.framing.encode({ kind: 'file', bytes: Buffer.concat(file.chunks) });
      }
      case 'file-abort':
        this.#incomingFiles.delete(message.transfer);
        return undefined;
      default:
        return undefined; // welcome, roster, history, rooms, ping: the hub's bookkeeping, not the device's
    }
  }

  #tellDevice(line: string): void {
    this.writeRaw(this.#frame(this.#encode(line)));
  }

  #frame(bytes: Uint8Array): Uint8Array {
    return this.options.framing.encode({ kind: 'text', bytes });
  }

  #encode(text: string): Uint8Array {
    return this.options.encoding === 'latin1' ? Buffer.from(text, 'latin1') : utf8.encode(text);
  }
}

function sameFrames(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
