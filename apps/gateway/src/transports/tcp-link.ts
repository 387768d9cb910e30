import type net from 'node:net';
import { FrameDecoder } from '@switchboard/protocol';
import type { ConnectOptions } from '../hub/device.js';
import type { Hub } from '../hub/hub.js';
import type { Member } from '../hub/member.js';
import { peerOf } from './address.js';
import type { Link } from './link.js';
import { JoinCache, joinStream } from './write-batch.js';

/** Members of one room get the same frames in a flush: joined once for all TCP members. */
const streamBatches = new JoinCache(joinStream);

/** What a framed TCP connection tells about its bytes, both ways; false: it is not interested any more. */
export interface WireTap {
  read(bytes: Uint8Array): boolean;
  wrote(bytes: Uint8Array): boolean;
  /** The hub decided what the connection is (it joined as a plain device, or said hello). */
  decided(): void;
  /** The connection closed. */
  closed(): void;
}

/** One accepted TCP socket as the hub sees it. */
export class TcpLink implements Link {
  readonly transport = 'tcp';
  readonly address: string;
  readonly ip: string;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly closeTimeoutMs: number,
    readonly listener: string,
  ) {
    ({ ip: this.ip, address: this.address } = peerOf(socket));
  }

  /** Set while the connection may be a plain device: sees its bytes both ways (its traffic log). */
  tap: WireTap | undefined;

  write(frames: readonly Uint8Array[]): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    // A byte stream keeps no boundaries anyway: one buffer, one write, one system call.
    const bytes = frames.length === 1 ? frames[0]! : streamBatches.get(frames);
    if (this.tap !== undefined && !this.tap.wrote(bytes)) this.tap = undefined;
    socket.write(bytes);
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** Set by acceptFramed: pausing stops the decoder mid-chunk as well as the socket. */
  decoder: FrameDecoder | undefined;
  /** Set by acceptFramed: the hub, and the member the decoder's frames are from. */
  hub: Hub | undefined;
  member: Member | undefined;

  /** Feeds the decoder and reports a bad stream, for reads and resumes alike. */
  feed(work: () => void): void {
    const { decoder, hub, member } = this;
    if (decoder === undefined || hub === undefined || member === undefined) return;
    try {
      work();
    } catch (error) {
      hub.protocolError(member, error); // a bad length prefix: fatal
      return;
    }
    hub.noteInput(member, decoder.midFrame);
  }

  pauseInput(): void {
    this.socket.pause();
    this.decoder?.pause();
  }

  resumeInput(): void {
    const decoder = this.decoder;
    if (decoder === undefined || this.hub === undefined) return void this.socket.resume();
    // Handing out the held frames may meet a bad length prefix, or pause us again.
    this.feed(() => decoder.resume());
    if (!decoder.paused && !this.socket.destroyed) this.socket.resume();
  }

  end(): void {
    if (this.socket.destroyed) return;
    // Reading may be paused: the peer's FIN must still be read for the socket to close (what
    // arrives now is dropped: the member is closed).
    this.decoder?.pause();
    this.socket.resume();
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

/** A framed socket knows its link: its listeners below are shared by every socket, where a closure each would stay as long as the connection. */
const LINK = Symbol('switchboard.tcpLink');
type FramedSocket = net.Socket & { [LINK]?: TcpLink };

function onFramedData(this: FramedSocket, chunk: Buffer): void {
  const link = this[LINK]!;
  // Seen before it is handled: the frame that decides what the connection is comes first in the log.
  if (link.tap !== undefined && !link.tap.read(chunk)) link.tap = undefined;
  const decoder = link.decoder!;
  link.feed(() => decoder.push(chunk));
}

function onFramedDrain(this: FramedSocket): void {
  const link = this[LINK]!;
  link.hub!.drained(link.member!);
}

function onFramedClose(this: FramedSocket): void {
  const link = this[LINK]!;
  link.tap?.closed();
  link.hub!.disconnect(link.member!, 'quit');
}

/**
 * A framed link's decoder knows its link, so every decoder hands its frames to one shared
 * function (the decoder calls it as its own method), where a closure each, and its context, stayed
 * as long as the connection.
 */
class LinkDecoder extends FrameDecoder {
  constructor(
    readonly link: TcpLink,
    maxFrameLength: number,
  ) {
    super(onLinkFrame, { maxFrameLength });
  }
}

function onLinkFrame(this: LinkDecoder, type: number, payload: Uint8Array): void {
  const { hub, member } = this.link;
  hub!.receive(member!, type, payload);
}

/**
 * A socket that speaks Switchboard's framing joins the hub through its own decoder. `tapFor`
 * and `as` (given by devices/, which transports know nothing of) may watch its bytes and say
 * what it hears: it may turn out a plain device.
 */
export function acceptFramed(
  hub: Hub,
  socket: net.Socket,
  listener: string,
  tapFor?: (link: TcpLink, member: Member) => WireTap | undefined,
  as?: ConnectOptions,
): Member | undefined {
  const link = new TcpLink(socket, hub.config.timing.closeTimeoutMs, listener);
  const member = hub.connect(link, as);
  if (member === undefined) return undefined;
  link.tap = tapFor?.(link, member);
  link.hub = hub;
  link.member = member;
  link.decoder = new LinkDecoder(link, hub.config.limits.maxFrameLength);
  (socket as FramedSocket)[LINK] = link;
  socket.on('data', onFramedData);
  socket.on('drain', onFramedDrain);
  // `on`, not `once`: 'close' comes once, and a once wrapper would stay as long as the socket.
  socket.on('close', onFramedClose);
  return member;
}
