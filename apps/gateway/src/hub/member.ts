import type { MemberInfo, Transport } from '@switchboard/protocol';
import type { Link } from './link.js';
import type { TokenBucket } from './rate-limiter.js';

export type MemberState = 'pending' | 'joined' | 'closed';

/** Why a member left a room, as presence frames and the admin API tell it. */
export type LeaveReason = 'left' | 'quit' | 'kicked' | 'timeout' | 'overflow' | 'shutdown' | 'error' | 'rate';

export interface Room {
  readonly name: string;
  readonly members: Set<Member>;
  readonly createdAt: number;
}

/** One connection's place in the hub: who it is, where it is, and what waits to be written to it. */
export class Member {
  readonly id: string;
  readonly link: Link;
  readonly connectedAt: number;
  name: string;
  state: MemberState = 'pending';
  /** Never said hello: receives type-0 text lines instead of structured frames. */
  legacy = true;
  /** Rooms in the order joined; the last one is the current room. */
  readonly rooms: Room[] = [];

  // Outbox: frames queued this turn, written together by the flush scheduler.
  pending: Uint8Array[] = [];
  pendingBytes = 0;
  dirty = false;
  /** Its queue passed the limit: nothing more is queued; it is being disconnected. */
  overflowed = false;
  /** Bytes its socket still held after our last write (or at the last drain): what the peer has not taken. */
  socketBacklog = 0;
  /** Input paused because the hub's outboxes are full: resumed after the next flush. */
  throttled = false;

  // Backpressure: members whose input is paused until this one drains, and the members
  // (possibly itself) this one waits for.
  readonly waiters = new Set<Member>();
  readonly blockedBy = new Set<Member>();
  blockedSince = 0;

  // Liveness.
  lastHeardAt: number;
  pingSentAt = 0;
  /** When the current incomplete frame started arriving (0: none). */
  partialSince = 0;
  helloTimer: NodeJS.Timeout | undefined;

  // Limits.
  readonly bucket: TokenBucket;
  rateStrikes = 0;
  lastRateErrorAt = 0;

  // Counters for the admin API.
  bytesIn = 0;
  bytesOut = 0;
  messagesIn = 0;
  messagesOut = 0;

  constructor(id: string, link: Link, bucket: TokenBucket, now: number) {
    this.id = id;
    this.link = link;
    this.name = link.address;
    this.connectedAt = now;
    this.lastHeardAt = now;
    this.bucket = bucket;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get transport(): Transport {
    return this.link.transport;
  }

  get currentRoom(): Room | undefined {
    return this.rooms[this.rooms.length - 1];
  }

  /** Bytes waiting for this member: in the outbox and in the socket. */
  get queuedBytes(): number {
    return this.pendingBytes + this.link.bufferedBytes;
  }

  info(): MemberInfo {
    const info: MemberInfo = { id: this.id, name: this.name, transport: this.transport, address: this.link.address };
    if (this.legacy) info.legacy = true;
    return info;
  }
}
