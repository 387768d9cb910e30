import { randomBytes } from 'node:crypto';
import { DEFAULT_ROOM, ProtocolError, encodeMessage, type ClientMessage } from '@switchboard/protocol';
import type { ClusterNode } from '../cluster/cluster.js';
import type { GatewayConfig } from '../config.js';
import type { HistoryService } from '../history/history-service.js';
import type { Identity } from '../identity/identity.js';
import { ChatMessages, said } from './chat-messages.js';
import type { FileRelay } from './file-relay.js';
import { andThen, withRef, type Handled } from './handled.js';
import { historyFrame, searchFrame } from './history-frame.js';
import type { Member } from './member.js';
import { nameTaken, type Membership } from './membership.js';
import { OPEN_ROOM, admits, roomForbidden, type RoomVisitor } from '../room-access.js';
import type { Router } from './router.js';
import { SignInFlow, clearHelloTimer } from './sign-in-flow.js';

/** What a member without an account may send on a gateway with --require-login: what a device does. */
const DEVICE_REQUESTS: ReadonlySet<ClientMessage['type']> = new Set(['hello', 'text', 'message', 'ping', 'pong']);

/** What the hub hands Requests: its parts, and two ways back to the hub. */
export interface RequestsOptions {
  config: GatewayConfig;
  node: ClusterNode;
  router: Router;
  membership: Membership;
  history: HistoryService;
  files: FileRelay;
  now: () => number;
  /** A member became joined (hello or plain device): the hub tells its listeners. */
  joined: (member: Member) => void;
  identity: Identity;
  /**
   * Closes another connection of the same identity (a token reclaiming its name), or with
   * `reclaimedName` a guest holding the name of the account signing in; it may live on another node.
   */
  replace: (memberId: string, reclaimedName?: string) => Promise<unknown>;
}

/**
 * What each client request does (PROTOCOL.md §3-§7); a hello goes on to SignInFlow. Replies
 * carry the request's `ref`. Errors are thrown as ProtocolError; the hub turns them into error
 * frames with the ref.
 */
export class Requests {
  private readonly config: GatewayConfig;
  private readonly node: ClusterNode;
  private readonly router: Router;
  private readonly membership: Membership;
  private readonly history: HistoryService;
  private readonly files: FileRelay;
  private readonly now: () => number;
  private readonly joined: RequestsOptions['joined'];
  private readonly identity: Identity;
  readonly #chat: ChatMessages;
  readonly #signIn: SignInFlow;

