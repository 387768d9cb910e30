import net from 'node:net';
import os from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayConfig } from './config.js';
import { GatewayError } from './errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Which Host names and Origins this gateway answers (docs/identity-and-security.md, "Security"). */
    hostPolicy: HostPolicy;
  }
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '']);
/** Probes that reveal nothing and are often sent with an orchestrator's own Host. */
const PROBES = new Set(['/livez', '/readyz']);
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The host name of a Host header or URL host (`[::1]:8080` → `::1`), lower case, no trailing dot. */
export function hostNameOf(host: string): string {
  let name = host.trim().toLowerCase();
  if (name.startsWith('[')) name = name.slice(1, name.indexOf(']') === -1 ? undefined : name.indexOf(']'));
  else if (name.split(':').length === 2) name = name.slice(0, name.indexOf(':'));
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * DNS rebinding and cross-site requests. A page on evil.example can point its own name at
 * 127.0.0.1: the browser then sends `Host: evil.example` and treats the gateway as that site,
 * so the Host header is checked against the names this gateway is known by, and an Origin is
 * trusted only when it names an allowed host (or is on --allowed-origins), never because it
 * matches whatever Host the request carried.
 */
export class HostPolicy {
  readonly #anyHost: boolean;
  readonly #anyOrigin: boolean;
  readonly #names = new Set<string>();
  readonly #origins: Set<string>;
  readonly #wildcard: boolean;

  constructor(config: Pick<GatewayConfig, 'http' | 'security'>) {
    const { allowedHosts, allowedOrigins } = config.security;
    this.#anyHost = allowedHosts.includes('*');
    this.#anyOrigin = allowedOrigins.includes('*');
    this.#origins = new Set(allowedOrigins.map((origin) => origin.toLowerCase()));
    for (const name of [...LOOPBACK_NAMES, config.http.host, ...allowedHosts]) this.#names.add(hostNameOf(name));
    this.#wildcard = WILDCARD_ADDRESSES.has(config.http.host);
    if (this.#wildcard) this.#addMachineNames();
  }

  /** Whether a request with this Host header is served. No Host at all is not a browser (HTTP/1.0 tools). */
  hostAllowed(host: string | undefined): boolean {
    if (host === undefined || this.#anyHost) return true;
    const name = hostNameOf(host);
    if (this.#names.has(name)) return true;
    // Listening on every address: an interface may have come up since the start.
    if (this.#wildcard && net.isIP(name) !== 0) {
      this.#addMachineNames();
      return this.#names.has(name);
    }
    return false;
  }

  /**
   * Whether a browser page of this Origin may open a WebSocket or change state. No Origin: not
   * a browser (scripts, curl). Otherwise it must be on --allowed-origins, or be the gateway's own
   * page: the same host and port as the request, under a host name this gateway is known by.
   */
  originAllowed(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    if (this.#anyOrigin || this.#origins.has(origin.toLowerCase())) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // `null` (sandboxed frames, file: pages) and anything else that is not a URL
    }
    if (host === undefined || url.host !== host.trim().toLowerCase()) return false;
    // With `--allowed-hosts *` the operator serves any name, and the page's own origin is whatever Host it used.
    return this.#anyHost || this.#names.has(hostNameOf(url.host));
  }

  #addMachineNames(): void {
    this.#names.add(hostNameOf(os.hostname()));
    for (const addresses of Object.values(os.networkInterfaces())) {
      for (const address of addresses ?? []) this.#names.add(address.address.toLowerCase());
    }
  }
}

/**
 * The hooks every request passes first: a Host this gateway is not known by gets 421, and a
 * state-changing call from another site's page gets 403, with or without an admin token (the
 * browser would otherwise send it with the user's loopback address or session).
 */
export function requestGuard(app: FastifyInstance, policy: HostPolicy): void {
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const refuse = (error: GatewayError): never => {
      // A refused WebSocket upgrade: its socket belongs to no HTTP parser any more (and
      // @fastify/websocket only closes those it marked in a later hook), so it is closed once
      // the answer is written.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- typed as always set, kept defensive in a late 'finish' handler
      if (request.headers.upgrade !== undefined) reply.raw.once('finish', () => request.raw.socket?.destroy());
      throw error;
    };
    const path = request.url.split('?')[0]!;
    if (!PROBES.has(path) && !policy.hostAllowed(request.headers.host)) {
      refuse(new GatewayError('HOST_NOT_ALLOWED', `This gateway does not answer to the host name "${request.headers.host}"; add it with --allowed-hosts.`));
    }
    if (!STATE_CHANGING.has(request.method)) return;
    const { origin } = request.headers;
    if (!policy.originAllowed(origin, request.headers.host)) {
      refuse(new GatewayError('CROSS_ORIGIN_REFUSED', `${request.method} from a page of ${origin} is refused; add its origin with --allowed-origins.`));
    }
    // A browser that sent no Origin still says where the call came from.
    const site = request.headers['sec-fetch-site'];
    if (origin === undefined && site !== undefined && site !== 'same-origin' && site !== 'none') {
      refuse(new GatewayError('CROSS_ORIGIN_REFUSED', `${request.method} from another site (Sec-Fetch-Site: ${site}) is refused.`));
    }
  });
}
