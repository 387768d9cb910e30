import type { ClientMessage, MemberInfo, Transport } from '@switchboard/protocol';
import type { MemberRecord } from '../cluster/cluster.js';
import { Outbox } from '../delivery/outbox.js';
import type { Link } from '../transports/link.js';
import type { ConnectOptions, DeviceAttachment, Hears } from './device.js';
import type { JoinOverlap } from './join-overlap.js';
import type { TokenBucket } from './rate-limiter.js';

/** A frame as it arrived (type and payload), or a device link's message already made. */
export type HeldFrame = [type: number, input: Uint8Array | ClientMessage];

/** One member's input as the gate sees it (each Member has one; only the InputGate writes it). */
export class MemberInput {
  /** Frames (or a device link's messages) that arrived while an earlier one was still being handled (a name claim, say). */
  held: HeldFrame[] | undefined;
  /** Chat messages of this member the cluster is still storing (Redis): pipelined, replies in order. */
  storing = 0;
  /** `held` waits for `storing` to reach 0, not for a handler. */
  waitingForStores = false;
}

export type MemberState = 'pending' | 'joined' | 'closed';

/** Why a member left a room, as presence frames and the admin API tell it. */
export type LeaveReason = 'left' | 'quit' | 'kicked' | 'banned' | 'replaced' | 'timeout' | 'overflow' | 'shutdown' | 'error' | 'rate' | 'node-lost';

/** A room as one node sees it: its members on this node. */
export interface Room {
  readonly name: string;
  readonly members: Set<Member>;
  readonly createdAt: number;
  /** Members that joined a moment ago → the history their join gave them (join-overlap.ts). */
  joinOverlaps?: Map<Member, JoinOverlap>;
  /** Members (any node's) whose presence join this node's members of the room were sent, until their leave (Router). */
  joinsHeard?: Set<string>;
}

/** One connection on this node: who it is, where it is, how alive it is. */
export class Member {
  readonly id: string;
  readonly link: Link;
  /** Set for a device link (line/raw listener, outbound link): what it is beside its link. */
  readonly device: DeviceAttachment | undefined;
  /** Whose words it hears once it is a device (a device link, or a connection that never said hello). */
  readonly hearsAsDevice: Hears;
  readonly connectedAt: number;
  /** Written by Delivery only. */
  readonly outbox = new Outbox();
  name: string;
  state: MemberState = 'pending';
  /** Never said hello: receives type-0 text lines instead of structured frames. */
  legacy = true;
  /** A device (line/raw/link, or plain): whose words in its rooms it hears. Undefined: it said hello and hears everyone. */
  hears: Hears | undefined;
  /**
   * A device: the last words its rooms handed it were a device's. What it says next is then
   * taken as its answer to a device and reaches no device (Router), so devices that hear
   * everyone cannot keep a loop going.
   */
  heardDevice = false;
  /**
   * Rooms in the order joined; the last one is the current room. Replaced, never changed in
   * place (enterRoom, leaveRoom): an array grown by push keeps room for 17, some 150 bytes for
   * as long as the connection lives, where most members sit in one room.
   */
  rooms: readonly Room[] = NO_ROOMS;
  /** Whom its private history belongs to: `account:alice`, `guest:…` (from its token), `device:…`. */
  identity = '';
  /** The account it signed in as (lower case), or null for guests and devices. */
  account: string | null = null;
  role: 'user' | 'admin' | null = null;
  /**
   * Its frames held while earlier ones wait, and its messages still being stored: the
   * InputGate's alone, made when something first waits and let go once nothing does.
   */
  input: MemberInput | undefined;

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

  constructor(id: string, link: Link, bucket: TokenBucket, now: number, as: ConnectOptions = {}) {
    this.id = id;
    this.link = link;
    this.device = as.device;
    this.hearsAsDevice = as.device?.hears ?? as.hearsIfPlain ?? 'people';
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

  /**
   * Said hello: gets structured frames, its own words back as acknowledgements, rosters and
   * history. Plain devices and device links do not: many treat every incoming line as a command.
   */
  get speaksProtocol(): boolean {
    return !this.legacy && this.device === undefined;
  }

  get currentRoom(): Room | undefined {
    return this.rooms[this.rooms.length - 1];
  }

  // `concat` and `slice` make arrays of the exact size; spread, filter and push leave room for 17.

  /** In `room` too, as its current room (moved to the end when it was already in it). */
  enterRoom(room: Room): void {
    this.rooms = roomsWithout(this.rooms, room).concat([room]);
  }

  leaveRoom(room: Room): void {
    const rooms = roomsWithout(this.rooms, room);
    this.rooms = rooms.length === 0 ? NO_ROOMS : rooms;
  }

  leaveAllRooms(): void {
    this.rooms = NO_ROOMS;
  }

  info(): MemberInfo {
    const info: MemberInfo = { id: this.id, name: this.name, transport: this.transport, address: this.link.address };
    if (this.legacy) info.legacy = true;
    // A device on a line or raw listener or an outbound link: pages show its room as a log (compact view).
    if (this.device !== undefined) info.device = true;
    return info;
  }

  /**
   * What the rest of the cluster knows of it. One literal with every key in the same order:
   * V8 gave each record made by spreading `info()` a hidden class of its own (a map and its
   * descriptors, some 300 bytes), kept by the directory for as long as the member stays.
   */
  record(node: string): MemberRecord {
    return {
      id: this.id,
      name: this.name,
      transport: this.transport,
      address: this.link.address,
      legacy: this.legacy ? true : undefined,
      device: this.device !== undefined ? true : undefined,
      node,
      rooms: this.rooms.map((r) => r.name),
      identity: this.identity,
      connectedAt: this.connectedAt,
    };
  }
}

/** Every member in no room shares it. */
const NO_ROOMS: readonly Room[] = Object.freeze([]);

function roomsWithout(rooms: readonly Room[], room: Room): readonly Room[] {
  const at = rooms.indexOf(room);
  return at < 0 ? rooms : rooms.slice(0, at).concat(rooms.slice(at + 1));
}
