import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_ROOM, PROTOCOL_VERSION, ProtocolError, encodeMessage, type ClientMessageOf, type ServerMessageOf } from '@switchboard/protocol';
import type { ClusterNode, MemberRecord } from '../cluster/cluster.js';
import type { GatewayConfig } from '../config.js';
import type { HistoryService } from '../history/history-service.js';
import type { Identity, SignedIn } from '../identity/identity.js';
import type { RoomVisitor } from '../room-access.js';
import { andThen, withRef, type Handled } from './handled.js';
import type { Member } from './member.js';
import { nameTaken, type Membership } from './membership.js';
import type { Router } from './router.js';

export const SERVER_NAME = 'switchboard/0.1.0';

/** A name's holder that keeps it against a sign-in (SignInFlow.#otherHolder). */
const ANOTHER_IDENTITY = Symbol('another identity');

/** What a hello needs of the hub (Requests hands it on). */
export interface SignInFlowDeps {
  config: GatewayConfig;
  node: ClusterNode;
  router: Router;
  membership: Membership;
  history: HistoryService;
  identity: Identity;
  /** A member became joined: the hub tells its listeners. */
  joined: (member: Member) => void;
  /**
   * Closes another connection of the same identity (a token reclaiming its name), or with
   * `reclaimedName` a guest holding the name of the account signing in; it may live on another node.
   */
  replace: (memberId: string, reclaimedName?: string) => Promise<unknown>;
  /** Throws ROOM_FORBIDDEN when the room does not admit the visitor (Requests' room-access rule). */
  mayJoin: (visitor: RoomVisitor, room: string) => void;
}

/**
 * What a hello does (PROTOCOL.md §3): the sign-in (guest, password or token), a name reclaimed
 * from a session that gives way to it, the welcome and the first join; also a plain device
 * that upgrades by saying hello. Replies carry the hello's `ref`.
 */
export class SignInFlow {
  private readonly config: GatewayConfig;
  private readonly node: ClusterNode;
  private readonly router: Router;
  private readonly membership: Membership;
  private readonly history: HistoryService;
  private readonly identity: Identity;
  private readonly joined: SignInFlowDeps['joined'];
  private readonly replace: SignInFlowDeps['replace'];
  private readonly mayJoin: SignInFlowDeps['mayJoin'];

  constructor(deps: SignInFlowDeps) {
    this.config = deps.config;
    this.node = deps.node;
    this.router = deps.router;
    this.membership = deps.membership;
    this.history = deps.history;
    this.identity = deps.identity;
    this.joined = deps.joined;
    this.replace = deps.replace;
    this.mayJoin = deps.mayJoin;
  }

