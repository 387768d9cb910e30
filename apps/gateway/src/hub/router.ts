import { DEFAULT_ROOM, FrameType, encodeMessage, type ServerMessageOf } from '@switchboard/protocol';
import {
  memberInfoOf,
  type ClusterHandlers,
  type ClusterNode,
  type MemberEvent,
  type MemberRecord,
  type RoomEvent,
  type RoomEventOrigin,
} from '../cluster/cluster.js';
import type { Hears } from './device.js';
import type { Delivery } from '../delivery/delivery.js';
import type { Handled } from './handled.js';
import { alreadyGiven } from './join-overlap.js';
import type { Member, Room } from './member.js';

/**
 * Where frames go: to a member here, to a member on another node, to a room across the
 * cluster. It keeps this node's members and rooms, fans room events out to the local members
 * (plain devices get the event's line instead), and holds what a new connection's room says
 * while it has not yet said hello or been made a plain device (the hello window).
 */
export class Router {
  /** This node's connections, by id. */
  readonly members = new Map<string, Member>();
  /** Rooms with members on this node. */
  readonly rooms = new Map<string, Room>();
  /** Rooms whose events from other nodes are not heard yet (the cluster's subscription in flight). */
  readonly #subscribing = new Map<Room, Promise<void>>();
  /** Joins waiting for that: the room is kept for them, even empty. */
  readonly #joining = new Map<Room, number>();
  /** Undecided connections and the lines their room said meanwhile (bounded, in order). */
  readonly #undecided = new Map<Member, { lines: Uint8Array[]; bytes: number }>();

  constructor(
    private readonly delivery: Delivery,
    private readonly node: ClusterNode,
    private readonly maxQueueBytes: number,
    private readonly now: () => number,
  ) {
    this.ensureRoom(DEFAULT_ROOM, now());
  }

  /** Serves what other nodes send: frames it routes itself, the rest (operator actions, a lost node) to the hub's `handlers`. */
  serve(handlers: Omit<ClusterHandlers, 'room' | 'member' | 'joinedElsewhere' | 'leftElsewhere'>): void {
    this.node.bus.serve({
      joinedElsewhere: (record, rooms) => this.#joinedElsewhere(record, rooms),
      leftElsewhere: (record, rooms, gone) => this.#leftElsewhere(record, rooms, gone),
      room: (event) => this.#fanOutLocal(event),
      member: (event) => {
        const member = this.members.get(event.to);
        if (member !== undefined) this.#deliverEvent(member, event);
      },
      ...handlers,
    });
  }

  /** Queues a frame for a local member and counts it. */
  deliver(member: Member, frame: Uint8Array): void {
    member.bytesOut += frame.length;
    member.messagesOut++;
    this.delivery.deliver(member, frame);
  }

  /** To every member of a room, on every node. */
  toRoom(event: RoomEvent): void {
    this.#fanOutLocal(event);
    this.node.bus.publishRoom(event);
  }

  /** To the room's members on this node only (what every node says for itself, as a lost node's departures). */
  toLocalRoom(event: RoomEvent): void {
    this.#fanOutLocal(event);
  }

  /** To the room's members on the other nodes only (this node's were served already). */
  publishRoom(event: RoomEvent): void {
    this.node.bus.publishRoom(event);
  }

  /** To one member wherever it lives. */
  toMember(record: MemberRecord, frame: Uint8Array, legacyText?: string): void {
    const event: MemberEvent = { to: record.id, frame, legacyText };
    const local = record.node === this.node.nodeId ? this.members.get(record.id) : undefined;
    if (local !== undefined) this.#deliverEvent(local, event);
    else if (record.node !== this.node.nodeId) this.node.bus.sendToMember(record.node, event);
  }

  ensureRoom(name: string, now: number): Room {
    let room = this.rooms.get(name);
    if (room === undefined) {
      room = { name, members: new Set(), createdAt: now };
      this.rooms.set(name, room);
      // This node serves the room from now on: the cluster routes its events here.
      const serving = this.node.bus.serveRoom(name);
      if (serving instanceof Promise) {
        const created = room;
        this.#subscribing.set(
          created,
          serving.finally(() => this.#subscribing.delete(created)),
        );
      }
    }
    return room;
  }

