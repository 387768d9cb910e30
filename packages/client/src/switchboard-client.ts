import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { PROTOCOL_VERSION, ProtocolError, type HistoryEntry, type ServerMessage, type ServerMessageOf } from '@switchboard/protocol';
import { checkName, definedOnly, sameName } from './arguments.js';
import { ClientError, serverFailure } from './client-errors.js';
import type {
  ChatMessage,
  CloseInfo,
  ConnectOptions,
  ErrorMessage,
  HistoryQuery,
  HistoryReply,
  JoinReply,
  PrivateMessage,
  RoomsReply,
  SearchOptions,
  SearchReply,
  RosterReply,
  SendFileOptions,
  SentFile,
  ServerMessageType,
  SwitchboardClientEvents,
  WelcomeMessage,
} from './client-types.js';
import { FileReceiver } from './file-receiver.js';
import { FileSender } from './file-sender.js';
import { FrameWaiters } from './frame-waiters.js';
import { LastIds } from './last-ids.js';
import { Membership } from './membership.js';
import { RequestTracker, pingData, pongRef, type Expected, type RefRequest } from './request-tracker.js';
import { Session, rethrowLater } from './session.js';

/** A search query's length, in UTF-16 units as the gateway counts them (PROTOCOL.md §6, "Search"). */
const MAX_SEARCH_LENGTH = 256;

/** Entries per `history` request while catching up (the server's most). */
const CATCH_UP_PAGE = 500;

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_WAIT_FOR_TIMEOUT_MS = 5_000;

/**
 * A connection to a Switchboard server. Get one with connect(). Every server message is
 * emitted as an event; requests (rooms, roster, history, ping) and chat (say, private, join,
 * leave, nick) return promises that settle with the reply or the echo that acknowledges
 * them. Those promises are marked handled, so a caller that does not await them never sees
 * an unhandled rejection.
 *
 * Each request carries a fresh `ref`, which the server repeats in the replies and the errors
 * it causes: a reply or an error settles exactly the request it answers, however many are
 * out. An error frame without a ref (caused by file-data, or from a server that predates
 * refs) ends the file transfer its message names, if any. Every error frame is also emitted
 * as 'server-error'.
 */
