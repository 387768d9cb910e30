import type { Member } from '../hub/member.js';
import type { TcpLink, WireTap } from '../transports/tcp-link.js';
import type { Direction, TrafficEntry, TrafficLog } from './traffic-log.js';
import { trafficEntry } from './traffic-log.js';
import { trafficKey } from './accept-device.js';

/**
 * A plain device's traffic log: a member of a framed listener that never said hello, logged as
 * its bytes crossed the socket (whole frames with their headers, both ways), kept like a
 * line/raw listener's member by listener and address. Until the hub decides what the
 * connection is (its first frame, or the hello window closing), what it sent is held: a
 * protocol client's hello is not device traffic. Once it speaks the protocol (at once, or by a
 * later hello) the tap lets go.
 */
export class PlainDeviceLog implements WireTap {
  /** Reads while undecided, at most a log's worth; undefined once decided. */
  #held: TrafficEntry[] | undefined = [];
  /** It became a plain device: its log has its connect event. */
  #opened = false;

  constructor(
    private readonly traffic: TrafficLog,
    private readonly member: Member,
    readonly key: string,
  ) {}

  read(bytes: Uint8Array): boolean {
    return this.#pass('in', bytes);
  }

  wrote(bytes: Uint8Array): boolean {
    return this.#pass('out', bytes);
  }

  decided(): void {
    this.#logging();
  }

  closed(): void {
    if (this.#opened) this.traffic.event(this.key, 'disconnected');
  }

  #pass(direction: Direction, bytes: Uint8Array): boolean {
    const logging = this.#logging();
    if (logging === undefined) return false;
    if (logging) this.traffic.record(this.key, direction, bytes);
    else if (direction === 'in' && this.#held !== undefined) {
      this.#held.push(trafficEntry(direction, bytes));
      if (this.#held.length > this.traffic.entriesPerDevice) this.#held.shift();
    }
    return true;
  }

  /** True: a plain device, log; false: not decided yet (or closed); undefined: it speaks the protocol. */
  #logging(): boolean | undefined {
    const member = this.member;
    if (!member.legacy) {
      this.#held = undefined;
      return undefined;
    }
    if (member.state !== 'joined') return false;
    const held = this.#held;
    if (held !== undefined) {
      this.#held = undefined;
      this.#opened = true;
      this.traffic.open(this.key);
      this.traffic.event(this.key, `connected from ${member.link.address}`);
      for (const entry of held) this.traffic.append(this.key, entry);
    }
    return true;
  }
}

/** The traffic key of a plain device (a framed TCP member without hello), or undefined for anyone else. */
export function plainDeviceKey(member: Member): string | undefined {
  const link = member.link;
  if (!member.legacy || member.isClosed || member.device !== undefined || link.transport !== 'tcp' || link.listener === undefined) return undefined;
  return trafficKey({ listener: link.listener }, link.address, member.connectedAt);
}

/** For a framed listener: its connections' taps, logging those that turn out plain devices like a device's. */
export function plainDeviceTaps(traffic: TrafficLog): ((link: TcpLink, member: Member) => WireTap) | undefined {
  if (traffic.entriesPerDevice <= 0) return undefined;
  return (link, member) => new PlainDeviceLog(traffic, member, trafficKey({ listener: link.listener }, link.address, member.connectedAt));
}