  /** Signs the member in and welcomes it into its room, or throws (the hub sends the error with the hello's ref). */
  hello(member: Member, hello: ClientMessageOf<'hello'>): Handled {
    // Whatever happens next, this connection speaks the protocol: it will not be made a plain
    // device by the hello timer, and a failed hello may be retried.
    clearHelloTimer(member);
    const upgrading = member.state === 'joined';
    // It speaks the protocol: it hears everyone, as any member that said hello.
    member.hears = undefined;
    member.heardDevice = false;
    if (!upgrading) {
      member.legacy = false;
      // What lobby said before the hello is in the history it gets on joining.
      this.router.takeUndecided(member);
    }
    if (hello.v !== PROTOCOL_VERSION) {
      throw new ProtocolError('UNSUPPORTED_VERSION', `This server speaks protocol version ${PROTOCOL_VERSION}, not ${hello.v}.`);
    }
    if (upgrading && !member.legacy) throw new ProtocolError('UNEXPECTED_TYPE', 'This connection already said hello.');
    const asked = hello.name === undefined ? member.name : this.membership.checkName(hello.name);
    const roomName = this.membership.checkRoomName(hello.room ?? DEFAULT_ROOM);
    return andThen(this.identity.signIn(hello, asked, member.link.ip), (who) => {
      this.mayJoin(who, roomName);
      return andThen(this.#reclaim(member, who), () => {
        // Closed while the password was hashed: nothing is claimed for a connection that is gone.
        if (member.isClosed) return;
        return andThen(this.#claimSignedIn(member, who, hello.token !== undefined || who.account !== null), (free) => {
          if (!free) throw nameTaken(who.name);
          if (member.isClosed) return;
          return this.#welcome(member, who, roomName, upgrading, hello);
        });
      });
    });
  }

  /**
   * A token's owner is still connected (a reloaded tab): that connection gives way. So does a
   * guest holding the name of the account signing in (taken before it was registered): a
   * registered name is its account's alone.
   */
  #reclaim(member: Member, who: SignedIn): Handled {
    const holder = this.#otherHolder(member, who);
    if (holder === undefined || holder === ANOTHER_IDENTITY) return;
    return this.#giveWay(holder, who).then(() => undefined);
  }

  /** The holder's connection is closed, wherever it is: SESSION_REPLACED for the same identity, NAME_RECLAIMED for a guest on an account's name. */
  #giveWay(holder: MemberRecord, who: SignedIn): Promise<unknown> {
    return holder.identity === who.identity ? this.replace(holder.id) : this.replace(holder.id, who.name);
  }

  /**
   * Claims the name signed in to. One that resumes an identity (a token, an account) may find it
   * held a moment longer by a connection that gives way to it on another gateway (above; or one of
   * its identity that just dropped): that gateway frees the name on the shared state after it has
   * answered on its own channel, and a connection welcomed there a moment ago is not in this
   * gateway's directory yet; on a Redis Cluster those travel through different shards. So it asks
   * again, for up to --cluster-timeout-ms, while nobody else holds the name, closing a holder that
   * must give way as it shows up; a name another identity holds is NAME_TAKEN at once.
   */
  #claimSignedIn(member: Member, who: SignedIn, resumes: boolean): boolean | Promise<boolean> {
    const claimed = this.membership.claim(member, who.name);
    if (!resumes || claimed === true || (claimed === false && this.#otherHolder(member, who) === ANOTHER_IDENTITY)) return claimed;
    const deadline = Date.now() + this.config.cluster.timeoutMs;
    const askedToGo = new Set<string>();
    const again = async (free: boolean, pauseMs: number): Promise<boolean> => {
      if (free || member.isClosed || Date.now() >= deadline) return free;
      const holder = this.#otherHolder(member, who);
      if (holder === ANOTHER_IDENTITY) return false;
      if (holder !== undefined && !askedToGo.has(holder.id)) {
        askedToGo.add(holder.id);
        await this.#giveWay(holder, who);
      } else await sleep(pauseMs);
      return again(await this.membership.claim(member, who.name), Math.min(pauseMs * 2, 200));
    };
    return Promise.resolve(claimed).then((free) => again(free, 10));
  }

  /**
   * Who else holds the name signed in to, as this gateway's directory says: nobody (undefined), a
   * member that must give way to this sign-in (#reclaim), or another identity that keeps it.
   */
  #otherHolder(member: Member, who: SignedIn): MemberRecord | typeof ANOTHER_IDENTITY | undefined {
    const holder = this.node.directory.byName(who.name);
    if (holder === undefined || holder.id === member.id) return undefined;
    if (holder.identity === who.identity || (who.account !== null && holder.identity.startsWith('guest:'))) return holder;
    return ANOTHER_IDENTITY;
  }

  #welcome(member: Member, who: SignedIn, roomName: string, upgrading: boolean, hello: ClientMessageOf<'hello'>): Handled {
    const name = who.name;
    member.identity = who.identity;
    member.account = who.account;
    member.role = who.role;
    {
      member.legacy = false;
      if (!upgrading) {
        this.membership.setName(member, name);
        member.state = 'joined';
      }
      const rooms = member.rooms.map((r) => r.name);
      if (!rooms.includes(roomName)) rooms.push(roomName);
      const welcome: ServerMessageOf<'welcome'> = {
        type: 'welcome',
        v: PROTOCOL_VERSION,
        id: member.id,
        name,
        room: roomName,
        rooms,
        server: SERVER_NAME,
        maxFrameLength: this.config.limits.maxFrameLength,
        maxFileBytes: this.config.limits.maxFileBytes,
        heartbeatMs: this.config.timing.heartbeatMs,
        token: who.token(),
      };
      if (who.account !== null) welcome.account = true;
      if (who.role !== null) welcome.role = who.role;
      return andThen(this.#tokenShared(), () =>
        andThen(upgrading ? undefined : this.#recordShared(member), () => {
          if (member.isClosed) return;
          this.router.deliver(member, encodeMessage(withRef(welcome, hello.ref)));
          // A plain device upgrading under a new name: its rooms hear the rename after its welcome.
          if (upgrading) this.membership.setName(member, name);
          else this.joined(member);
          // Its private history is here before anything it asks next (the input gate holds its frames till then).
          return andThen(this.history.privateReady(member.identity), () => this.membership.join(member, roomName, { since: hello.since, ref: hello.ref }));
        }),
      );
    }
  }

  /**
   * With several gateways, the member's record is in the shared state before its welcome goes (it
   * is in no room yet: its join follows): whoever it tells its name to can address it on any
   * gateway at once (a gateway that has not heard of it yet asks Redis: #private).
   */
  #recordShared(member: Member): Handled {
    return this.membership.publishRecord(member);
  }

  /**
   * With several gateways, the welcome's token is in the shared state before the welcome goes:
   * a client that presents it at once to another gateway (through the load balancer) is known there.
   */
  #tokenShared(): Handled {
    if (this.node.identity === undefined) return;
    // Bounded: a Redis that hangs delays the welcome by --cluster-timeout-ms at most (the token works here meanwhile).
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.config.cluster.timeoutMs)));
    return Promise.race([this.identity.store.shared(), waited]).finally(() => clearTimeout(timer));
  }

  /** A hello arrived that could not be read: still, this connection speaks the protocol. */
  markSpeaksProtocol(member: Member): void {
    clearHelloTimer(member);
    member.legacy = false;
    this.router.takeUndecided(member);
  }
}

/** Cleared and dropped: a cleared Timeout still costs memory while referenced. */
export function clearHelloTimer(member: Member): void {
  if (member.helloTimer === undefined) return;
  clearTimeout(member.helloTimer);
  member.helloTimer = undefined;
}
