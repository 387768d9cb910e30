import { EventEmitter } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import {
  FATAL_ERROR_CODES,
  FrameDecoder,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeServerMessage,
  encodeMessage,
  isValidName,
  type ClientMessage,
  type ErrorCode,
  type ServerMessage,
  type ServerMessageOf,
} from '@switchboard/protocol';
import { ClientError, describeSocketError } from './client-errors.js';
import { FileReceiver, type FileAborted, type FileProgress, type FileSaved } from './file-receiver.js';
import { streamFileChunks } from './file-sender.js';

export type WelcomeMessage = ServerMessageOf<'welcome'>;
export type ChatMessage = ServerMessageOf<'message'>;
export type PrivateMessage = ServerMessageOf<'private'>;
export type PresenceMessage = ServerMessageOf<'presence'>;
export type RosterReply = ServerMessageOf<'roster'>;
export type NoticeMessage = ServerMessageOf<'notice'>;
export type ErrorMessage = ServerMessageOf<'error'>;
export type RoomsReply = ServerMessageOf<'rooms'>;
export type HistoryReply = ServerMessageOf<'history'>;
export type FileOfferMessage = ServerMessageOf<'file-offer'>;
export type ServerMessageType = ServerMessage['type'];

export interface ConnectOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 9000. */
  port?: number;
  /** Name to ask for in hello; without it the server keeps the address name. */
  name?: string;
  /** First room (server default: lobby). */
  room?: string;
  /** Last message id seen: the first history is then what was missed. */
  since?: number;
  /** Say hello (default). false: a plain device that sends type-0 text and gets text lines. */
  hello?: boolean;
  /** true, or node:tls options (ca, rejectUnauthorized, servername...), to connect over TLS. */
  tls?: boolean | tls.ConnectionOptions;
  /** Where received files are saved. Without it files are verified and dropped; events still fire. */
  downloadDir?: string;
  /** Limit for the TCP (and TLS) connection plus the welcome. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** How long rooms(), roster(), history(), ping(), say()... wait for their reply. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /** Largest frame accepted from the server (N, as in PROTOCOL.md §1). Default 16 MiB. */
  maxFrameLength?: number;
}

export interface CloseInfo {
  /** The server's error or notice code (KICKED, HEARTBEAT_TIMEOUT...), a decoder code, or a socket errno. */
  code?: string;
  reason?: string;
  /** Set when the connection ended because of an error. */
  error?: Error;
}

export interface HistoryQuery {
  room?: string;
  /** Only the private conversation with this member. */
  with?: string;
  /** Only private messages and files, to or from you. */
  private?: boolean;
  before?: number;
  after?: number;
  limit?: number;
}

export interface SendFileOptions {
  /** Room to offer the file to (default: the current room, as the server sees it). */
  room?: string;
  /** Send to one member instead of a room. */
  to?: string;
  /** MIME type to announce; the server picks one when absent. */
  mime?: string;
  /** Name to announce instead of the file's own base name. */
  name?: string;
  onProgress?: (sent: number, size: number) => void;
  /** Aborting sends file-abort and rejects with FILE_CANCELLED. */
  signal?: AbortSignal;
}

export interface SentFile {
  /** Our transfer id, and the server's (from its file-offer echo). */
  transfer: number;
  serverTransfer: number;
  /** The history id of the file announcement. */
  id: number;
  name: string;
  size: number;
  sha256: string;
}

export interface JoinReply {
  roster: RosterReply;
  history: HistoryReply;
}

export interface SwitchboardClientEvents {
  welcome: [WelcomeMessage];
  message: [ChatMessage];
  private: [PrivateMessage];
  presence: [PresenceMessage];
  roster: [RosterReply];
  notice: [NoticeMessage];
  'server-error': [ErrorMessage];
  /** A type-0 text line, what plain devices receive. */
  text: [string];
  'file-offer': [FileOfferMessage];
  'file-progress': [FileProgress];
  'file-saved': [FileSaved];
  'file-aborted': [FileAborted];
  /** The server pinged; the pong has already been sent. */
  ping: [Uint8Array];
  /** A frame that could not be decoded (unknown type, bad JSON...); it was skipped. */
  'protocol-error': [ProtocolError];
  close: [CloseInfo];
  /** Every decoded server message, after its own event. */
  frame: [ServerMessage];
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 9000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_WAIT_FOR_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_FRAME_LENGTH = 16 * 1024 * 1024;
// After close() half-closes the socket, how long the server gets to close its side.
const GRACEFUL_CLOSE_MS = 2_000;

// Codes that answer a file-offer: they go to the oldest offer still waiting for its echo.
const OFFER_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['FILE_TOO_LARGE', 'FILE_TRANSFER_EXISTS', 'TOO_MANY_TRANSFERS']);
// Codes about data already streaming: they go to the transfer being sent, not to a request.
const STREAM_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'FILE_UNKNOWN_TRANSFER',
  'FILE_SIZE_MISMATCH',
  'FILE_CHECKSUM_MISMATCH',
  'FILE_ABORTED',
]);

