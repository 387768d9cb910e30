import { NAME_RULE, ProtocolError, encodeMessage, isValidName, type ErrorCode, type ServerMessageOf } from '@switchboard/protocol';
import { memberInfoOf, type ClusterNode, type MemberRecord } from '../cluster/cluster.js';
import type { GatewayConfig } from '../config.js';
import { lookAlikeKey } from '../identity/look-alike.js';
import type { HistoryService } from '../history/history-service.js';
import type { Handled } from './handled.js';
import { historyReply } from './history-frame.js';
import { gaveHistoryUpTo } from './join-overlap.js';
import type { LeaveReason, Member, Room } from './member.js';
import type { Router } from './router.js';

type PresenceExtra = { reason?: LeaveReason; previousName?: string };

/** A name another member holds (a nick, a hello). */
export function nameTaken(name: string): ProtocolError {
  return new ProtocolError('NAME_TAKEN', `The name "${name}" is taken.`);
}

/**
 * Rooms, names and presence: who is where, under which name, and who hears about it. Names
 * are claimed through the cluster (unique on every node); each member's record in the cluster
 * directory follows its name and rooms, and rosters are read from the directory.
 */
export class Membership {
  constructor(
    private readonly router: Router,
    private readonly node: ClusterNode,
    private readonly history: HistoryService,
    private readonly config: GatewayConfig,
    private readonly now: () => number,
    /** The hub's error frame, counted (metrics) as every error sent is. */
    private readonly sendError: (member: Member, code: ErrorCode, message: string, ref?: string) => void,
  ) {}

  checkName(name: string): string {
    if (!isValidName(name)) throw new ProtocolError('NAME_INVALID', `"${name}" is not a valid name: use ${NAME_RULE}.`);
    return name;
  }

  checkRoomName(name: string): string {
    if (!isValidName(name)) throw new ProtocolError('ROOM_INVALID', `"${name}" is not a valid room name: use ${NAME_RULE}.`);
    return name;
  }

  /**
   * Claims `name` for the member across the cluster: true, false (taken), or a promise of either.
   * A member that closed before the claim settled gets none: the name is given back at once.
   */
  claim(member: Member, name: string): boolean | Promise<boolean> {
    if (lookAlikeKey(name) === lookAlikeKey(member.name) && member.state !== 'pending') return true;
    if (member.isClosed) return false;
    return this.node.names.claim(name, member.id).then((free) => {
      if (free && member.isClosed) {
        this.node.names.release(name, member.id);
        return false;
      }
      return free;
    });
  }

  /** Takes a claimed name: the old one is freed, the directory and (when joined) the rooms hear of it. */
  setName(member: Member, name: string, ref?: string): void {
    const previousName = member.name;
    if (lookAlikeKey(previousName) !== lookAlikeKey(name)) this.node.names.release(previousName, member.id);
    member.name = name;
    if (member.state !== 'joined' || previousName === name) return;
    void this.publishRecord(member);
    for (const room of member.rooms) this.announce(room, 'rename', member, { previousName }, ref);
    if (member.rooms.length === 0 && member.speaksProtocol) {
      const notice: ServerMessageOf<'notice'> = { type: 'notice', text: `You are now known as ${name}.`, ts: this.now() };
      if (ref !== undefined) notice.ref = ref;
      this.router.deliver(member, encodeMessage(notice));
    }
  }

  /**
   * Joins (or makes current) a room; protocol members then get its roster and recent history.
   * A room new to this node is joined once the cluster routes its events here (Router.whenServed).
   */
  join(member: Member, roomName: string, options: { since?: number | undefined; ref?: string | undefined } = {}): Handled {
    const room = this.router.ensureRoom(this.checkRoomName(roomName), this.now());
    return this.router.whenServed(room, () => {
      // Gone while the cluster subscribed: the room may be empty again.
      if (member.isClosed) return this.router.dropIfEmpty(room);
      // The room's history here may lack entries (its read-up from the cluster failed): read on first.
      const caughtUp = member.speaksProtocol && this.config.history.onJoin > 0 ? this.history.roomCaughtUp(room.name) : undefined;
      if (caughtUp === undefined) return this.#enter(member, room, options, true);
      return caughtUp.then(
        () => this.#enterLater(member, room, options, true),
        () => this.#enterLater(member, room, options, false),
      );
    });
  }

