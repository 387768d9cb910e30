import { readdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { plainAddress } from './address-match.js';
import { openFileLimit } from './open-file-limit.js';

/** Open file descriptors of this process (Linux), or -1 where /proc is not there. */
export function openDescriptors(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

/** Above this share of the open-file limit, health says `degraded`. */
const PRESSURE_SHARE = 0.9;

export interface DescriptorPressure {
  open: number;
  /** The soft limit (`ulimit -n`); null where it cannot be read. */
  limit: number | null;
  /** Open descriptors are above 90 % of the limit: new connections will soon be refused. */
  pressure: boolean;
}

export function descriptorPressure(limit: number = openFileLimit()): DescriptorPressure {
  const open = openDescriptors();
  const finite = Number.isFinite(limit) ? limit : null;
  return { open, limit: finite, pressure: finite !== null && open >= finite * PRESSURE_SHARE };
}

export interface HttpConnectionLimits {
  max: number;
  maxPerIp: number;
  idleTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * HTTP connections (the page, the API, WebSocket upgrades until they are open) are counted
 * per address and in total, and idle or slow ones are closed: otherwise a few thousand idle
 * sockets take every descriptor and members can no longer join. An upgraded WebSocket leaves
 * the count: the hub counts it as a member, under --max-connections(-per-ip).
 */
export class HttpConnections {
  readonly #perIp = new Map<string, number>();
  /** Each counted socket's address, as it was at accept (a closed socket forgets it). */
  readonly #counted = new WeakMap<Socket, string>();
  #open = 0;
  /** Connections closed at once for being over a limit, since the start. */
  refused = 0;
  /** In total, at most a quarter of the open-file limit: the rest stays for members. */
  readonly max: number;
  /** Told (at most once a minute) that connections are being refused, for the operator's log. */
  onRefused: ((refusedSoFar: number, reason: string) => void) | undefined;
  #lastToldAt = -Infinity;
  /** One 'close' listener for every counted socket (`this`), taken off again at the upgrade: a closure each would stay with every WebSocket. */
  readonly #onClose: (this: Socket) => void;

  constructor(
    readonly limits: HttpConnectionLimits,
    fileLimit: number = openFileLimit(),
  ) {
    this.max = Math.max(1, Math.min(limits.max, Number.isFinite(fileLimit) ? Math.floor(fileLimit / 4) : limits.max));
    const release = (socket: Socket): void => this.#release(socket);
    this.#onClose = function (this: Socket): void {
      release(this);
    };
  }

  get open(): number {
    return this.#open;
  }

  /** Applies the timeouts to the server and counts each connection it accepts. */
  attach(server: Server): void {
    // Node's own clocks: keep-alive idleness, headers and the whole request. `timeout` is the
    // socket's idle timer, which also catches a connection that never sends a request.
    server.keepAliveTimeout = this.limits.idleTimeoutMs;
    server.headersTimeout = Math.min(this.limits.requestTimeoutMs, this.limits.idleTimeoutMs);
    server.requestTimeout = this.limits.requestTimeoutMs;
    server.timeout = this.limits.idleTimeoutMs;
    // Before the HTTP server's own listener, so a refused socket never reaches its parser. Over
    // TLS the socket the server hands on (and upgrades) is the TLS one, counted once its
    // handshake is done.
    server.prependListener(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => this.#accept(socket));
    // Once it is a WebSocket, the hub counts it; ws clears the idle timer.
    server.on('upgrade', (_request, socket: Socket) => {
      this.#release(socket);
      socket.removeListener('close', this.#onClose);
    });
  }

  #accept(socket: Socket): void {
    const ip = plainAddress(socket.remoteAddress ?? '');
    const fromIp = this.#perIp.get(ip) ?? 0;
    const over = this.#open >= this.max ? 'TOO_MANY_CONNECTIONS' : fromIp >= this.limits.maxPerIp ? 'TOO_MANY_CONNECTIONS_FROM_ADDRESS' : undefined;
    if (over !== undefined) {
      this.refused++;
      const message =
        over === 'TOO_MANY_CONNECTIONS'
          ? `The gateway has ${this.max} HTTP connections open.`
          : `Your address has ${this.limits.maxPerIp} HTTP connections open.`;
      const body = JSON.stringify({ code: over, message });
      const now = Date.now();
      if (now - this.#lastToldAt >= 60_000) {
        this.#lastToldAt = now;
        this.onRefused?.(this.refused, over === 'TOO_MANY_CONNECTIONS' ? message : `${ip}: ${message}`);
      }
      // Answered and closed before any request is read: the descriptor is free again at once.
      // A fresh socket's small write goes to the kernel at once, before the close.
      socket.on('error', () => undefined);
      socket.write(
        `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      socket.destroy();
      return;
    }
    this.#open++;
    this.#perIp.set(ip, fromIp + 1);
    this.#counted.set(socket, ip);
    socket.on('close', this.#onClose);
  }

  #release(socket: Socket): void {
    const ip = this.#counted.get(socket);
    if (ip === undefined) return;
    this.#counted.delete(socket);
    this.#open--;
    const left = (this.#perIp.get(ip) ?? 1) - 1;
    if (left <= 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, left);
  }
}
