import net from 'node:net';
import tls from 'node:tls';
import fp from 'fastify-plugin';
import { FrameDecoder } from '@switchboard/protocol';
import { GatewayError, fromListenError } from '../errors.js';
import type { Hub, HubLogger } from '../hub/hub.js';
import { formatAddress } from './address.js';
import type { Link } from './link.js';
import { JoinCache, joinStream } from './write-batch.js';

export interface ListenerSettings {
  host: string;
  port: number;
  backlog: number;
}

export interface ListenerStatus extends ListenerSettings {
  listening: boolean;
  tls: boolean;
  /** When the listener started, ISO 8601; null while stopped. */
  since: string | null;
  /** TCP members connected now (they may outlive a stop). */
  connections: number;
  /** The last error the OS reported on the listening socket (e.g. too many open files), or null. */
  lastError: { code: string; message: string; at: string } | null;
}

const KEEPALIVE_MS = 30_000;

/** Members of one room get the same frames in a flush: joined once for all TCP members. */
const streamBatches = new JoinCache(joinStream);

/** One accepted TCP socket as the hub sees it. */
class TcpLink implements Link {
  readonly transport = 'tcp';
  readonly address: string;
  readonly ip: string;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly closeTimeoutMs: number,
  ) {
    ({ ip: this.ip, address: this.address } = formatAddress(socket.remoteAddress, socket.remotePort));
  }

  write(frames: readonly Uint8Array[]): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    // A byte stream keeps no boundaries anyway: one buffer, one write, one system call.
    socket.write(frames.length === 1 ? frames[0]! : streamBatches.get(frames));
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** Set by the listener: pausing stops the decoder mid-chunk as well as the socket. */
  decoder: FrameDecoder | undefined;
  /** Set by the listener: feeds the decoder and reports a bad stream, for reads and resumes alike. */
  feed: ((work: () => void) => void) | undefined;

  pauseInput(): void {
    this.socket.pause();
    this.decoder?.pause();
  }

  resumeInput(): void {
    const decoder = this.decoder;
    if (decoder === undefined || this.feed === undefined) return void this.socket.resume();
    // Handing out the held frames may meet a bad length prefix, or pause us again.
    this.feed(() => decoder.resume());
    if (!decoder.paused && !this.socket.destroyed) this.socket.resume();
  }

  end(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    // A peer that never reads would keep the socket (and its queue) forever.
    this.#closeTimer ??= setTimeout(() => this.socket.destroy(), this.closeTimeoutMs);
    this.#closeTimer.unref();
    this.socket.once('close', () => clearTimeout(this.#closeTimer));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * The TCP chat listener: real listen/accept, started and stopped at run time. Each accepted
 * socket gets its own streaming decoder and feeds the hub. Stopping closes the listening
 * socket (new connections are refused); members already connected stay unless asked.
 */
export class TcpListener {
  readonly #hub: Hub;
  readonly #log: HubLogger;
  readonly #tlsOptions: tls.TlsOptions | undefined;
  #settings: ListenerSettings;
  #server: net.Server | undefined;
  #since: Date | null = null;
  #starting = false;
  #lastError: ListenerStatus['lastError'] = null;
  readonly #sockets = new Set<net.Socket>();

  constructor(hub: Hub, log: HubLogger, settings: ListenerSettings, tlsOptions?: tls.TlsOptions) {
    this.#hub = hub;
    this.#log = log;
    this.#settings = settings;
    this.#tlsOptions = tlsOptions;
    hub.on('descriptors-exhausted', (limit) => {
      const error = Object.assign(new Error('too many open files'), { code: 'EMFILE' });
      this.#noteError(error, this.#settings, `Refusing connections: the process is at its open-file limit (ulimit -n ${limit}); raise it to serve more members.`);
    });
  }

  status(): ListenerStatus {
    const address = this.#server?.address();
    const port = address !== null && typeof address === 'object' ? address.port : this.#settings.port;
    return {
      listening: this.#server !== undefined,
      host: this.#settings.host,
      port,
      backlog: this.#settings.backlog,
      tls: this.#tlsOptions !== undefined,
      since: this.#since?.toISOString() ?? null,
      connections: this.#sockets.size,
      lastError: this.#lastError,
    };
  }

  async start(overrides: Partial<ListenerSettings> = {}): Promise<ListenerStatus> {
    if (this.#server !== undefined || this.#starting) {
      throw new GatewayError('LISTENER_ALREADY_RUNNING', `The TCP listener is already listening on ${this.#settings.host}:${this.status().port}.`);
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
      server.on('tlsClientError', (error, socket) => {
        this.#log.debug({ err: error, address: socket.remoteAddress }, 'TLS handshake failed');
      });
    }
    this.#server = server;
    this.#settings = settings;
    this.#since = new Date();
    this.#lastError = null;
    const status = this.status();
    this.#log.info({ host: status.host, port: status.port, backlog: status.backlog, tls: status.tls }, 'TCP listener started');
    return status;
  }

  /** Stops accepting. With `disconnect`, connected TCP members are told and closed too. */
  async stop(options: { disconnect?: boolean } = {}): Promise<ListenerStatus> {
    const server = this.#server;
    if (server === undefined) throw new GatewayError('LISTENER_NOT_RUNNING', 'The TCP listener is not listening.');
    this.#server = undefined;
    this.#since = null;
    // close() stops accepting at once; its callback waits for every connection, which we don't.
    server.close();
    if (options.disconnect) {
      this.#hub.disconnectTransport('tcp', 'The TCP listener was stopped by an administrator.');
    }
    this.#log.info({ disconnect: options.disconnect === true }, 'TCP listener stopped');
    return this.status();
  }

  /** Closes the listener and every TCP connection (gateway shutdown). */
  async close(): Promise<void> {
    if (this.#server !== undefined) await this.stop();
    const closing = [...this.#sockets].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    await Promise.all(closing);
  }

  /** Errors after listening (accept failing for lack of file descriptors, say) reach the operator. */
  #noteError(error: unknown, settings: ListenerSettings, text?: string): void {
    const known = fromListenError(error, settings.host, settings.port);
    const code = known?.code ?? (error as NodeJS.ErrnoException).code ?? 'INTERNAL';
    const message = text ?? known?.message.replace(/^Cannot listen on/, 'Listener on') ?? String((error as Error).message);
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
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', (error) => this.#log.debug({ err: error }, 'TCP socket error'));
    const hub = this.#hub;
    const link = new TcpLink(socket, hub.config.timing.closeTimeoutMs);
    const member = hub.connect(link);
    if (member === undefined) return;
    const decoder = new FrameDecoder((type, payload) => hub.receive(member, type, payload), {
      maxFrameLength: hub.config.limits.maxFrameLength,
    });
    link.decoder = decoder;
    link.feed = (work) => {
      try {
        work();
      } catch (error) {
        hub.protocolError(member, error); // a bad length prefix: fatal
        return;
      }
      hub.noteInput(member, decoder.midFrame);
    };
    socket.on('data', (chunk: Buffer) => link.feed!(() => decoder.push(chunk)));
    socket.on('drain', () => hub.drained(member));
    socket.once('close', () => hub.disconnect(member, 'quit'));
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    tcpListener: TcpListener;
  }
}

export interface TcpListenerPluginOptions {
  hub: Hub;
  tlsOptions?: tls.TlsOptions | undefined;
}

/** Decorates `fastify.tcpListener`; closes it with the app. It does not start listening by itself. */
export const tcpListenerPlugin = fp<TcpListenerPluginOptions>(
  async (fastify, { hub, tlsOptions }) => {
    const { host, port, backlog } = hub.config.tcp;
    const listener = new TcpListener(hub, fastify.log, { host, port, backlog }, tlsOptions);
    fastify.decorate('tcpListener', listener);
    fastify.addHook('onClose', async () => {
      await listener.close();
    });
  },
  { name: 'switchboard-tcp-listener', fastify: '5.x' },
);
