// The WebSocket to the gateway's bridge. It owns the socket's life (open, reconnect with
// backoff, close) and the framing; what the frames mean is for ChatState and FileTransfers.
import { FrameDecoder, ProtocolError, backoffDelay, decodeServerMessage, encodeMessage, type ClientMessage, type ServerMessage } from '@switchboard/protocol';

export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ReconnectOptions {
  /** First retry delay before jitter. */
  initialDelayMs: number;
  /** Cap for the doubling delay. */
  maxDelayMs: number;
}

type MessageListener = (message: ServerMessage) => void;
type OpenListener = (info: { reconnect: boolean }) => void;
type CloseListener = (info: { code: number; reason: string; willReconnect: boolean }) => void;

/** The bridge on the page's own origin: the gateway serves both the page and /ws. */
export function defaultGatewayUrl(): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

export class ConnectionLostError extends Error {
  override readonly name = 'ConnectionLostError';
  constructor(message = 'The connection to the gateway was lost.') {
    super(message);
  }
}

export class GatewayConnection {
  readonly url: string;
  #options: ReconnectOptions;
  #socket: WebSocket | null = null;
  // Every socket gets a new generation so work started on an old socket can tell it is gone.
  #generation = 0;
  #wanted = false;
  #hasOpened = false;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #messageListeners = new Set<MessageListener>();
  #openListeners = new Set<OpenListener>();
  #closeListeners = new Set<CloseListener>();

  #status = $state<ConnectionStatus>('closed');
  #retryAt = $state<number | null>(null);
  #closedReason = $state<string | null>(null);
  #protocolErrors = $state(0);

  constructor(url: string = defaultGatewayUrl(), options: Partial<ReconnectOptions> = {}) {
    this.url = url;
    this.#options = { initialDelayMs: 500, maxDelayMs: 15_000, ...options };
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  /** When the next reconnect attempt starts (epoch ms), while one is scheduled. */
  get retryAt(): number | null {
    return this.#retryAt;
  }

  /** Why the connection is closed for good, when it was closed on purpose. */
  get closedReason(): string | null {
    return this.#closedReason;
  }

  /** Frames from the gateway that could not be decoded (they are skipped). */
  get protocolErrors(): number {
    return this.#protocolErrors;
  }

  /** Identifies the current socket; changes on every reconnect. */
  get generation(): number {
    return this.#generation;
  }

  /** Bytes queued in the browser but not yet handed to the network. */
  get bufferedAmount(): number {
    return this.#socket?.bufferedAmount ?? 0;
  }

  onMessage(listener: MessageListener): () => void {
    this.#messageListeners.add(listener);
    return () => this.#messageListeners.delete(listener);
  }

  onOpen(listener: OpenListener): () => void {
    this.#openListeners.add(listener);
    return () => this.#openListeners.delete(listener);
  }

  onClose(listener: CloseListener): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** Opens the socket, and keeps reopening it after it drops until close() is called. */
  connect(): void {
    this.#wanted = true;
    this.#closedReason = null;
    if (this.#socket) return;
    this.#clearRetry();
    this.#attempt = 0;
    this.#open();
  }

  /** Closes the socket and stops reconnecting. */
  close(reason: string | null = null): void {
    this.#wanted = false;
    this.#closedReason = reason;
    this.#clearRetry();
    this.#hasOpened = false;
    const socket = this.#socket;
    this.#socket = null;
    this.#generation++;
    if (socket) {
      this.#detach(socket);
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) socket.close(1000, 'bye');
      this.#emitClose(1000, reason ?? '', false);
    }
    this.#status = 'closed';
  }

  /** Stop reconnecting once the server closes this socket (after KICKED, for instance). */
  stopReconnecting(reason: string): void {
    this.#wanted = false;
    this.#closedReason = reason;
    this.#clearRetry();
  }

  /** Skips the remaining backoff wait and tries now. */
  retryNow(): void {
    if (!this.#wanted || this.#socket) return;
    this.#clearRetry();
    this.#open();
  }

  /** A connection that reached a working session: the next drop starts from a short delay again. */
  resetBackoff(): void {
    this.#attempt = 0;
  }

  /** Encodes and sends one frame. False when the socket is not open (nothing is queued). */
  send(message: ClientMessage): boolean {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(encodeMessage(message));
    return true;
  }

  /**
   * Resolves once the browser's send buffer holds at most `limit` bytes. WebSocket has no
   * drain event, so this polls. Rejects with ConnectionLostError if this socket goes away.
   */
  async waitForBufferBelow(limit: number, signal?: AbortSignal): Promise<void> {
    const generation = this.#generation;
    let delay = 4;
    for (;;) {
      signal?.throwIfAborted();
      const socket = this.#socket;
      if (!socket || generation !== this.#generation || socket.readyState !== WebSocket.OPEN) {
        throw new ConnectionLostError();
      }
      if (socket.bufferedAmount <= limit) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 50);
    }
  }

  #open(): void {
    this.#retryAt = null;
    this.#status = this.#hasOpened ? 'reconnecting' : 'connecting';
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      // Only a malformed URL throws here; retrying cannot fix it.
      this.#wanted = false;
      this.#status = 'closed';
      this.#closedReason = error instanceof Error ? error.message : String(error);
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    this.#generation++;
    // One decoder per socket. A WebSocket message is already whole in memory, so the
    // decoder's size limit has nothing left to protect; the gateway enforces its own.
    const decoder = new FrameDecoder((type, payload) => this.#dispatchFrame(type, payload), {
      maxFrameLength: 0xffffffff,
    });

