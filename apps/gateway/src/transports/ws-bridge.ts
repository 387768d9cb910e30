import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { FrameType, LENGTH_PREFIX_BYTES, ProtocolError, readU32BE } from '@switchboard/protocol';
import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import type { Member } from '../hub/member.js';
import type { HostPolicy } from '../request-guard.js';
import { peerOf } from './address.js';
import type { Link } from './link.js';
import { JoinCache, joinWebSocket } from './write-batch.js';

const OPEN = 1;

/** The WebSocket framing of a batch is the same for every browser that gets it: built once. */
const webSocketBatches = new JoinCache(joinWebSocket);

/** One browser (or any WebSocket client) as the hub sees it. Each frame is one binary message. */
class WsLink implements Link {
  readonly transport = 'ws';
  readonly address: string;
  readonly ip: string;

  /** The member it carries, once the hub admitted it. */
  member: Member | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly raw: Socket,
    readonly hub: Hub,
  ) {
    ({ ip: this.ip, address: this.address } = peerOf(raw));
  }

  write(frames: readonly Uint8Array[]): void {
    if (this.ws.readyState !== OPEN) return;
    // Written straight to the socket: one write per member. ws itself only writes control
    // frames here (pong, close), never in the middle of ours.
    this.raw.write(webSocketBatches.get(frames));
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  pauseInput(): void {
    this.ws.pause();
  }

  resumeInput(): void {
    this.ws.resume();
  }

  end(): void {
    if (this.ws.readyState !== OPEN) return;
    // Input may be paused (a held request, backpressure): the peer's close frame must still be read.
    this.ws.resume();
    this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), this.hub.config.timing.closeTimeoutMs);
    timer.unref();
    this.ws.once('close', () => clearTimeout(timer));
  }

  destroy(): void {
    this.ws.terminate();
  }
}

/**
 * An upgrade is allowed when it has no Origin (not a browser), when the Origin is on the
 * configured allowlist, or when it is the gateway's own page under a host name the gateway is
 * known by: never merely because it matches the request's Host, which a DNS-rebinding page
 * sets to its own name (request-guard.ts).
 */
export function originAllowed(request: FastifyRequest, policy: HostPolicy): boolean {
  return policy.originAllowed(request.headers.origin, request.headers.host);
}

/** Node's own key for a socket's idle timer (net's `kTimeout`), found on the first socket that has one. */
let socketTimerKey: symbol | undefined;

/**
 * Lets the upgrade's HTTP request go once the WebSocket is open. As @fastify/websocket leaves
 * it, the socket keeps the upgrade's ServerResponse and the WebSocket an error listener that
 * holds the request and reply: headers, a logger and both objects, about 4 KiB for every
 * open browser for as long as it stays. The replacement listener does what the plugin's
 * errorHandler did: a WebSocket error is the peer's doing, so it is closed. The socket also
 * keeps the HTTP idle timer that ws cleared (a Timeout and its numbers, about 170 bytes):
 * dropped too.
 */
export function forgetUpgradeRequest(socket: WebSocket, raw: Socket, onError: (this: WebSocket, error: Error) => void): void {
  (raw as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.detachSocket(raw);
  socketTimerKey ??= Object.getOwnPropertySymbols(raw).find((key) => key.description === 'timeout');
  const timers = raw as unknown as Record<symbol, { _destroyed?: boolean } | null | undefined>;
  // Only a timer that has been cleared (ws does, with setTimeout(0)) is let go.
  if (socketTimerKey !== undefined && timers[socketTimerKey]?._destroyed === true) timers[socketTimerKey] = null;
  socket.removeAllListeners('error');
  socket.on('error', onError);
}

/** A bridged WebSocket and its raw socket know their link: the listeners below are shared by every browser, where a closure each would stay as long as it does. */
const LINK = Symbol('switchboard.wsLink');
type LinkedWebSocket = WebSocket & { [LINK]?: WsLink };
type LinkedSocket = Socket & { [LINK]?: WsLink };

function onBridgeError(this: LinkedWebSocket, error: Error): void {
  this[LINK]?.hub.log.debug({ err: error }, 'WebSocket closed for a protocol error');
  this.terminate();
}

function onBridgeMessage(this: LinkedWebSocket, data: Buffer, isBinary: boolean): void {
  const { hub, member } = this[LINK]!;
  if (member === undefined) return;
  if (!isBinary) {
    // A text message is a chat line, for consoles like wscat. ws has checked its UTF-8.
    hub.receive(member, FrameType.Text, data);
    return;
  }
  const declared = data.length >= LENGTH_PREFIX_BYTES ? readU32BE(data, 0) : -1;
  if (declared < 1 || declared !== data.length - LENGTH_PREFIX_BYTES) {
    hub.protocolError(
      member,
      new ProtocolError(
        'FRAME_BOUNDARY',
        `A WebSocket message must hold exactly one frame; this one had ${data.length} bytes and a length prefix of ${declared}.`,
      ),
    );
    return;
  }
  hub.receive(member, data[LENGTH_PREFIX_BYTES]!, data.subarray(LENGTH_PREFIX_BYTES + 1));
}

function onBridgeDrain(this: LinkedSocket): void {
  const link = this[LINK]!;
  if (link.member !== undefined) link.hub.drained(link.member);
}

function onBridgeClose(this: LinkedWebSocket): void {
  const link = this[LINK]!;
  if (link.member !== undefined) link.hub.disconnect(link.member, 'quit');
}

export interface WsBridgePluginOptions {
  hub: Hub;
}

/** The WebSocket bridge at /ws: browsers join the same hub as TCP members, speaking the same frames. */
export const wsBridgePlugin = fp<WsBridgePluginOptions>(
  async (fastify, { hub }) => {
    const { maxFrameLength } = hub.config.limits;
    await fastify.register(websocket, {
      // Errors on an open WebSocket are the peer's doing (a message over maxPayload, bad
      // framing): ws closes it with the right code (1009, 1002); they are not the gateway's errors.
      errorHandler: (error, socket, request) => {
        request.log.debug({ err: error }, 'WebSocket closed for a protocol error');
        socket.terminate();
      },
      options: {
        // One message carries one frame: the length prefix plus N bytes, and no more.
        maxPayload: maxFrameLength + LENGTH_PREFIX_BYTES,
        perMessageDeflate: false,
        // ws's own set of clients costs a 'close' closure, its context and a listener array per
        // browser (some 200 bytes each): the hub knows its members and closes them at shutdown
        // (app.ts: its preClose runs first), and a device pipe closes with its device.
        clientTracking: false,
      },
    });
    const policy = fastify.hostPolicy;

    fastify.get(
      '/ws',
      {
        websocket: true,
        preValidation: async (request) => {
          if (!originAllowed(request, policy)) {
            throw new GatewayError('ORIGIN_NOT_ALLOWED', `WebSocket connections from ${request.headers.origin} are not allowed.`);
          }
        },
      },
      (socket, request) => {
        const raw = request.socket;
        forgetUpgradeRequest(socket, raw, onBridgeError);
        const link = new WsLink(socket, raw, hub);
        (socket as LinkedWebSocket)[LINK] = link;
        const member = hub.connect(link);
        if (member === undefined) return;
        link.member = member;
        (raw as LinkedSocket)[LINK] = link;
        socket.on('message', onBridgeMessage);
        raw.on('drain', onBridgeDrain);
        // `on`, not `once`: 'close' comes once, and a once wrapper would stay as long as the socket.
        socket.on('close', onBridgeClose);
      },
    );
  },
  { name: 'switchboard-ws-bridge', fastify: '5.x' },
);
