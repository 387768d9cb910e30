import net from 'node:net';
import tls from 'node:tls';
import { GatewayError, fromListenError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import type { HubLogger } from '../logger.js';
import type { Member } from '../hub/member.js';

/** What a TCP listener needs to listen; devices/ adds how its sockets are framed (ListenerSettings). */
export interface ListenAt {
  id: string;
  host: string;
  port: number;
  backlog: number;
  tls: boolean;
  /** Named in the log only: `accept` knows what it means. */
  framing: string;
}

export type ListenerStatus<S extends ListenAt = ListenAt> = S & {
  listening: boolean;
  tls: boolean;
  /** When the listener started, ISO 8601; null while stopped. */
  since: string | null;
  /** TCP members connected now (they may outlive a stop). */
  connections: number;
  /** The last error the OS reported on the listening socket (e.g. too many open files), or null. */
  lastError: { code: string; message: string; at: string } | null;
};

const KEEPALIVE_MS = 30_000;

/** Makes an accepted socket a member, as its listener's settings say (devices/listener-registry.ts knows how). */
export type AcceptSocket<S extends ListenAt = ListenAt> = (socket: net.Socket, settings: S) => Member | undefined;

/**
 * A TCP listener: real listen/accept, started and stopped at run time. Each accepted socket
 * joins the hub through its framing: Switchboard's frames (its own streaming decoder), or a
 * device's lines or raw bytes (a DeviceLink). Stopping closes the listening socket (new
 * connections are refused); members already connected stay unless asked.
 */
export class TcpListener<S extends ListenAt = ListenAt> {
  readonly #hub: Hub;
  readonly #log: HubLogger;
  readonly #tlsOptions: tls.TlsOptions | undefined;
  #settings: S;
  #server: net.Server | undefined;
  #since: Date | null = null;
  #starting = false;
  #lastError: ListenerStatus['lastError'] = null;
  /** Open sockets, and the member each became (undefined: refused, or not a member yet). */
  readonly #sockets = new Map<net.Socket, Member | undefined>();
  /** Shared by every socket (`this`): a closure per socket would stay as long as it does. */
  readonly #onSocketClose: (this: net.Socket) => void;
  readonly #onSocketError = (error: Error): void => this.#log.debug({ err: error }, 'TCP socket error');

  constructor(
    hub: Hub,
    log: HubLogger,
    settings: S,
    tlsOptions: tls.TlsOptions | undefined,
    private readonly accept: AcceptSocket<S>,
  ) {
    this.#hub = hub;
    this.#log = log;
    this.#settings = settings;
    this.#tlsOptions = settings.tls ? tlsOptions : undefined;
    const sockets = this.#sockets;
    this.#onSocketClose = function (this: net.Socket): void {
      sockets.delete(this);
    };
    hub.on('descriptors-exhausted', (limit) => {
      const error = Object.assign(new Error('too many open files'), { code: 'EMFILE' });
      this.#noteError(
        error,
        this.#settings,
        `Refusing connections: the process is at its open-file limit (ulimit -n ${limit}); raise it to serve more members.`,
      );
    });
  }

  get id(): string {
    return this.#settings.id;
  }

  get settings(): S {
    return this.#settings;
  }

  status(): ListenerStatus<S> {
    const address = this.#server?.address();
    const port = address !== null && typeof address === 'object' ? address.port : this.#settings.port;
    return {
      ...this.#settings,
      listening: this.#server !== undefined,
      port,
      tls: this.#tlsOptions !== undefined,
      since: this.#since?.toISOString() ?? null,
      connections: this.#sockets.size,
      lastError: this.#lastError,
    };
  }

  async start(overrides: Partial<S> = {}): Promise<ListenerStatus<S>> {
    if (this.#server !== undefined || this.#starting) {
      throw new GatewayError('LISTENER_ALREADY_RUNNING', `Listener ${this.#settings.id} is already listening on ${this.#settings.host}:${this.status().port}.`);
    }
    const settings = { ...this.#settings, ...overrides };
    this.#starting = true;
    const onSocket = (socket: net.Socket): void => this.#accept(socket);
    const server = this.#tlsOptions ? tls.createServer(this.#tlsOptions, onSocket) : net.createServer({ noDelay: true }, onSocket);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: settings.host, port: settings.port, backlog: settings.backlog }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      throw fromListenError(error, settings.host, settings.port) ?? error;
    } finally {
      this.#starting = false;
    }
    server.on('error', (error) => this.#noteError(error, settings));
    if (this.#tlsOptions) {
      server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
        this.#log.debug({ err: error, address: socket.remoteAddress }, 'TLS handshake failed');
      });
    }
    this.#server = server;
    this.#settings = settings;
    this.#since = new Date();
    this.#lastError = null;
    const status = this.status();
    this.#log.info(
      { listener: status.id, framing: status.framing, host: status.host, port: status.port, backlog: status.backlog, tls: status.tls },
      'TCP listener started',
    );
    return status;
  }

  /** Stops accepting. With `disconnect`, connected TCP members are told and closed too. */
  async stop(options: { disconnect?: boolean } = {}): Promise<ListenerStatus<S>> {
    const server = this.#server;
    if (server === undefined) throw new GatewayError('LISTENER_NOT_RUNNING', `Listener ${this.#settings.id} is not listening.`);
    this.#server = undefined;
    this.#since = null;
    // close() stops accepting at once; its callback waits for every connection, which we don't.
    server.close();
    if (options.disconnect)
      this.#hub.disconnectAll(
        [...this.#sockets.values()].filter((member) => member !== undefined),
        'The TCP listener was stopped by an administrator.',
      );
    this.#log.info({ listener: this.#settings.id, disconnect: options.disconnect === true }, 'TCP listener stopped');
    return this.status();
  }

  /** Closes the listener and every TCP connection (gateway shutdown). */
  async close(): Promise<void> {
    if (this.#server !== undefined) await this.stop();
    const closing = [...this.#sockets.keys()].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    await Promise.all(closing);
  }

  /** A start that failed at boot (a taken port): shown in the status until a start succeeds. */
  noteStartError(error: unknown): void {
    this.#noteError(error, this.#settings);
  }

  /** Errors after listening (accept failing for lack of file descriptors, say) reach the operator. */
  #noteError(error: unknown, settings: S, text?: string): void {
    const known = fromListenError(error, settings.host, settings.port);
    const code = known?.code ?? (error as NodeJS.ErrnoException).code ?? 'INTERNAL';
    const message = text ?? known?.message.replace(/^Cannot listen on/, 'Listener on') ?? (error instanceof Error ? error.message : String(error));
    const now = Date.now();
    // Once a second at most: a flood of refused connections should not flood the log.
    if (this.#lastError?.message === message && now - Date.parse(this.#lastError.at) < 1000) return;
    this.#lastError = { code, message, at: new Date(now).toISOString() };
    this.#log.error({ code }, message);
  }

  #accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    // Plain devices are never pinged; keepalive is how their dead connections get noticed.
    socket.setKeepAlive(true, KEEPALIVE_MS);
    this.#sockets.set(socket, undefined);
    socket.on('error', this.#onSocketError);
    const settings = this.#settings;
    const member = this.accept(socket, settings);
    if (member !== undefined && this.#sockets.has(socket)) this.#sockets.set(socket, member);
    // One 'close' listener of ours, and `on` rather than `once` ('close' comes once): each
    // `once` costs a wrapper and its state, and a third listener grows the socket's listener
    // array to 20 slots, all kept for as long as the connection lives.
    socket.on('close', this.#onSocketClose);
  }
}
