import { ProtocolError, encodeMessage, type ErrorCode } from '@switchboard/protocol';
import type { AdminAction, ClusterNode } from '../cluster/cluster.js';
import type { Ban } from '../identity/bans.js';
import type { Identity } from '../identity/identity.js';
import { OPEN_ROOM, admits } from '../room-access.js';
import type { LeaveReason, Member } from './member.js';
import type { Membership } from './membership.js';
import type { Router } from './router.js';

/** What the operators' actions need of the hub. */
export interface OperatorActionsDeps {
  node: ClusterNode;
  router: Router;
  membership: Membership;
  identity: Identity;
  now: () => number;
  /** Hub.disconnect: the member first gets `error` or `notice`. */
  disconnect(member: Member, reason: LeaveReason, error?: { code: ErrorCode; message: string }, notice?: { text: string; code: ErrorCode }): void;
  /** A notice for a member; none for a plain device. */
  noticeFrame(member: Member, text: string, extra?: { code?: ErrorCode; private?: boolean }): Uint8Array | undefined;
  /** Hub.sendError. */
  sendError(member: Member, code: ErrorCode, message: string): void;
}

/**
 * What operators do to members (the REST API calls these through the hub): kick, ban, revoke,
 * tell one member, broadcast to a room or everyone, on whichever node the member is; and what a
 * ban or a room's new access setting, made here or on another gateway, means for members here.
 */
export class OperatorActions {
  readonly #deps: OperatorActionsDeps;

  constructor(deps: OperatorActionsDeps) {
    this.#deps = deps;
  }

  /** Kicks a member on any node; false when nobody has that id. */
  async kick(id: string, reason?: string): Promise<boolean> {
    return this.admin({ kind: 'kick', member: id, reason });
  }

