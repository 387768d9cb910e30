import net from 'node:net';
import tls from 'node:tls';
import {
  FATAL_ERROR_CODES,
  FrameDecoder,
  ProtocolError,
  decodeServerMessage,
  encodeMessage,
  type ClientMessage,
  type ServerMessage,
} from '@switchboard/protocol';
import { ClientError, describeSocketError, serverFailure } from './client-errors.js';
import type { CloseInfo, ConnectOptions, ErrorMessage, NoticeMessage } from './client-types.js';

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 9000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_FRAME_LENGTH = 16 * 1024 * 1024;
// After close() half-closes the socket, how long the server gets to close its side.
const GRACEFUL_CLOSE_MS = 2_000;

export type SessionState = 'connecting' | 'open' | 'closing' | 'closed';

export interface SessionHandlers {
  /** Every decoded server message, in order, after the session has taken what it needs. */
  message: (message: ServerMessage) => void;
  /** A frame that could not be decoded (unknown type, bad JSON...); it was skipped. */
  protocolError: (error: ProtocolError) => void;
  /** The connection is gone: end whatever waits on it with `reason`. Awaited before closed() resolves. */
  closed: (info: CloseInfo, reason: Error) => Promise<void>;
}

/**
 * One connection: the socket (TCP or TLS), the frame decoder, hello and welcome, the frames
 * that concern the session itself (pong for a ping, fatal errors, the notice that explains a
 * disconnect), writing with backpressure, and closing. What the other frames mean is the
 * client's business: the session hands every decoded message to `handlers.message`.
 */
export class Session {
  readonly host: string;
  readonly port: number;
  /** False for a plain device. */
  readonly hello: boolean;
  readonly #options: ConnectOptions;
  readonly #handlers: SessionHandlers;
  readonly #socket: net.Socket;
  readonly #decoder: FrameDecoder;
  #state: SessionState = 'connecting';
  #inputHolds = 0;
  #closeInfo: CloseInfo | undefined;
  #lastNotice: NoticeMessage | undefined;
  // Messages that arrive with (or right after) welcome, held until connect()'s caller has
  // had a chance to add listeners; see #onWelcome.
  #held: ServerMessage[] | undefined;
  #settleConnect: { resolve: () => void; reject: (error: Error) => void } | undefined;
  readonly #closed: Promise<void>;
  #markClosed!: () => void;

  constructor(options: ConnectOptions, handlers: SessionHandlers) {
    this.#options = options;
    this.#handlers = handlers;
    this.host = options.host ?? DEFAULT_HOST;
    this.port = options.port ?? DEFAULT_PORT;
    this.hello = options.hello ?? true;
    this.#decoder = new FrameDecoder(this.#onFrame, { maxFrameLength: options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH });
    this.#closed = new Promise((resolve) => (this.#markClosed = resolve));
    this.#socket = this.#openSocket();
  }

  get state(): SessionState {
    return this.#state;
  }

  /** Open, and the socket still takes writes. */
  get writable(): boolean {
    return this.#state === 'open' && this.#socket.writable;
  }

  /** Throws CLOSED unless the session is open. */
  assertOpen(): void {
    if (this.#state !== 'open') {
      throw new ClientError('CLOSED', this.#state === 'connecting' ? 'The client is still connecting.' : 'The connection is closed.');
    }
  }

  /**
   * Waits for the connection, sends `hello` (none for a plain device) and resolves on the
   * welcome, or on connecting for a plain device. Rejects with the server's error frame
   * (NAME_TAKEN...), CONNECT_FAILED, CONNECT_TIMEOUT or CLOSED.
   */
  start(hello: ClientMessage | undefined): Promise<void> {
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
      if (hello === undefined) {
        this.#open();
        return;
      }
      this.write(hello);
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
        this.#failConnect(
          new ClientError('CLOSED', `cannot connect to ${where}: the server closed the connection before ${this.hello ? 'welcome' : 'it opened'}`),
        );
      }
      void this.#finish();
    });

    return connected.finally(() => clearTimeout(timer));
  }

  /** Writes one frame; false when the socket's buffer is full (wait for drained()). */
  write(message: ClientMessage): boolean {
    if (this.#socket.destroyed || this.#socket.writableEnded) throw new ClientError('CLOSED', 'The connection is closed.');
    return this.#socket.write(encodeMessage(message));
  }

  /** Writes one frame and resolves once it has been handed to the operating system. */
  writeFlushed(message: ClientMessage): Promise<void> {
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

  /** Resolves on the socket's 'drain'; rejects when the connection closes or `signal` aborts first. */
  drained(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = this.#socket;
      const done = (error?: Error): void => {
        socket.off('drain', onDrain);
        socket.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onDrain = (): void => done();
      const onClose = (): void => done(new ClientError('CLOSED', 'The connection closed during the transfer.'));
      const onAbort = (): void => done(signal!.reason as Error);
      if (signal?.aborted) {
        onAbort();
        return;
      }
      socket.on('drain', onDrain);
      socket.on('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops reading the socket until every returned release function has been called (disk backpressure). */
  readonly holdInput = (): (() => void) => {
    if (this.#inputHolds++ === 0) this.#socket.pause();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#inputHolds === 0 && !this.#socket.destroyed) this.#socket.resume();
    };
  };

  /**
   * Closes gracefully: half-closes the socket, waits for the server to close its side
   * (destroying the socket after 2 s). Resolves once handlers.closed has run. Idempotent.
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

  #open(): void {
    this.#state = 'open';
    this.#settleConnect?.resolve();
    this.#settleConnect = undefined;
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
    await this.#handlers.closed(info, reason);
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
      if (error instanceof ProtocolError) rethrowLater(() => this.#handlers.protocolError(error));
      return;
    }
    if (this.#held) this.#held.push(message);
    else this.#deliver(message);
  };

  #releaseHeld(): void {
    const held = this.#held;
    this.#held = undefined;
    for (const message of held ?? []) this.#deliver(message);
  }

  #deliver(message: ServerMessage): void {
    if (this.#state === 'closed') return;
    switch (message.type) {
      case 'welcome':
        this.#onWelcome();
        break;
      case 'error':
        this.#onError(message);
        break;
      case 'ping':
        if ((this.#state === 'open' || this.#state === 'connecting') && this.#socket.writable) {
          this.write({ type: 'pong', data: message.data });
        }
        break;
      case 'notice':
        this.#lastNotice = message;
        break;
    }
    // A listener that throws must not break the decoder's loop: rethrow outside it.
    rethrowLater(() => this.#handlers.message(message));
  }

  #onWelcome(): void {
    if (this.#state !== 'connecting') return;
    this.#open();
    // presence, roster and history usually arrive in the same read as welcome. Hold them
    // until the code awaiting connect() has run (setImmediate comes after its promise
    // continuation), so listeners it adds, and waitFor() calls it makes, see them.
    this.#held = [];
    setImmediate(() => this.#releaseHeld());
  }

  #onError(error: ErrorMessage): void {
    if (this.#state === 'connecting') {
      // NAME_TAKEN, NAME_INVALID, UNSUPPORTED_VERSION, TOO_MANY_CONNECTIONS...: hello, the
      // only request out while connecting, failed, or the server refused the connection.
      this.#failConnect(serverFailure(error));
    } else if (error.fatal === true || FATAL_ERROR_CODES.has(error.code)) {
      this.#closeInfo = { code: error.code, reason: error.message, error: serverFailure(error) };
      this.#socket.destroy();
    }
  }
}

/** Runs `work`; an exception surfaces as an uncaught exception on the next tick instead. */
export function rethrowLater(work: () => void): void {
  try {
    work();
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}
