// Requests and their answers, matched by `ref` (PROTOCOL.md: request refs). Every JSON request
// the page sends goes out through RequestTracker.send() with a fresh ref; the server repeats
// it on every reply and error that request causes, and the tracker hands those to the
// request's own handlers. Timeouts are only a safety net for answers that never come.
import { PendingRequests, type ClientMessage, type ServerMessage, type ServerMessageOf } from '@switchboard/protocol';

/** Frames without a JSON body carry no ref: raw text, file data, ping, pong. */
type RawType = 'text' | 'file-data' | 'ping' | 'pong';

type WithoutRef<T> = T extends unknown ? Omit<T, 'ref'> : never;
/** A JSON request, without its ref (the tracker adds it). */
export type Request = WithoutRef<Exclude<ClientMessage, { type: RawType }>>;
export type ErrorReply = ServerMessageOf<'error'>;
/** A frame that may repeat a request's ref, other than an error. */
export type Reply = Exclude<ServerMessage, { type: RawType | 'error' }>;

export type LostReason = 'timeout' | 'closed';

export interface RequestHandlers {
  /**
   * A frame carrying the request's ref. Return true once the request expects nothing more;
   * a request without this handler is settled by its first reply.
   */
  reply?(message: Reply): boolean;
  /** An error carrying the request's ref. Settles the request. */
  error?(error: ErrorReply): void;
  /** No (further) answer in time, or the connection closed first. Settles the request. */
  lost?(reason: LostReason): void;
  /** How long to wait before giving up on the request (ms). */
  timeoutMs?: number;
}

/** What the tracker needs from the connection (GatewayConnection provides it). */
export interface RequestChannel {
  send(message: ClientMessage): boolean;
  onMessage(listener: (message: ServerMessage) => void): () => void;
  onClose(listener: () => void): () => void;
}

type UnmatchedListener = (message: ErrorReply | Reply) => void;

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export class RequestTracker {
  #channel: RequestChannel;
  #pending = new PendingRequests<string, RequestHandlers>((handlers) => handlers.lost?.('timeout'));
  #unmatched = new Set<UnmatchedListener>();
  #unsubscribe: (() => void)[];

  constructor(channel: RequestChannel) {
    this.#channel = channel;
    this.#unsubscribe = [channel.onMessage((message) => this.settle(message)), channel.onClose(() => this.#loseAll('closed'))];
  }

  /** Requests still waiting for an answer. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Sends `request` with a new ref and remembers its handlers. Returns the ref, or null when
   * the socket is not open (nothing was sent and no handler will run).
   */
  send(request: Request, handlers: RequestHandlers = {}): string | null {
    // Unique for the page's life, so a late answer to an old socket's request matches nothing.
    const ref = `r${String(this.#pending.nextId())}`;
    if (!this.#channel.send({ ...request, ref })) return null;
    this.#pending.add(ref, handlers, handlers.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    return ref;
  }

  /** Forgets a request: none of its handlers will run. */
  forget(ref: string): void {
    this.#pending.settle(ref);
  }

  /**
   * Hands a frame from the server to the request whose ref it carries. Errors that answer no
   * pending request (no ref, or one that timed out), and other frames carrying an unknown
   * ref, go to the onUnmatched listeners. Returns true when a pending request took the frame.
   */
  settle(message: ServerMessage): boolean {
    if (message.type === 'text' || message.type === 'file-data' || message.type === 'ping' || message.type === 'pong') return false;
    const ref = message.ref;
    const handlers = ref === undefined ? undefined : this.#pending.get(ref);
    if (ref === undefined || handlers === undefined) {
      if (message.type === 'error' || ref !== undefined) for (const listener of this.#unmatched) listener(message);
      return false;
    }
    if (message.type === 'error') {
      this.forget(ref);
      if (handlers.error) handlers.error(message);
      else for (const listener of this.#unmatched) listener(message);
      return true;
    }
    const done = handlers.reply ? handlers.reply(message) : true;
    if (done) this.forget(ref);
    return true;
  }

  /**
   * Errors that answer no pending request, and other frames whose ref matches none (their
   * request timed out). Errors of requests sent without an error handler come here too.
   */
  onUnmatched(listener: UnmatchedListener): () => void {
    this.#unmatched.add(listener);
    return () => this.#unmatched.delete(listener);
  }

  dispose(): void {
    for (const off of this.#unsubscribe) off();
    this.#pending.settleAll();
    this.#unmatched.clear();
  }

  #loseAll(reason: LostReason): void {
    // The server forgets a connection's requests with it: none of these can be answered now.
    for (const [, handlers] of this.#pending.settleAll()) handlers.lost?.(reason);
  }
}