export class SwitchboardClient extends EventEmitter<SwitchboardClientEvents> {
  /** Opens a connection and resolves after welcome (or after connecting when hello is false). */
  static connect(options: ConnectOptions = {}): Promise<SwitchboardClient> {
    try {
      // Names are checked here too, so a bad one fails before any connection is made.
      if (options.name !== undefined) checkName(options.name, 'name');
      if (options.room !== undefined) checkName(options.room, 'room');
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const client = new SwitchboardClient(options);
    return client.#start(options);
  }

  readonly host: string;
  readonly port: number;
  /** False for a plain device. */
  readonly hello: boolean;

  readonly #session: Session;
  readonly #requests: RequestTracker;
  readonly #waiters = new FrameWaiters();
  readonly #member = new Membership();
  readonly #lastIds = new LastIds();
  readonly #receiver: FileReceiver;
  readonly #files: FileSender;

  private constructor(options: ConnectOptions) {
    super();
    this.#requests = new RequestTracker(options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    this.#session = new Session(options, {
      message: (message) => this.#dispatch(message),
      protocolError: (error) => this.emit('protocol-error', error),
      closed: (info, reason) => this.#onClosed(info, reason),
    });
    this.host = this.#session.host;
    this.port = this.#session.port;
    this.hello = this.#session.hello;
    this.#receiver = new FileReceiver({
      downloadDir: options.downloadDir,
      holdInput: this.#session.holdInput,
      // The receiver calls these from its own async work; a throwing listener must not
      // be mistaken for a disk error there.
      onProgress: (progress) => rethrowLater(() => this.emit('file-progress', progress)),
      onSaved: (saved) => rethrowLater(() => this.emit('file-saved', saved)),
      onAborted: (aborted) => rethrowLater(() => this.emit('file-aborted', aborted)),
    });
    const session = this.#session;
    this.#files = new FileSender({
      assertOpen: () => session.assertOpen(),
      get writable() {
        return session.writable;
      },
      request: (kind, frame, expects, signal) => this.#request(kind, frame, expects, signal),
      write: (message) => session.write(message),
      drained: (signal) => session.drained(signal),
    });
  }

  /** The name the server knows us by (null for a plain device, whose name is its address). */
  get name(): string | null {
    return this.#member.name;
  }

  /** The connection id from welcome (the REST API's client id). */
  get id(): string | null {
    return this.#member.id;
  }

  /** The current room: where text and say() without a room go. */
  get room(): string | null {
    return this.#member.room;
  }

  /** The rooms this client is in, the current one last. */
  get joinedRooms(): readonly string[] {
    return this.#member.rooms;
  }

  get welcome(): WelcomeMessage | null {
    return this.#member.welcome;
  }

  /** The resume token from this connection's welcome: the one to connect with next time (the one used is replaced). */
  get token(): string | null {
    return this.#member.welcome?.token ?? null;
  }

  /**
   * Room → the highest message id this client has seen there (live, or in a history reply). Ids
   * increase within a room only, so keep these to resume each room after a reconnect: `catchUp()`.
   */
  get lastIds(): Readonly<Record<string, number>> {
    return this.#lastIds.all;
  }

  /** True until the connection is closed or closing. */
  get isOpen(): boolean {
    return this.#session.state === 'open';
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
        return room === undefined ? this.sendText(text).then(() => null) : this.#session.writeFlushed({ type: 'message', room, text }).then(() => null);
      }
      const frame: RefRequest = { type: 'message', text, ...(room === undefined ? {} : { room }) };
      return this.#request('message', frame, ['message']).then(([echo]) => echo as ChatMessage);
    });
  }

  /** Sends `text` as a raw type-0 frame (said in the current room). Resolves once written. */
  sendText(text: string): Promise<void> {
    return this.#guard(() => this.#session.writeFlushed({ type: 'text', text }));
  }

  /** A private message to the member named `to`. Resolves with the echo (null for a plain device). */
  private(to: string, text: string): Promise<PrivateMessage | null> {
    return this.#guard(() => {
      checkName(to, 'member name');
      if (!this.hello) return this.#session.writeFlushed({ type: 'private', to, text }).then(() => null);
      return this.#request('private', { type: 'private', to, text }, ['private']).then(([echo]) => echo as PrivateMessage);
    });
  }

  /** Joins (or creates) `room` and makes it current. Resolves with its roster and history. */
  join(room: string): Promise<JoinReply | null> {
    return this.#guard(() => {
      checkName(room, 'room');
      if (!this.hello) return this.#session.writeFlushed({ type: 'join', room }).then(() => null);
      return this.#request('join', { type: 'join', room }, ['roster', 'history']).then(([roster, history]) => {
        this.#member.enter((roster as RosterReply).room);
        return { roster: roster as RosterReply, history: history as HistoryReply };
      });
    });
  }

  /** Leaves `room`. Resolves when the server confirms with our presence leave. */
  leave(room: string): Promise<void> {
    return this.#guard(() => {
      checkName(room, 'room');
      if (!this.hello) return this.#session.writeFlushed({ type: 'leave', room });
      return this.#request('leave', { type: 'leave', room }, ['presence']).then(() => undefined);
    });
  }

  /** Renames this member. Resolves on our presence rename (a notice when we are in no room). */
  nick(name: string): Promise<void> {
    return this.#guard(() => {
      checkName(name, 'name');
      if (!this.hello) return this.#session.writeFlushed({ type: 'nick', name });
      return this.#request('nick', { type: 'nick', name }, [['presence', 'notice']]).then(() => undefined);
    });
  }

  /** The server's room list. */
  rooms(): Promise<RoomsReply> {
    return this.#guard(() => this.#request('rooms', { type: 'rooms' }, ['rooms']).then(([reply]) => reply as RoomsReply));
  }

  /** The members of `room` (default: the current room). */
  roster(room?: string): Promise<RosterReply> {
    return this.#guard(() => {
      if (room !== undefined) checkName(room, 'room');
      const frame: RefRequest = { type: 'roster', ...(room === undefined ? {} : { room }) };
      return this.#request('roster', frame, ['roster']).then(([reply]) => reply as RosterReply);
    });
  }

  /** Stored messages (PROTOCOL.md §6). */
  history(query: HistoryQuery = {}): Promise<HistoryReply> {
    return this.#guard(() => {
      if (query.room !== undefined) checkName(query.room, 'room');
      if (query.with !== undefined) checkName(query.with, 'member name');
      const body = definedOnly({ room: query.room, with: query.with, private: query.private, before: query.before, after: query.after, limit: query.limit });
      return this.#request('history', { type: 'history', ...body }, ['history']).then(([reply]) => reply as HistoryReply);
    });
  }

  /**
   * What each room said after its own last id (`lastIds` of an earlier connection, room → id):
   * joins each room this client is not in, then reads `history {room, after}` page by page.
   * Resolves with the missed entries per room, oldest first. Each room from its own id: ids of
   * two rooms do not compare (PROTOCOL.md §6), so one number for every room would miss messages.
   */
  catchUp(lastIds: Readonly<Record<string, number>>): Promise<Record<string, HistoryEntry[]>> {
    return this.#guard(async () => {
      const missed: Record<string, HistoryEntry[]> = {};
      for (const [room, after] of Object.entries(lastIds)) {
        checkName(room, 'room');
        if (!this.#member.rooms.some((joined) => sameName(joined, room))) await this.join(room);
        const entries: HistoryEntry[] = [];
        for (let from = after; ;) {
          const page = await this.history({ room, after: from, limit: CATCH_UP_PAGE });
          entries.push(...page.entries);
          const last = page.entries.at(-1);
          if (!page.more || last === undefined) break;
          from = last.id;
        }
        missed[room] = entries;
      }
      return missed;
    });
  }

  /**
   * Full-text search of stored history (PROTOCOL.md §6, "Search"): room messages, private
   * messages and file names with every word of `query` (each as a prefix), newest first, among
   * what this member may read. A room that does not admit it rejects with ROOM_FORBIDDEN.
   */
  search(query: string, options: SearchOptions = {}): Promise<SearchReply> {
    return this.#guard(() => {
      if (query.length < 1 || query.length > MAX_SEARCH_LENGTH) {
        throw new ClientError('INVALID_ARGUMENT', `A search query is 1 to ${MAX_SEARCH_LENGTH} characters.`);
      }
      if (options.room !== undefined) checkName(options.room, 'room');
      const body = definedOnly({ room: options.room, before: options.before, limit: options.limit });
      return this.#request('search', { type: 'search', q: query, ...body }, ['search']).then(([reply]) => reply as SearchReply);
    });
  }

  /** Pings the server; resolves with the round trip in milliseconds. */
  ping(): Promise<number> {
    return this.#guard(() => {
      const started = performance.now();
      return this.#request('ping', { type: 'ping' }, ['pong']).then(() => performance.now() - started);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Files, waiting and closing
  // ---------------------------------------------------------------------------------------

  /**
   * Sends a file: file-offer, then (once the server has echoed the offer, so a refusal such
   * as FILE_TOO_LARGE costs no data) file-data chunks of FILE_CHUNK_BYTES read from disk
   * with backpressure and hashed on the way, then file-end with the SHA-256. Resolves when
   * the server confirms with its own file-end, having checked the size and the checksum;
   * rejects with its FILE_SIZE_MISMATCH or FILE_CHECKSUM_MISMATCH otherwise.
   */
  sendFile(filePath: string, options: SendFileOptions = {}): Promise<SentFile> {
    return this.#files.send(filePath, options);
  }

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
    if (this.#session.state === 'closed') {
      return Promise.reject(new ClientError('CLOSED', `The connection is closed; no "${type}" frame will arrive.`));
    }
    return this.#waiters.wait(type, predicate, timeoutMs);
  }

  /**
   * Closes gracefully: half-closes the socket, waits for the server to close its side
   * (destroying the socket after 2 s), deletes partial downloads. Idempotent.
   */
  close(): Promise<void> {
    return this.#session.close();
  }

  /** Closes at once without waiting for the server. */
  destroy(): Promise<void> {
    return this.#session.destroy();
  }

  // ---------------------------------------------------------------------------------------
  // Requests
  // ---------------------------------------------------------------------------------------

  #start(options: ConnectOptions): Promise<SwitchboardClient> {
    const { name, room, since, password, token } = options;
    const hello = this.hello
      ? ({ type: 'hello', v: PROTOCOL_VERSION, ...definedOnly({ name, room, since, password, token }), ref: this.#requests.nextRef() } as const)
      : undefined;
    return this.#session.start(hello).then(() => this);
  }

  /**
   * Sends `frame` with a fresh ref (a ping: with its ref as payload) and resolves with the
   * replies `expects` lists, once they have arrived carrying that ref.
   */
  #request(kind: string, frame: RefRequest | { type: 'ping' }, expects: Expected, signal?: AbortSignal): Promise<ServerMessage[]> {
    const ref = this.#requests.nextRef();
    const replies = this.#requests.track(ref, kind, expects, signal);
    try {
      this.#session.write(frame.type === 'ping' ? { type: 'ping', data: pingData(ref) } : { ...frame, ref });
    } catch (error) {
      this.#requests.fail(ref, error instanceof Error ? error : new Error(String(error)));
    }
    return replies;
  }

  /** Runs a send; a synchronous failure becomes a rejection. The promise is marked handled. */
  #guard<T>(send: () => Promise<T>): Promise<T> {
    let result: Promise<T>;
    try {
      this.#session.assertOpen();
      result = send();
    } catch (error) {
      result = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    result.catch(() => undefined);
    return result;
  }

  // ---------------------------------------------------------------------------------------
  // Incoming frames
  // ---------------------------------------------------------------------------------------

  #dispatch(message: ServerMessage): void {
    this.#lastIds.saw(message);
    switch (message.type) {
      case 'welcome':
        this.#member.welcomed(message);
        break;
      case 'presence':
        this.#member.presence(message);
        break;
      case 'error':
        this.#onServerError(message);
        break;
      case 'pong': {
        const ref = pongRef(message.data);
        if (ref !== undefined) this.#requests.reply(ref, message);
        break;
      }
      case 'file-offer':
        // A ref marks the echo of our own offer (others' copies never carry it); the server
        // never sends a sender its own file either way. Any other offer is a download.
        if (message.ref === undefined && !sameName(message.from, this.#member.name)) this.#receiver.offer(message);
        break;
      case 'file-data':
        this.#receiver.data(message.transfer, message.data);
        break;
      case 'file-end':
        // With a ref it confirms a file we sent; without, it completes a download.
        if (message.ref === undefined) this.#receiver.end(message.transfer, message.sha256);
        break;
      case 'file-abort':
        if (!this.#files.serverAborted(message.transfer, new ProtocolError(message.code, message.reason))) {
          this.#receiver.abort(message.transfer, message.code, message.reason);
        }
        break;
    }
    if (message.type !== 'error' && 'ref' in message && message.ref !== undefined) this.#requests.reply(message.ref, message);
    this.#waiters.notify(message);
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

  #onServerError(error: ErrorMessage): void {
    // While connecting, the session has already failed connect() with it.
    if (this.#session.state === 'connecting') return;
    const failure = serverFailure(error);
    if (error.ref !== undefined) {
      this.#requests.fail(error.ref, failure);
      return;
    }
    // No ref: file-data caused it (or the server predates refs). It answers no request; it
    // ends the transfer it names, if that is one of ours, and is emitted as 'server-error'.
    this.#files.unattributedError(failure);
  }

  async #onClosed(info: CloseInfo, reason: Error): Promise<void> {
    this.#requests.rejectAll(reason);
    this.#waiters.rejectAll(reason);
    this.#files.cancelAll(reason);
    await this.#receiver.close('The connection closed.');
    this.emit('close', info);
  }
}

/** Opens a connection; see SwitchboardClient.connect. */
export function connect(options: ConnectOptions = {}): Promise<SwitchboardClient> {
  return SwitchboardClient.connect(options);
}