    socket.onopen = () => {
      const reconnect = this.#hasOpened;
      this.#hasOpened = true;
      this.#status = 'open';
      for (const listener of this.#openListeners) listener({ reconnect });
    };
    socket.onmessage = (event: MessageEvent) => {
      if (!(event.data instanceof ArrayBuffer)) return; // The bridge only sends binary frames.
      try {
        decoder.push(new Uint8Array(event.data));
      } catch (error) {
        this.#protocolErrors++;
        console.warn('Switchboard: undecodable frame from the gateway', error);
      }
      if (decoder.midFrame) {
        // Each message must hold exactly one whole frame; drop the partial one.
        this.#protocolErrors++;
        console.warn('Switchboard: a WebSocket message held part of a frame; skipped.');
      }
      decoder.reset();
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#generation++;
      this.#detach(socket);
      const willReconnect = this.#wanted;
      this.#emitClose(event.code, event.reason, willReconnect);
      if (willReconnect) this.#scheduleRetry();
      else this.#status = 'closed';
    };
    // An error is always followed by close, which does the work.
    socket.onerror = () => {};
  }

  #dispatchFrame(type: number, payload: Uint8Array): void {
    let message: ServerMessage;
    try {
      message = decodeServerMessage(type, payload);
    } catch (error) {
      // Types this client does not know are skipped by design (PROTOCOL.md §1).
      if (error instanceof ProtocolError && error.code === 'UNKNOWN_TYPE') return;
      this.#protocolErrors++;
      console.warn('Switchboard: skipped a frame from the gateway', error);
      return;
    }
    if (message.type === 'ping') {
      this.send({ type: 'pong', data: message.data });
      return;
    }
    for (const listener of this.#messageListeners) {
      try {
        listener(message);
      } catch (error) {
        console.error('Switchboard: a frame handler failed', message.type, error);
      }
    }
  }

  #scheduleRetry(): void {
    // Capped exponential backoff with jitter, so browsers do not all return at once
    // when a restarted gateway comes back.
    const delay = backoffDelay(this.#attempt, { initialMs: this.#options.initialDelayMs, maxMs: this.#options.maxDelayMs });
    this.#attempt++;
    this.#status = 'reconnecting';
    this.#retryAt = Date.now() + delay;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (this.#wanted && !this.#socket) this.#open();
    }, delay);
  }

  #clearRetry(): void {
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#retryAt = null;
  }

  #detach(socket: WebSocket): void {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
  }

  #emitClose(code: number, reason: string, willReconnect: boolean): void {
    for (const listener of this.#closeListeners) listener({ code, reason, willReconnect });
  }
}