  /** `#enter` after a wait: the member may have gone, or the room been dropped meanwhile (then it is joined again). */
  #enterLater(member: Member, room: Room, options: { since?: number | undefined; ref?: string | undefined }, whole: boolean): Handled {
    if (this.router.rooms.get(room.name) !== room) return member.isClosed ? undefined : this.join(member, room.name, options);
    if (member.isClosed) return this.router.dropIfEmpty(room);
    this.#enter(member, room, options, whole);
  }

  /**
   * In the room, with its roster and history. `whole`: the room's history here holds every entry
   * the cluster has; if not, the member gets CLUSTER_UNAVAILABLE instead of a page that would say
   * it missed nothing.
   */
  #enter(member: Member, room: Room, options: { since?: number | undefined; ref?: string | undefined }, whole: boolean): void {
    const already = member.rooms.includes(room);
    // Already in it: it becomes the current room.
    member.enterRoom(room);
    if (!already) {
      room.members.add(member);
      void this.publishRecord(member);
      this.announce(room, 'join', member);
    }
    if (!member.speaksProtocol) return;
    this.sendRoster(member, room.name, options.ref);
    const onJoin = this.config.history.onJoin;
    if (onJoin > 0 && !whole) {
      const message = `You are in room "${room.name}", but its history cannot be read from the gateways' Redis now; ask history {room, after: <your last id>} again shortly.`;
      this.sendError(member, 'CLUSTER_UNAVAILABLE', message, options.ref);
    } else if (onJoin > 0) {
      const { since, ref } = options;
      const page =
        since === undefined ? this.history.room(room.name, { limit: onJoin }) : this.history.room(room.name, { after: since, limit: this.history.maxPage });
      const reply = historyReply({ room: room.name, ref }, page, since !== undefined, this.config.limits.maxFrameLength);
      // What it got here is not sent to it again live (a message read up for the join whose live copy comes after).
      const upTo = reply.entries.at(-1)?.id;
      if (upTo !== undefined) gaveHistoryUpTo(room, member, upTo, this.now());
      this.router.deliver(member, reply.frame);
    }
  }

  leave(member: Member, roomName: string, ref?: string): void {
    const room = this.roomOf(member, roomName);
    member.leaveRoom(room);
    room.members.delete(member);
    room.joinOverlaps?.delete(member);
    void this.publishRecord(member);
    // The leaver hears its own leave too: the confirmation that the request took effect.
    this.announce(room, 'leave', member, { reason: 'left' }, ref, true);
    this.router.dropIfEmpty(room);
  }

  /** Out of a room it may no longer be in (its access changed): like a leave, with reason `kicked`. */
  evict(member: Member, room: Room): void {
    member.leaveRoom(room);
    room.members.delete(member);
    room.joinOverlaps?.delete(member);
    void this.publishRecord(member);
    this.announce(room, 'leave', member, { reason: 'kicked' }, undefined, true);
    this.router.dropIfEmpty(room);
  }

  /** The member is gone: out of its rooms (with presence when it had joined), its name and record freed. */
  remove(member: Member, reason: LeaveReason, wasJoined: boolean): void {
    for (const room of member.rooms) {
      room.members.delete(member);
      room.joinOverlaps?.delete(member);
      if (wasJoined) this.announce(room, 'leave', member, { reason });
      this.router.dropIfEmpty(room);
    }
    member.leaveAllRooms();
    this.node.names.release(member.name, member.id);
    this.node.directory.remove(member.id);
  }

  /** Another node died: each node tells its own members that the lost node's members left, with reason node-lost. */
  nodeLost(records: readonly MemberRecord[]): void {
    const ts = this.now();
    for (const record of records) {
      const member = memberInfoOf(record);
      for (const room of record.rooms) {
        if (!this.router.rooms.has(room)) continue;
        const body: ServerMessageOf<'presence'> = { type: 'presence', room, event: 'leave', member, reason: 'node-lost', ts };
        // Plain devices get room text only (PROTOCOL.md §2): no legacyText.
        this.router.toLocalRoom({ room, frame: encodeMessage(body) });
      }
    }
  }

  /** A room's members on every node. */
  sendRoster(member: Member, roomName: string, ref?: string): void {
    const members = this.node.directory.inRoom(roomName).map(memberInfoOf);
    const roster: ServerMessageOf<'roster'> = { type: 'roster', room: roomName, members };
    if (ref !== undefined) roster.ref = ref;
    this.router.deliver(member, encodeMessage(roster));
  }

  /** Rooms with members anywhere in the cluster. */
  roomExists(name: string): boolean {
    return this.router.rooms.has(name) || this.node.directory.inRoom(name).length > 0;
  }

  roomOf(member: Member, name: string): Room {
    const room = this.router.rooms.get(name);
    if (room === undefined || !member.rooms.includes(room)) throw new ProtocolError('NOT_IN_ROOM', `You are not in room "${name}".`);
    return room;
  }

  currentOrThrow(member: Member): Room {
    const room = member.currentRoom;
    if (room === undefined) throw new ProtocolError('NOT_IN_ROOM', 'You are not in any room; join one first.');
    return room;
  }

  /** The member's record to the directory; over Redis, settles once the shared state holds it. */
  publishRecord(member: Member): void | Promise<void> {
    return this.node.directory.put(member.record(this.node.nodeId));
  }

  /**
   * Presence to a room on every node. The member's own copy carries its request's ref; a device
   * (plain or linked) does not hear its own arrival or departure. With `toSelf`, the member gets its copy
   * even when it is no longer in the room (a leave).
   */
  announce(room: Room, event: 'join' | 'leave' | 'rename', member: Member, extra: PresenceExtra = {}, ref?: string, toSelf = false): void {
    const body: ServerMessageOf<'presence'> = { type: 'presence', room: room.name, event, member: member.info(), ...extra, ts: this.now() };
    const ownCopy = member.speaksProtocol && (ref !== undefined || toSelf);
    // Plain devices get room text only (PROTOCOL.md §2): no legacyText; device links decide by their `notices`.
    this.router.toRoom({ room: room.name, frame: encodeMessage(body), except: !member.speaksProtocol || ownCopy ? member.id : undefined });
    if (ownCopy) this.router.deliver(member, encodeMessage(ref === undefined ? body : { ...body, ref }));
  }
}