  /**
   * Ends every session of an identity on every node (a password reset, a deleted account),
   * telling each why with a SESSION_REVOKED notice. How many it closed.
   */
  async revokeSessions(identity: string, text: string): Promise<number> {
    const records = [...this.#deps.node.directory.all()].filter((record) => record.identity === identity);
    const closed = await Promise.all(records.map((record) => this.admin({ kind: 'revoke', member: record.id, text, code: 'SESSION_REVOKED' })));
    return closed.filter(Boolean).length;
  }

  /**
   * Closes a session that gives way to a sign-in, on any node: another connection of the same
   * identity (SESSION_REPLACED), or with `reclaimedName` a guest holding the name of the account
   * signing in (NAME_RECLAIMED).
   */
  async giveWay(id: string, reclaimedName?: string): Promise<boolean> {
    return this.admin(
      reclaimedName === undefined
        ? { kind: 'replace', member: id }
        : {
            kind: 'revoke',
            member: id,
            code: 'NAME_RECLAIMED',
            text: `"${reclaimedName}" is a registered account and its owner signed in; this connection is closed.`,
          },
    );
  }

  /** Disconnects a member that a new ban matches (BANNED, with the reason). */
  async ban(id: string, reason: string): Promise<boolean> {
    return this.admin({ kind: 'ban', member: id, reason });
  }

  /** A ban added on another gateway: the members it matches here go, as they would on that gateway. */
  banAddedElsewhere(ban: Ban): void {
    for (const member of [...this.#deps.router.members.values()]) {
      if (this.#deps.identity.banFor(member.link.ip, member.name, member.account)?.id === ban.id)
        this.#deps.disconnect(member, 'banned', { code: 'BANNED', message: `Banned: ${ban.reason}` });
    }
  }

  /**
   * A room's access changed (here or on another gateway): this gateway's members it no longer
   * admits are taken out of it (ROOM_FORBIDDEN, then presence leave with reason `kicked`).
   * Devices stay: their listener or link put them there.
   */
  roomAccessChanged(roomName: string): void {
    const room = this.#deps.router.rooms.get(roomName);
    if (room === undefined) return;
    const setting = this.#deps.identity.store.roomAccess(roomName) ?? OPEN_ROOM;
    for (const member of [...room.members]) {
      if (member.device !== undefined || member.isClosed || admits(setting, member)) continue;
      this.#deps.sendError(member, 'ROOM_FORBIDDEN', `Room "${roomName}" was restricted: you are no longer in it.`);
      this.#deps.membership.evict(member, room);
    }
  }

  /** A private notice from the operator to one member on any node. */
  async tell(id: string, text: string): Promise<boolean> {
    return this.admin({ kind: 'tell', member: id, text });
  }

  /**
   * A notice from the operator to one room, or to every member, on every node. Nodes that did
   * not answer in time are named in `unanswered` (their members may or may not have it).
   */
  async broadcast(text: string, roomName?: string): Promise<{ delivered: number; unanswered: string[] }> {
    if (roomName !== undefined) {
      if (!this.#deps.membership.roomExists(roomName)) throw new ProtocolError('ROOM_NOT_FOUND', `No room is named "${roomName}".`);
      const frame = encodeMessage({ type: 'notice', text, ts: this.#deps.now(), room: roomName });
      // Plain devices get room text only (PROTOCOL.md §2); device links pass it on when asked (`notices`).
      this.#deps.router.toRoom({ room: roomName, frame });
      return { delivered: this.#deps.node.directory.inRoom(roomName).filter((record) => record.legacy !== true).length, unanswered: [] };
    }
    const peers = this.#deps.node.bus.peers();
    const answers = await Promise.all(peers.map((node) => this.#deps.node.bus.announce(node, { kind: 'announce', text })));
    const unanswered = peers.filter((_node, i) => answers[i] === undefined);
    return { delivered: answers.reduce<number>((sum, n) => sum + (n ?? 0), this.announceHere(text)), unanswered };
  }

  /** The notice to every joined member of this node; how many it reached. */
  announceHere(text: string): number {
    const frame = encodeMessage({ type: 'notice', text, ts: this.#deps.now() });
    let reached = 0;
    for (const member of this.#deps.router.members.values()) {
      // Plain devices get room text only (PROTOCOL.md §2).
      if (member.state !== 'joined' || member.legacy) continue;
      this.#deps.router.deliver(member, frame);
      reached++;
    }
    return reached;
  }

  /** An action on a member of any node: here, or asked of its node over the bus; false when nobody has that id. */
  async admin(action: AdminAction): Promise<boolean> {
    const record = this.#deps.node.directory.get(action.member);
    if (record === undefined || record.node === this.#deps.node.nodeId) return this.adminHere(action);
    return this.#deps.node.bus.request(record.node, action);
  }

  /** An action on a member of this node (asked here or by another node); false when it is not here. */
  adminHere(action: AdminAction): boolean {
    const member = this.#deps.router.members.get(action.member);
    if (member === undefined || member.isClosed) return false;
    if (action.kind === 'tell') {
      // To a plain device the operator's words alone, as a text line (what the console previews).
      this.#deps.router.deliver(
        member,
        member.legacy ? encodeMessage({ type: 'text', text: action.text }) : this.#deps.noticeFrame(member, action.text, { private: true })!,
      );
    } else if (action.kind === 'replace') {
      this.#deps.disconnect(member, 'replaced', undefined, { text: 'You signed in again elsewhere; this connection is closed.', code: 'SESSION_REPLACED' });
    } else if (action.kind === 'revoke') {
      this.#deps.disconnect(member, action.code === 'NAME_RECLAIMED' ? 'replaced' : 'kicked', undefined, { text: action.text, code: action.code });
    } else if (action.kind === 'ban') {
      this.#deps.disconnect(member, 'banned', { code: 'BANNED', message: action.reason });
    } else {
      const text = action.reason ? `You were kicked by an administrator: ${action.reason}` : 'You were kicked by an administrator.';
      this.#deps.disconnect(member, 'kicked', undefined, { text, code: 'KICKED' });
    }
    return true;
  }
}