  /**
   * Runs `enter` once this node hears `room`'s events from the other nodes: now, or when the
   * cluster's subscription is acknowledged (the room is kept meanwhile, even empty), so a
   * member that joined misses nothing said in the room after its join.
   */
  whenServed(room: Room, enter: () => Handled): Handled {
    const subscribing = this.#subscribing.get(room);
    if (subscribing === undefined) return enter();
    this.#joining.set(room, (this.#joining.get(room) ?? 0) + 1);
    return subscribing.then(() => {
      const left = (this.#joining.get(room) ?? 1) - 1;
      if (left > 0) this.#joining.set(room, left);
      else this.#joining.delete(room);
      return enter();
    });
  }

  /** The room's last member here left (and no join waits for it): this node stops serving it. */
  dropIfEmpty(room: Room): void {
    if (room.members.size > 0 || room.name === DEFAULT_ROOM || this.#joining.has(room) || this.rooms.get(room.name) !== room) return;
    this.rooms.delete(room.name);
    this.node.bus.dropRoom(room.name);
  }

  /** A new connection hears its first room (lobby) from now on, kept until it decides. */
  watchUndecided(member: Member): void {
    this.#undecided.set(member, { lines: [], bytes: 0 });
  }

  /** It decided (or left): what lobby said meanwhile, as plain lines, oldest first. */
  takeUndecided(member: Member): Uint8Array[] {
    const held = this.#undecided.get(member);
    this.#undecided.delete(member);
    return held?.lines ?? [];
  }

  #deliverEvent(member: Member, event: MemberEvent): void {
    if (!member.legacy) this.deliver(member, event.frame);
    else if (event.legacyText !== undefined) this.deliver(member, encodeMessage({ type: 'text', text: event.legacyText }));
  }

  /**
   * Another node's member is in these rooms, its record says: where this node's members were not
   * sent its presence join (it went out before this node heard the room), they are sent one now.
   */
  #joinedElsewhere(record: MemberRecord, rooms: string[]): void {
    for (const name of rooms) {
      const room = this.rooms.get(name);
      if (room === undefined || room.joinsHeard?.has(record.id) === true) continue;
      const presence: ServerMessageOf<'presence'> = { type: 'presence', room: name, event: 'join', member: memberInfoOf(record), ts: this.now() };
      this.#fanOutLocal({ room: name, frame: encodeMessage(presence) });
    }
  }

  /**
   * Another node's member left these rooms (or is gone) while this node did not hear it (Redis
   * away), its node's state read again says: this node's members in them are told now.
   */
  #leftElsewhere(record: MemberRecord, rooms: string[], gone: boolean): void {
    for (const name of rooms) {
      if (!this.rooms.has(name)) continue;
      const presence: ServerMessageOf<'presence'> = {
        type: 'presence',
        room: name,
        event: 'leave',
        member: memberInfoOf(record),
        reason: gone ? 'quit' : 'left',
        ts: this.now(),
      };
      this.#fanOutLocal({ room: name, frame: encodeMessage(presence) });
    }
  }

  /** A presence event about to be fanned out: false for a join its members were sent already (from the member's record, or the room's channel). */
  #freshPresence(room: Room, frame: Uint8Array): boolean {
    let presence: { event?: string; member?: { id?: string } };
    try {
      presence = JSON.parse(new TextDecoder().decode(frame.subarray(5))) as typeof presence;
    } catch {
      return true;
    }
    const id = presence.member?.id;
    if (id === undefined) return true;
    if (presence.event === 'leave') room.joinsHeard?.delete(id);
    if (presence.event !== 'join') return true;
    const heard = (room.joinsHeard ??= new Set());
    if (heard.has(id)) return false;
    // Heard before this node's directory has it in the room: a member that joins here meanwhile gets a roster without it, so its record's arrival (#joinedElsewhere) is still told.
    if (this.node.directory.get(id)?.rooms.includes(room.name) === true) heard.add(id);
    return true;
  }

  #fanOutLocal(event: RoomEvent): void {
    const room = this.rooms.get(event.room);
    if (room !== undefined && event.frame[4] === FrameType.Presence && !this.#freshPresence(room, event.frame)) return;
    let line: Uint8Array | undefined;
    // Read once, when the first member needs it: `frame` may be a getter (encoded on first use).
    let frame: Uint8Array | undefined;
    if (room !== undefined) {
      const origin = event.origin;
      // A member that joined a moment ago may have this message in its join's history already.
      const given = room.joinOverlaps === undefined ? undefined : alreadyGiven(room, event.frame, this.now());
      for (const member of room.members) {
        if (member.id === event.except || given?.has(member) === true) continue;
        const hears = member.hears;
        if (hears !== undefined) {
          // A device: one comparison or two, no encoding (docs/devices.md, "Who a device hears").
          if (!hearsFrom(hears, origin)) continue;
          if (origin !== undefined) member.heardDevice = origin !== 'person';
        }
        if (!member.legacy) this.deliver(member, (frame ??= event.frame));
        else if (event.legacyText !== undefined) this.deliver(member, (line ??= encodeMessage({ type: 'text', text: event.legacyText })));
      }
    }
    if (event.room !== DEFAULT_ROOM || event.legacyText === undefined || this.#undecided.size === 0) return;
    for (const [member, held] of this.#undecided) {
      if (!hearsFrom(member.hearsAsDevice, event.origin)) continue;
      line ??= encodeMessage({ type: 'text', text: event.legacyText });
      // Within the queue limit a member would have had; past it, later lines are not kept.
      if (held.bytes + line.length > this.maxQueueBytes) continue;
      held.lines.push(line);
      held.bytes += line.length;
    }
  }
}

/**
 * Whether a device that hears `hears` gets words of `origin` (undefined: the gateway's own,
 * which its link passes on only when it asked for notices). `relay` is a device's answer to a
 * device: no device hears it, so a loop between devices that hear everyone ends after one round.
 */
export function hearsFrom(hears: Hears, origin: RoomEventOrigin | undefined): boolean {
  if (hears === 'people') return origin === undefined || origin === 'person';
  if (hears === 'everyone') return origin !== 'relay';
  return false; // addressed: nothing said in a room
}

/** Who a member's words are from, for devices' `hears` (RoomEvent.origin). */
export function originOf(member: Member): RoomEventOrigin {
  // heardDevice is only ever set on a device that hears devices.
  if (member.heardDevice) return 'relay';
  return member.device !== undefined ? 'device' : 'person';
}