type Step = (message: ServerMessage) => boolean;

/** A request waiting for its reply (or its echo, which is the acknowledgement). */
interface PendingRequest {
  kind: string;
  /** The replies it expects, in order; each incoming message may satisfy the next one. */
  steps: Step[];
  replies: ServerMessage[];
  /** False for placeholders that only claim unsolicited replies (the roster after hello). */
  takesErrors: boolean;
  resolve: (replies: ServerMessage[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface Waiter {
  type: ServerMessageType;
  predicate: ((message: ServerMessage) => boolean) | undefined;
  resolve: (message: ServerMessage) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface OutgoingTransfer {
  transfer: number;
  serverTransfer?: number;
  cancelled?: Error;
  /** Interrupts a wait for 'drain' when the transfer is cancelled. */
  interrupt?: (error: Error) => void;
}

type State = 'connecting' | 'open' | 'closing' | 'closed';

/**
 * A connection to a Switchboard server. Get one with connect(). Every server message is
 * emitted as an event; requests (rooms, roster, history, ping) and chat (say, private, join,
 * leave, nick) return promises that settle with the reply or the echo that acknowledges
 * them. Those promises are marked handled, so a caller that does not await them never sees
 * an unhandled rejection.
 *
 * The protocol has no request ids. Replies are matched to requests in the order they were
 * sent, per reply type (the server answers in order). An error frame is attributed to the
 * oldest request still waiting (file errors to the oldest file transfer): right when one
 * request is outstanding, a guess when several are, since an error frame does not say which
 * frame it answers. Every error frame is also emitted as 'server-error'.
 */
export class SwitchboardClient extends EventEmitter<SwitchboardClientEvents> {
  /** Opens a connection and resolves after welcome (or after connecting when hello is false). */
  static connect(options: ConnectOptions = {}): Promise<SwitchboardClient> {
    try {
      // Names are checked here too, so a bad one fails before any connection is made.
      if (options.name !== undefined) checkName(options.name, 'name');
      if (options.room !== undefined) checkName(options.room, 'room');
    } catch (error) {
      return Promise.reject(error);
    }
    const client = new SwitchboardClient(options);
    return client.#start();
  }

  readonly host: string;
  readonly port: number;
  /** False for a plain device. */
  readonly hello: boolean;
  #name: string | null = null;
  #id: string | null = null;
  #welcome: WelcomeMessage | null = null;
  // Rooms this client is in, the most recently joined last: the last is the current room.
  #rooms: string[] = [];

  readonly #options: ConnectOptions;
  readonly #requestTimeoutMs: number;
  readonly #socket: net.Socket;
  readonly #decoder: FrameDecoder;
  readonly #receiver: FileReceiver;
  #state: State = 'connecting';
  #pending: PendingRequest[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #outgoing = new Map<number, OutgoingTransfer>();
  #nextTransfer = 1;
  #nextPing = 1;
  #inputHolds = 0;
  #closeInfo: CloseInfo | undefined;
  #lastNotice: NoticeMessage | undefined;
  // Messages that arrive with (or right after) welcome, held until connect()'s caller has
  // had a chance to add listeners; see #onWelcome.
  #held: ServerMessage[] | undefined;
  #settleConnect: { resolve: () => void; reject: (error: Error) => void } | undefined;
  readonly #closed: Promise<void>;
  #markClosed!: () => void;

  private constructor(options: ConnectOptions) {
    super();
    this.#options = options;
    this.host = options.host ?? DEFAULT_HOST;
    this.port = options.port ?? DEFAULT_PORT;
    this.hello = options.hello ?? true;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#decoder = new FrameDecoder(this.#onFrame, { maxFrameLength: options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH });
    this.#receiver = new FileReceiver({
      downloadDir: options.downloadDir,
      holdInput: this.#holdInput,
      // The receiver calls these from its own async work; a throwing listener must not
      // be mistaken for a disk error there.
      onProgress: (progress) => rethrowLater(() => this.emit('file-progress', progress)),
      onSaved: (saved) => rethrowLater(() => this.emit('file-saved', saved)),
      onAborted: (aborted) => rethrowLater(() => this.emit('file-aborted', aborted)),
    });
    this.#closed = new Promise((resolve) => (this.#markClosed = resolve));
    this.#socket = this.#openSocket();
  }

  /** The name the server knows us by (null for a plain device, whose name is its address). */
  get name(): string | null {
    return this.#name;
  }

  /** The connection id from welcome (the REST API's client id). */
  get id(): string | null {
    return this.#id;
  }

  /** The current room: where text and say() without a room go. */
  get room(): string | null {
    return this.#rooms.at(-1) ?? null;
  }

  /** The rooms this client is in, the current one last. */
  get joinedRooms(): readonly string[] {
    return [...this.#rooms];
  }

  get welcome(): WelcomeMessage | null {
    return this.#welcome;
  }

  /** True until the connection is closed or closing. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  // ---------------------------------------------------------------------------------------
  // Chat
  // ---------------------------------------------------------------------------------------

  /**
   * Says `text` in `room` (default: the current room). Resolves with the server's echo, the
   * acknowledgement that the message was accepted and stored. A plain device sends a type-0
   * text frame instead, and the promise resolves with null once it is written.
   */
  say(text: string, room?: string): Promise<ChatMessage | null> {
    return this.#guard(() => {
      if (room !== undefined) checkName(room, 'room');
      if (!this.hello) {
        return room === undefined
          ? this.sendText(text).then(() => null)
          : this.#writeFlushed({ type: 'message', room, text }).then(() => null);
      }
      const me = this.#name;
      return this.#request(
        'message',
        { type: 'message', text, ...(room === undefined ? {} : { room }) },
        [(m) => m.type === 'message' && sameName(m.from, me) && m.text === text && (room === undefined || sameName(m.room, room))],
        ([echo]) => echo as ChatMessage,
      );
    });
  }