  constructor(options: RequestsOptions) {
    this.config = options.config;
    this.node = options.node;
    this.router = options.router;
    this.membership = options.membership;
    this.history = options.history;
    this.files = options.files;
    this.now = options.now;
    this.joined = options.joined;
    this.identity = options.identity;
    this.#chat = new ChatMessages(options.node, options.router, options.history, options.now, options.config.limits);
    this.#signIn = new SignInFlow({
      config: options.config,
      node: options.node,
      router: options.router,
      membership: options.membership,
      history: options.history,
      identity: options.identity,
      joined: options.joined,
      replace: options.replace,
      mayJoin: (visitor, room) => this.#mayEnter(visitor, room, undefined),
    });
  }

  handle(member: Member, message: ClientMessage): Handled {
    if (member.state === 'pending' && message.type !== 'hello') {
      if (!member.legacy) throw new ProtocolError('UNEXPECTED_TYPE', 'Your hello failed; send hello again before anything else.');
      this.#checkSignedIn(member, message);
      // A first frame other than hello: a plain device, which also says what it sent.
      return andThen(this.admitPlain(member), () => this.#dispatch(member, message));
    }
    this.#checkSignedIn(member, message);
    return this.#dispatch(member, message);
  }

  /**
   * With --require-login, a member without an account (a plain device or a device link, which
   * never sign in) may speak in its room and nothing more: no history, private messages, files,
   * rooms or names. A hello is how to become more.
   */
  #checkSignedIn(member: Member, message: ClientMessage): void {
    if (!this.identity.config.requireLogin || member.account !== null || DEVICE_REQUESTS.has(message.type)) return;
    throw new ProtocolError('AUTH_REQUIRED', `This gateway admits accounts only: sign in (hello with a password or token) before sending ${message.type}.`);
  }

  #dispatch(member: Member, message: ClientMessage): Handled {
    if (member.isClosed) return;
    const membership = this.membership;
    switch (message.type) {
      case 'hello':
        return this.#signIn.hello(member, message);
      case 'text':
        return this.#chat.say(member, this.#mayUse(member, membership.currentOrThrow(member).name, 'speak in it'), { text: message.text });
      case 'message': {
        const room = message.room === undefined ? membership.currentOrThrow(member).name : membership.roomOf(member, message.room).name;
        return this.#chat.say(member, this.#mayUse(member, room, 'speak in it'), said(message), message.ref);
      }
      case 'private':
        this.#mayAddress(member, message.to);
        return this.#chat.private(member, message);
      case 'join':
        this.#mayUse(member, membership.checkRoomName(message.room), 'join it');
        return membership.join(member, message.room, { ref: message.ref });
      case 'leave':
        return membership.leave(member, message.room, message.ref);
      case 'rooms':
        return this.router.deliver(member, encodeMessage(withRef({ type: 'rooms', rooms: this.listRooms() }, message.ref)));
      case 'roster': {
        const room = message.room ?? membership.currentOrThrow(member).name;
        if (!membership.roomExists(room)) throw new ProtocolError('ROOM_NOT_FOUND', `No room is named "${room}".`);
        this.#mayUse(member, room, 'see who is in it');
        return membership.sendRoster(member, room, message.ref);
      }
      case 'nick': {
        const name = membership.checkName(message.name);
        if (member.account !== null) throw new ProtocolError('NAME_INVALID', `Signed in as the account "${member.name}", you keep its name.`);
        const account = this.identity.store.account(name);
        if (account !== undefined) throw new ProtocolError('AUTH_REQUIRED', `"${name}" is the registered account "${account.name}": sign in as it instead.`);
        const ban = this.identity.banFor(member.link.ip, name);
        if (ban !== undefined) throw new ProtocolError('BANNED', `The name "${name}" is banned: ${ban.reason}`);
        return andThen(membership.claim(member, name), (free) => {
          if (!free) throw nameTaken(name);
          if (member.isClosed) return;
          // Only a name it now holds: its token reclaims that one from now on.
          this.identity.store.renameToken(member.identity, name);
          membership.setName(member, name, message.ref);
        });
      }
      case 'history': {
        const reader = { identity: member.identity, rooms: member.rooms.map((r) => r.name), visitor: member };
        const answer = (): void => {
          const page = this.history.forMember(reader, message);
          const forward = message.after !== undefined && message.before === undefined;
          this.router.deliver(member, historyFrame(message, page, forward, this.config.limits.maxFrameLength));
        };
        const room = message.room;
        if (room === undefined || message.with !== undefined || message.private === true) return answer();
        // A room it is in is served here (read on first if its read-up failed); one it is not in may not be: read up first.
        if (member.rooms.some((r) => r.name === room)) return andThen(this.history.roomCaughtUp(room), answer);
        return andThen(this.history.readRoomUp(reader.visitor, room), answer);
      }
      case 'search': {
        const searcher = member.role === 'admin' ? { operator: true as const } : { operator: false as const, identity: member.identity, visitor: member };
        return this.router.deliver(member, searchFrame(message, this.history.search(searcher, message), this.config.limits.maxFrameLength));
      }
      case 'ping':
        return this.router.deliver(member, encodeMessage({ type: 'pong', data: message.data }));
      case 'pong':
        return; // lastHeardAt is already updated
      case 'file-offer':
        if (message.to !== undefined) this.#mayAddress(member, message.to);
        else this.#mayUse(member, message.room ?? membership.currentOrThrow(member).name, 'send files to it');
        return this.files.offer(member, message);
      case 'file-data':
        return this.files.data(member, message.transfer, message.data);
      case 'file-end':
        return this.files.end(member, message);
      case 'file-abort':
        return this.files.abort(member, message);
    }
  }

  listRooms(): { name: string; members: number }[] {
    const counts = new Map<string, number>();
    for (const room of this.router.rooms.keys()) counts.set(room, 0);
    for (const record of this.node.directory.all()) for (const room of record.rooms) counts.set(room, (counts.get(room) ?? 0) + 1);
    return [...counts].map(([name, members]) => ({ name, members }));
  }

  /** Who may join a room and speak in it (room-access.ts); a device speaks in the room its listener or link put it in. */
  #mayUse(member: Member, room: string, what: string): string {
    if (member.device !== undefined) return room;
    return this.#mayEnter(member, room, room, what);
  }

  #mayEnter<T>(visitor: RoomVisitor, room: string, pass: T, what = 'join it'): T {
    const setting = this.identity.store.roomAccess(room) ?? OPEN_ROOM;
    if (!admits(setting, visitor)) throw roomForbidden(room, setting, what);
    return pass;
  }

  /** Addressing a device is commanding it: only who may speak in each of its rooms may. */
  #mayAddress(member: Member, to: string): void {
    const target = this.node.directory.byName(to);
    if (target === undefined || !target.identity.startsWith('device:') || member.device !== undefined) return;
    for (const room of target.rooms) this.#mayEnter(member, room, undefined, `address "${target.name}" in it`);
  }

  /** A hello arrived that could not be read: still, this connection speaks the protocol. */
  markSpeaksProtocol(member: Member): void {
    this.#signIn.markSpeaksProtocol(member);
  }

  /** A device on a line/raw listener or an outbound link: a protocol member at once, its link translating. */
  admitDevice(member: Member, name: string, room: string): Handled {
    member.legacy = false;
    member.hears = member.hearsAsDevice;
    this.#checkDevice(member, name);
    // An outbound link holds its name while it exists (DeviceLinks): its device takes it under the link's claim.
    const link = member.device?.origin.link;
    const claim = link === undefined ? this.membership.claim(member, name) : this.node.names.claim(name, linkNameOwner(link));
    return andThen(claim, (free) => {
      if (member.state !== 'pending') return;
      member.name = free ? name : `${name}@${this.node.nodeId}`;
      // The node-qualified name is this node's own; a claim Redis could not take (reported by the
      // cluster's status) must not become an unhandled rejection that ends the process.
      if (!free) this.node.names.claim(member.name, member.id).catch(() => undefined);
      member.state = 'joined';
      this.joined(member);
      return this.membership.join(member, room);
    });
  }

  /** A connection that did not say hello in time (or sent something else first) joins as a plain device. */
  admitPlain(member: Member): Handled {
    if (member.state !== 'pending') return;
    clearHelloTimer(member);
    if (member.transport === 'ws' && this.identity.config.requireLogin) {
      // A browser is no device: with --require-login it signs in or hears nothing.
      this.router.takeUndecided(member);
      throw new ProtocolError('AUTH_REQUIRED', 'This gateway admits accounts only: say hello with a password or token.');
    }
    member.hears = member.hearsAsDevice;
    this.#checkDevice(member, member.name);
    return andThen(this.membership.claim(member, member.name), (free) => {
      if (member.state !== 'pending') return;
      // An address is unique on one node; across nodes two devices could share one.
      if (!free) member.name = `${member.name}@${this.node.nodeId}`;
      member.state = 'joined';
      this.joined(member);
      // Taken before it joins: its own arrival is not among the lines (PROTOCOL.md §2).
      const held = this.router.takeUndecided(member);
      // What lobby said during the hello window, in order, after its own arrival.
      return andThen(this.membership.join(member, DEFAULT_ROOM), () => {
        for (const line of held) this.router.deliver(member, line);
      });
    });
  }

  /** A device has no credentials: it is admitted unless devices must sign in too, or its name is banned. */
  #checkDevice(member: Member, name: string): void {
    // An outbound link's device is one machine whatever the connection (named by the link); any
    // other device is named by its address, which the next connection from that address and
    // port takes: its private history is this connection's alone.
    const key = name.toLowerCase();
    member.identity = member.device?.origin.link !== undefined ? `device:${key}` : `device:${key}#${randomBytes(9).toString('base64url')}`;
    if (this.identity.config.requireLoginDevices)
      throw new ProtocolError('AUTH_REQUIRED', 'This gateway admits accounts only, devices included: say hello with a password.');
    const ban = this.identity.banFor(member.link.ip, name);
    if (ban !== undefined) throw new ProtocolError('BANNED', `Banned: ${ban.reason}`);
  }
}

/** Who holds an outbound link's name in the cluster's name claims while the link exists, connected or not. */
export function linkNameOwner(linkId: string): string {
  return `link:${linkId}`;
}