  /** Sends `text` as a raw type-0 frame (said in the current room). Resolves once written. */
  sendText(text: string): Promise<void> {
    return this.#guard(() => this.#writeFlushed({ type: 'text', text }));
  }

  /** A private message to the member named `to`. Resolves with the echo (null for a plain device). */
  private(to: string, text: string): Promise<PrivateMessage | null> {
    return this.#guard(() => {
      checkName(to, 'member name');
      if (!this.hello) return this.#writeFlushed({ type: 'private', to, text }).then(() => null);
      const me = this.#name;
      return this.#request(
        'private',
        { type: 'private', to, text },
        [(m) => m.type === 'private' && sameName(m.from, me) && sameName(m.to, to) && m.text === text],
        ([echo]) => echo as PrivateMessage,
      );
    });
  }

  /** Joins (or creates) `room` and makes it current. Resolves with its roster and history. */
  join(room: string): Promise<JoinReply | null> {
    return this.#guard(() => {
      checkName(room, 'room');
      if (!this.hello) return this.#writeFlushed({ type: 'join', room }).then(() => null);
      return this.#request(
        'join',
        { type: 'join', room },
        [(m) => m.type === 'roster' && sameName(m.room, room), (m) => m.type === 'history' && roomMatches(m.room, room)],
        ([roster, history]) => {
          this.#enterRoom((roster as RosterReply).room);
          return { roster: roster as RosterReply, history: history as HistoryReply };
        },
      );
    });
  }

  /** Leaves `room`. Resolves when the server confirms with our presence leave. */
  leave(room: string): Promise<void> {
    return this.#guard(() => {
      checkName(room, 'room');
      if (!this.hello) return this.#writeFlushed({ type: 'leave', room });
      return this.#request(
        'leave',
        { type: 'leave', room },
        [(m) => m.type === 'presence' && m.event === 'leave' && this.#isMe(m) && sameName(m.room, room)],
        () => undefined,
      );
    });
  }

  /** Renames this member. Resolves on our presence rename (or once written when in no room). */
  nick(name: string): Promise<void> {
    return this.#guard(() => {
      checkName(name, 'name');
      if (!this.hello || this.#rooms.length === 0) return this.#writeFlushed({ type: 'nick', name });
      return this.#request(
        'nick',
        { type: 'nick', name },
        [(m) => m.type === 'presence' && m.event === 'rename' && this.#isMe(m) && sameName(m.member.name, name)],
        () => undefined,
      );
    });
  }

  /** The server's room list. */
  rooms(): Promise<RoomsReply> {
    return this.#guard(() => this.#request('rooms', { type: 'rooms' }, [(m) => m.type === 'rooms'], ([r]) => r as RoomsReply));
  }

  /** The members of `room` (default: the current room). */
  roster(room?: string): Promise<RosterReply> {
    return this.#guard(() => {
      if (room !== undefined) checkName(room, 'room');
      return this.#request(
        'roster',
        { type: 'roster', ...(room === undefined ? {} : { room }) },
        [(m) => m.type === 'roster' && (room === undefined || sameName(m.room, room))],
        ([r]) => r as RosterReply,
      );
    });
  }

  /** Stored messages (PROTOCOL.md §6). */
  history(query: HistoryQuery = {}): Promise<HistoryReply> {
    return this.#guard(() => {
      if (query.room !== undefined) checkName(query.room, 'room');
      if (query.with !== undefined) checkName(query.with, 'member name');
      const body = definedOnly({ room: query.room, with: query.with, private: query.private, before: query.before, after: query.after, limit: query.limit });
      return this.#request(
        'history',
        { type: 'history', ...body },
        [
          (m) =>
            m.type === 'history' &&
            (query.room === undefined || roomMatches(m.room, query.room)) &&
            (query.with === undefined || sameName(m.with, query.with)) &&
            (query.private === undefined || m.private === query.private),
        ],
        ([r]) => r as HistoryReply,
      );
    });
  }

  /** Pings the server; resolves with the round trip in milliseconds. */
  ping(): Promise<number> {
    return this.#guard(() => {
      const data = u32Bytes(this.#nextPing++);
      const started = performance.now();
      return this.#request(
        'ping',
        { type: 'ping', data },
        [(m) => m.type === 'pong' && sameBytes(m.data, data)],
        () => performance.now() - started,
      );
    });
  }

  // ---------------------------------------------------------------------------------------
  // Files
  // ---------------------------------------------------------------------------------------

  /**
   * Sends a file: file-offer, then (once the server has echoed the offer, so a refusal such
   * as FILE_TOO_LARGE costs no data) file-data chunks of FILE_CHUNK_BYTES read from disk
   * with backpressure and hashed on the way, then file-end with the SHA-256. Resolves when
   * file-end has been written: the protocol sends no confirmation to the sender, so a
   * server-side FILE_CHECKSUM_MISMATCH after that only shows as a 'server-error' event.
   */
  async sendFile(filePath: string, options: SendFileOptions = {}): Promise<SentFile> {
    this.#assertOpen();
    if (options.room !== undefined) checkName(options.room, 'room');
    if (options.to !== undefined) checkName(options.to, 'member name');
    let file: FileHandle;
    try {
      file = await open(filePath, 'r');
    } catch (cause) {
      throw new ClientError('FILE_UNREADABLE', `Cannot read ${filePath}: ${describeFsError(cause)}.`, { cause });
    }
    const transfer = this.#takeTransferId();
    const outgoing: OutgoingTransfer = { transfer };
    let offered = false;
    let onAbort: (() => void) | undefined;
    try {
      const stat = await file.stat();
      if (!stat.isFile()) throw new ClientError('FILE_UNREADABLE', `${filePath} is not a regular file.`);
      const size = stat.size;
      const name = options.name ?? path.basename(filePath);
      const signal = options.signal;
      if (signal?.aborted) throw new ClientError('FILE_CANCELLED', 'The transfer was aborted before it started.');
      this.#assertOpen();
      this.#outgoing.set(transfer, outgoing);
      onAbort = (): void => this.#cancelOutgoing(outgoing, new ClientError('FILE_CANCELLED', 'The transfer was aborted.'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const me = this.#name;
      const offerMessage: ClientMessage = {
        type: 'file-offer',
        transfer,
        name,
        size,
        ...definedOnly({ mime: options.mime, room: options.room, to: options.to }),
      };
      offered = true;
      const offer = await this.#request(
        'file-offer',
        offerMessage,
        // Not matched on the name: a server may shorten or clean it up.
        [(m) => m.type === 'file-offer' && sameName(m.from, me) && m.size === size],
        ([echo]) => echo as FileOfferMessage,
      );
      outgoing.serverTransfer = offer.transfer;
      const sha256 = await streamFileChunks(
        file,
        size,
        transfer,
        {
          writeChunk: (id, data) => this.#write({ type: 'file-data', transfer: id, data }),
          drained: () => this.#drained(outgoing),
          checkCancelled: () => {
            if (outgoing.cancelled) throw outgoing.cancelled;
            this.#assertOpen();
          },
        },
        options.onProgress,
      );
      await this.#writeFlushed({ type: 'file-end', transfer, sha256 });
      return { transfer, serverTransfer: offer.transfer, id: offer.id, name, size, sha256 };
    } catch (error) {
      // Tell the server, unless it is the one that ended the transfer or the link is gone.
      const serverEnded = error instanceof ProtocolError;
      if (offered && !serverEnded && this.#state === 'open' && this.#socket.writable) {
        this.#write({ type: 'file-abort', transfer, reason: error instanceof Error ? error.message : String(error) });
      }
      throw error;
    } finally {
      if (onAbort) options.signal?.removeEventListener('abort', onAbort);
      this.#outgoing.delete(transfer);
      await file.close().catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Waiting and closing
  // ---------------------------------------------------------------------------------------

  /**
   * The next server message of `type` (arriving after this call) that satisfies `predicate`.
   * Rejects with TIMEOUT after `timeoutMs` (default 5 s) and with CLOSED when the
   * connection ends first.
   */
  waitFor<T extends ServerMessageType>(
    type: T,
    predicate?: (message: ServerMessageOf<T>) => boolean,
    timeoutMs: number = DEFAULT_WAIT_FOR_TIMEOUT_MS,
  ): Promise<ServerMessageOf<T>> {
    if (this.#state === 'closed') {
      return Promise.reject(new ClientError('CLOSED', `The connection is closed; no "${type}" frame will arrive.`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        type,
        predicate: predicate as Waiter['predicate'],
        resolve: resolve as Waiter['resolve'],
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new ClientError('TIMEOUT', `Timed out after ${timeoutMs} ms waiting for a "${type}" frame.`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /**
   * Closes gracefully: half-closes the socket, waits for the server to close its side
   * (destroying the socket after 2 s), deletes partial downloads. Idempotent.
   */
  close(): Promise<void> {
    if (this.#state === 'connecting' || this.#state === 'open') {
      this.#state = 'closing';
      this.#closeInfo ??= { reason: 'closed by client' };
      this.#socket.end();
      this.#socket.resume(); // Keep reading so the server's FIN (and 'close') arrives.
      const force = setTimeout(() => this.#socket.destroy(), GRACEFUL_CLOSE_MS);
      force.unref();
      void this.#closed.then(() => clearTimeout(force));
    }
    return this.#closed;
  }

  /** Closes at once without waiting for the server. */
  destroy(): Promise<void> {
    this.#closeInfo ??= { reason: 'destroyed by client' };
    this.#socket.destroy();
    return this.#closed;
  }

  // ---------------------------------------------------------------------------------------
  // Connection
  // ---------------------------------------------------------------------------------------

  #openSocket(): net.Socket {
    const { host, port } = this;
    const useTls = this.#options.tls;
    if (useTls) {
      const tlsOptions: tls.ConnectionOptions = typeof useTls === 'object' ? useTls : {};
      const servername = tlsOptions.servername ?? (net.isIP(host) === 0 ? host : undefined);
      return tls.connect({ ...tlsOptions, host, port, ...(servername ? { servername } : {}) });
    }
    return net.connect({ host, port });
  }

  #start(): Promise<SwitchboardClient> {
    const socket = this.#socket;
    const where = `${this.host}:${this.port}`;
    const connected = new Promise<void>((resolve, reject) => (this.#settleConnect = { resolve, reject }));
    const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(() => {
      this.#failConnect(new ClientError('CONNECT_TIMEOUT', `cannot connect to ${where}: no ${this.hello ? 'welcome' : 'connection'} within ${timeoutMs} ms`));
    }, timeoutMs);

    socket.setNoDelay(true);
    socket.on(this.#options.tls ? 'secureConnect' : 'connect', () => {
      if (this.#state !== 'connecting') return;
      if (!this.hello) {
        this.#state = 'open';
        this.#settleConnect?.resolve();
        this.#settleConnect = undefined;
        return;
      }
      const { name, room, since } = this.#options;
      this.#write({ type: 'hello', v: PROTOCOL_VERSION, ...definedOnly({ name, room, since }) });
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#decoder.push(chunk);
      } catch (error) {
        // Only the decoder throws out of push (listener errors are rethrown separately):
        // the byte stream cannot be trusted any more.
        const failure = error instanceof ProtocolError ? error : new ProtocolError('INTERNAL', String(error), { cause: error });
        this.#closeInfo = { code: failure.code, reason: failure.message, error: failure };
        if (this.#state === 'connecting') this.#failConnect(failure);
        socket.destroy();
      }
    });
    socket.on('error', (error) => {
      if (this.#state === 'connecting') {
        this.#failConnect(new ClientError('CONNECT_FAILED', `cannot connect to ${where}: ${describeSocketError(error)}`, { cause: error }));
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      this.#closeInfo ??= { ...(code ? { code } : {}), reason: describeSocketError(error), error };
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (this.#state === 'connecting') {
        this.#failConnect(new ClientError('CLOSED', `cannot connect to ${where}: the server closed the connection before ${this.hello ? 'welcome' : 'it opened'}`));
      }
      void this.#finish();
    });

    return connected.then(
      () => {
        clearTimeout(timer);
        return this;
      },
      (error: unknown) => {
        clearTimeout(timer);
        throw error;
      },
    );
  }

  #failConnect(error: Error): void {
    const settle = this.#settleConnect;
    this.#settleConnect = undefined;
    this.#closeInfo ??= { ...('code' in error ? { code: String(error.code) } : {}), reason: error.message, error };
    settle?.reject(error);
    this.#socket.destroy();
  }

  async #finish(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#releaseHeld(); // A fatal error frame among them decides how the connection ended.
    this.#state = 'closed';
    const info: CloseInfo = this.#closeInfo ?? this.#serverClosedInfo();
    const reason = info.error ?? new ClientError('CLOSED', `The connection closed${info.reason ? ` (${info.reason})` : ''}.`);
    for (const request of this.#pending.splice(0)) {
      clearTimeout(request.timer);
      request.reject(reason);
    }
    for (const waiter of [...this.#waiters]) {
      clearTimeout(waiter.timer);
      waiter.reject(reason);
    }
    this.#waiters.clear();
    for (const outgoing of this.#outgoing.values()) this.#cancelOutgoing(outgoing, reason);
    await this.#receiver.close('The connection closed.');
    this.emit('close', info);
    this.#markClosed();
  }

  #serverClosedInfo(): CloseInfo {
    const notice = this.#lastNotice;
    if (notice?.code) return { code: notice.code, reason: notice.text };
    return { reason: 'connection closed by server' };
  }

  // ---------------------------------------------------------------------------------------
  // Incoming frames
  // ---------------------------------------------------------------------------------------

  readonly #onFrame = (type: number, payload: Uint8Array): void => {
    let message: ServerMessage;
    try {
      message = decodeServerMessage(type, payload);
    } catch (error) {
      // PROTOCOL.md §1: a receiver skips frames it does not handle. Report and move on.
      if (error instanceof ProtocolError) this.emit('protocol-error', error);
      return;
    }
    if (this.#held) this.#held.push(message);
    else this.#dispatchSafely(message);
  };

  #dispatchSafely(message: ServerMessage): void {
    // A listener that throws must not break the decoder's loop: rethrow outside it.
    rethrowLater(() => this.#dispatch(message));
  }

  #releaseHeld(): void {
    const held = this.#held;
    this.#held = undefined;
    for (const message of held ?? []) this.#dispatchSafely(message);
  }

  #dispatch(message: ServerMessage): void {
    if (this.#state === 'closed') return;
    switch (message.type) {
      case 'welcome':
        this.#onWelcome(message);
        break;
      case 'error':
        this.#onServerError(message);
        break;
      case 'ping':
        if ((this.#state === 'open' || this.#state === 'connecting') && this.#socket.writable) {
          this.#write({ type: 'pong', data: message.data });
        }
        break;
      case 'presence':
        this.#onPresence(message);
        break;
      case 'notice':
        this.#lastNotice = message;
        break;
      case 'file-data':
        this.#receiver.data(message.transfer, message.data);
        break;
      case 'file-end':
        this.#receiver.end(message.transfer, message.sha256);
        break;
      case 'file-abort':
        this.#onFileAbort(message);
        break;
    }
    // file-offer: our own offer's echo completes sendFile's request; any other is a download.
    const claimed = message.type !== 'error' && this.#claimReply(message);
    if (message.type === 'file-offer' && !claimed) this.#receiver.offer(message);
    this.#notifyWaiters(message);
    this.#emitEvent(message);
    this.emit('frame', message);
  }

  #emitEvent(message: ServerMessage): void {
    switch (message.type) {
      case 'welcome':
      case 'message':
      case 'private':
      case 'presence':
      case 'roster':
      case 'notice':
      case 'file-offer':
        (this.emit as (event: string, arg: unknown) => boolean)(message.type, message);
        break;
      case 'error':
        this.emit('server-error', message);
        break;
      case 'text':
        this.emit('text', message.text);
        break;
      case 'ping':
        this.emit('ping', message.data);
        break;
    }
  }

  #onWelcome(welcome: WelcomeMessage): void {
    this.#welcome = welcome;
    this.#name = welcome.name;
    this.#id = welcome.id;
    this.#rooms = welcome.rooms.filter((r) => !sameName(r, welcome.room));
    this.#rooms.push(welcome.room);
    if (this.#state === 'connecting') {
      this.#state = 'open';
      this.#settleConnect?.resolve();
      this.#settleConnect = undefined;
      // presence, roster and history usually arrive in the same read as welcome. Hold them
      // until the code awaiting connect() has run (setImmediate comes after its promise
      // continuation), so listeners it adds, and waitFor() calls it makes, see them.
      this.#held = [];
      setImmediate(() => this.#releaseHeld());
    }
    // The roster and history that follow welcome (§3) are not replies to anything we asked:
    // claim them so a roster() or history() sent right after connecting gets its own.
    const room = welcome.room;
    this.#placeholder('session', [(m) => m.type === 'roster' && sameName(m.room, room), (m) => m.type === 'history' && roomMatches(m.room, room)]);
  }

  #onPresence(presence: PresenceMessage): void {
    if (!this.#isMe(presence)) return;
    if (presence.event === 'join') this.#enterRoom(presence.room);
    else if (presence.event === 'leave') this.#rooms = this.#rooms.filter((r) => !sameName(r, presence.room));
    else if (presence.event === 'rename') this.#name = presence.member.name;
  }

  #onServerError(error: ErrorMessage): void {
    const failure = new ProtocolError(error.code, error.message);
    const fatal = error.fatal === true || FATAL_ERROR_CODES.has(error.code);
    if (this.#state === 'connecting') {
      // NAME_TAKEN, NAME_INVALID, ROOM_INVALID, UNSUPPORTED_VERSION...: this hello failed.
      this.#failConnect(failure);
      return;
    }
    if (fatal) {
      this.#closeInfo = { code: error.code, reason: error.message, error: failure };
      this.#socket.destroy();
      return;
    }
    if (STREAM_ERROR_CODES.has(error.code)) {
      const outgoing = [...this.#outgoing.values()].find((o) => o.serverTransfer !== undefined && !o.cancelled);
      if (outgoing) this.#cancelOutgoing(outgoing, failure);
      return;
    }
    const waiting = this.#pending.filter((r) => r.takesErrors);
    const request = (OFFER_ERROR_CODES.has(error.code) && waiting.find((r) => r.kind === 'file-offer')) || waiting[0];
    if (request) this.#settle(request, failure);
  }

  #onFileAbort(abort: ServerMessageOf<'file-abort'>): void {
    for (const outgoing of this.#outgoing.values()) {
      if (outgoing.serverTransfer === abort.transfer) {
        this.#cancelOutgoing(outgoing, new ProtocolError(abort.code, abort.reason));
        return;
      }
    }
    this.#receiver.abort(abort.transfer, abort.code, abort.reason);
  }

  #claimReply(message: ServerMessage): boolean {
    for (const request of this.#pending) {
      const step = request.steps[request.replies.length];
      if (step && step(message)) {
        request.replies.push(message);
        if (request.replies.length === request.steps.length) this.#settle(request);
        return true;
      }
    }
    return false;
  }

  #notifyWaiters(message: ServerMessage): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.type !== message.type) continue;
      let matches: boolean;
      try {
        matches = waiter.predicate ? waiter.predicate(message) : true;
      } catch (error) {
        this.#waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.reject(error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      if (!matches) continue;
      this.#waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(message);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Requests and writing
  // ---------------------------------------------------------------------------------------

  #request<T>(kind: string, frame: ClientMessage, steps: Step[], toResult: (replies: ServerMessage[]) => T): Promise<T> {
    let request!: PendingRequest;
    const replies = new Promise<ServerMessage[]>((resolve, reject) => {
      request = {
        kind,
        steps,
        replies: [],
        takesErrors: true,
        resolve,
        reject,
        timer: this.#requestTimer(kind),
      };
    });
    this.#pending.push(request);
    try {
      this.#write(frame);
    } catch (error) {
      this.#settle(request, error instanceof Error ? error : new Error(String(error)));
    }
    return replies.then(toResult);
  }

  #placeholder(kind: string, steps: Step[]): void {
    this.#pending.push({
      kind,
      steps,
      replies: [],
      takesErrors: false,
      resolve: () => undefined,
      reject: () => undefined,
      timer: this.#requestTimer(kind),
    });
  }

  #requestTimer(kind: string): NodeJS.Timeout {
    const timer: NodeJS.Timeout = setTimeout(() => {
      const request = this.#pending.find((r) => r.timer === timer);
      if (request) this.#settle(request, new ClientError('TIMEOUT', `No reply to ${kind} within ${this.#requestTimeoutMs} ms.`));
    }, this.#requestTimeoutMs);
    return timer;
  }

  #settle(request: PendingRequest, error?: Error): void {
    clearTimeout(request.timer);
    this.#pending = this.#pending.filter((r) => r !== request);
    if (error) request.reject(error);
    else request.resolve(request.replies);
  }

  /** Runs a send; a synchronous failure becomes a rejection. The promise is marked handled. */
  #guard<T>(send: () => Promise<T>): Promise<T> {
    let result: Promise<T>;
    try {
      this.#assertOpen();
      result = send();
    } catch (error) {
      result = Promise.reject(error);
    }
    result.catch(() => undefined);
    return result;
  }

  #assertOpen(): void {
    if (this.#state !== 'open') {
      throw new ClientError('CLOSED', this.#state === 'connecting' ? 'The client is still connecting.' : 'The connection is closed.');
    }
  }

  #write(message: ClientMessage): boolean {
    if (this.#socket.destroyed || this.#socket.writableEnded) throw new ClientError('CLOSED', 'The connection is closed.');
    return this.#socket.write(encodeMessage(message));
  }

  #writeFlushed(message: ClientMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed || this.#socket.writableEnded) {
        reject(new ClientError('CLOSED', 'The connection is closed.'));
        return;
      }
      this.#socket.write(encodeMessage(message), (error) => {
        if (error) reject(new ClientError('CLOSED', `The connection closed before the frame was sent: ${error.message}`, { cause: error }));
        else resolve();
      });
    });
  }

  #drained(outgoing: OutgoingTransfer): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        this.#socket.off('drain', onDrain);
        this.#socket.off('close', onClose);
        outgoing.interrupt = undefined;
        if (error) reject(error);
        else resolve();
      };
      const onDrain = (): void => done();
      const onClose = (): void => done(new ClientError('CLOSED', 'The connection closed during the transfer.'));
      this.#socket.on('drain', onDrain);
      this.#socket.on('close', onClose);
      outgoing.interrupt = done;
    });
  }

  #cancelOutgoing(outgoing: OutgoingTransfer, error: Error): void {
    outgoing.cancelled ??= error;
    outgoing.interrupt?.(error);
  }

  #takeTransferId(): number {
    let id = this.#nextTransfer;
    while (this.#outgoing.has(id)) id = (id % 0xffffffff) + 1;
    this.#nextTransfer = (id % 0xffffffff) + 1;
    return id;
  }

  // Disk backpressure from the file receiver: stop reading until every hold is released.
  readonly #holdInput = (): (() => void) => {
    if (this.#inputHolds++ === 0) this.#socket.pause();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#inputHolds === 0 && !this.#socket.destroyed) this.#socket.resume();
    };
  };

  #isMe(presence: PresenceMessage): boolean {
    return this.#id !== null && presence.member.id === this.#id;
  }

  #enterRoom(room: string): void {
    this.#rooms = this.#rooms.filter((r) => !sameName(r, room));
    this.#rooms.push(room);
  }
}

/** Opens a connection; see SwitchboardClient.connect. */
export function connect(options: ConnectOptions = {}): Promise<SwitchboardClient> {
  return SwitchboardClient.connect(options);
}

/** Runs `work`; an exception surfaces as an uncaught exception on the next tick instead. */
function rethrowLater(work: () => void): void {
  try {
    work();
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}

function checkName(name: string, what: string): void {
  if (!isValidName(name)) {
    throw new ClientError('INVALID_ARGUMENT', `Invalid ${what} "${name}": use 1-32 letters, digits, "_", "-" or ".".`);
  }
}

/** Names and rooms are unique ignoring case. */
function sameName(a: string | null | undefined, b: string | null | undefined): boolean {
  return a != null && b != null && a.toLowerCase() === b.toLowerCase();
}

/** A history reply may leave out the room it answers for. */
function roomMatches(replyRoom: string | undefined, asked: string): boolean {
  return replyRoom === undefined || sameName(replyRoom, asked);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function u32Bytes(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function definedOnly<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return error instanceof Error ? error.message : String(error);
}
