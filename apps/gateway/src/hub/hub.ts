import { EventEmitter } from 'node:events';
import {
  FATAL_ERROR_CODES,
  FrameType,
  ProtocolError,
  decodeClientMessage,
  encodeMessage,
  messageTypeCode,
  type ClientMessage,
  type ErrorCode,
  type ServerMessageOf,
} from '@switchboard/protocol';
import type { ClusterNode } from '../cluster/cluster.js';
import type { GatewayConfig } from '../config.js';
import { Delivery } from '../delivery/delivery.js';
import { HistoryService } from '../history/history-service.js';
import type { HistoryStore } from '../history/history-store.js';
import { ROOM_HISTORY_DEFAULT, type HistoryMode } from '../history/history-setting.js';
import type { Identity } from '../identity/identity.js';
import type { HubLogger } from '../logger.js';
import { DESCRIPTOR_RESERVE, openFileLimit } from '../open-file-limit.js';
import type { Link } from '../transports/link.js';
import type { ConnectOptions } from './device.js';
import type { FileStore } from '../files/file-store.js';
import { FileRelay } from './file-relay.js';
import { InputGate, isPipelined } from './input-gate.js';
import { LimitsAndLiveness } from './limits-and-liveness.js';
import { Member, type LeaveReason, type Room } from './member.js';
import { Membership } from './membership.js';
import { OperatorActions } from './operator-actions.js';
import { Requests } from './requests.js';
import { OPEN_ROOM } from '../room-access.js';
import { Router } from './router.js';
import { SERVER_NAME } from './sign-in-flow.js';
import type { HubTotals } from './totals.js';

export { SERVER_NAME };

export interface HubOptions {
  config: GatewayConfig;
  history: HistoryStore;
  /** This hub's place in a cluster (app.ts wires a cluster of one, in process, by default). */
  cluster: ClusterNode;
  log: HubLogger;
  now?: () => number;
  /** Defaults to the process's `ulimit -n`. */
  openFileLimit?: number;
  /** Accounts, tokens and bans (app.ts builds them from the config). */
  identity: Identity;
  /** Where completed files are kept for later (--file-store); none: files are relayed only. */
  fileStore?: FileStore | undefined;
}

export interface HubEvents {
  joined: [member: Member];
  left: [member: Member, reason: LeaveReason];
  /** A connection was refused for lack of file descriptors (the listener reports it to the operator). */
  'descriptors-exhausted': [limit: number];
  /** An error frame went to a member (metrics count them by code). */
  'error-sent': [code: ErrorCode];
}

/**
 * The chat hub: admits connections, reads their frames, and hands each request to its
 * handler; operators act through it. It knows nothing of TCP or WebSocket (transports hand it
 * Links), and nothing of other nodes (the cluster seam does). Its parts, one rule each:
 * Delivery (queues and flow control), Router (where frames go), Membership (rooms, names,
 * presence), Requests (what each frame does), FileRelay (files), HistoryService (who reads what),
 * InputGate (a member's frames in order while earlier ones wait), LimitsAndLiveness (who is
 * refused, rate limits, heartbeats).
 */
export class Hub extends EventEmitter<HubEvents> {
  readonly config: GatewayConfig;
  readonly history: HistoryService;
  /** Files kept for later (GET /api/files), or null with --no-file-store or no data directory. */
  readonly fileStore: FileStore | null;
  readonly log: HubLogger;
  readonly now: () => number;
  readonly node: ClusterNode;
  readonly delivery: Delivery;
  readonly identity: Identity;
  readonly #router: Router;
  readonly #membership: Membership;
  readonly #requests: Requests;
  readonly #files: FileRelay;
  readonly #operators: OperatorActions;
  readonly #input: InputGate;
  readonly #limits: LimitsAndLiveness;
  /** Members allowed by the open-file limit, keeping a reserve for everything else. */
  readonly memberDescriptorBudget: number;
  #shuttingDown = false;
  readonly totals: HubTotals = {
    framesIn: { tcp: 0, ws: 0 },
    bytesIn: { tcp: 0, ws: 0 },
    framesOut: { tcp: 0, ws: 0 },
    bytesOut: { tcp: 0, ws: 0 },
    errorsSent: 0,
  };

  constructor(options: HubOptions) {
    super();
    const config = (this.config = options.config);
    this.log = options.log;
    const now = (this.now = options.now ?? Date.now);
    this.memberDescriptorBudget = (options.openFileLimit ?? openFileLimit()) - DESCRIPTOR_RESERVE;
    this.node = options.cluster;
    this.history = new HistoryService(
      options.history,
      this.node.log,
      config.history.maxPage,
      (rows) => this.delivery.scheduleCommit(rows),
      {
        privateHistory: { mode: config.history.privateHistory as HistoryMode },
        memory: { size: config.history.memorySize, ttlSeconds: config.history.memoryTtlSeconds },
      },
      now,
    );
    this.delivery = new Delivery({
      maxQueueBytes: config.limits.maxQueueBytes,
      flushWindowMs: config.timing.flushWindowMs,
      flushWindowMaxMs: config.timing.flushWindowMaxMs,
      commitWindowMs: config.timing.commitWindowMs,
      // History is committed before any socket is written: no acknowledgement leaves for a message that is not stored.
      beforeWrite: () => this.history.flush(),
      commitFailed: (error) => this.#commitFailed(error),
      overflowed: (target, limit) => this.#limits.overflowed(target, limit),
      now,
      totals: this.totals,
    });
    this.#input = new InputGate(
      this.delivery,
      (member, type, input) => this.#handle(member, type, input),
      (member, error, ref) => this.protocolError(member, error, ref),
    );
    this.#router = new Router(this.delivery, this.node, config.limits.maxQueueBytes, now);
    this.#router.serve({
      admin: (action) => this.#operators.adminHere(action),
      announce: ({ text }) => this.#operators.announceHere(text),
      nodeLost: (node, records) => {
        this.log.warn({ node, members: records.length }, 'a gateway node stopped answering: its members left with reason node-lost');
        this.#membership.nodeLost(records);
      },
    });
    this.#membership = new Membership(this.#router, this.node, this.history, config, now, (member, code, message, ref) =>
      this.sendError(member, code, message, ref),
    );
    this.identity = options.identity;
    this.#operators = new OperatorActions({
      node: this.node,
      router: this.#router,
      membership: this.#membership,
      identity: this.identity,
      now,
      disconnect: (member, reason, error, notice) => this.disconnect(member, reason, error, notice),
      noticeFrame: (member, text, extra) => this.#noticeFrame(member, text, extra),
      sendError: (member, code, message) => this.sendError(member, code, message),
    });
    this.fileStore = options.fileStore ?? null;
    this.#files = new FileRelay(this.#router, this.delivery, this.node.directory, this.history, config.limits, now, this.fileStore, options.log);
    this.history.roomAccess = (room) => this.identity.store.roomAccess(room) ?? OPEN_ROOM;
    this.history.roomSetting = (room) => this.identity.store.roomHistory(room) ?? ROOM_HISTORY_DEFAULT;
    this.identity.store.onRemoteRoomAccess = (row) => this.roomAccessChanged(row.room);
    this.identity.store.onRemoteBan = (ban) => this.#operators.banAddedElsewhere(ban);
    this.#requests = new Requests({
      config,
      node: this.node,
      router: this.#router,
      membership: this.#membership,
      history: this.history,
      files: this.#files,
      now,
      joined: (m) => this.emit('joined', m),
      identity: this.identity,
      replace: (id, reclaimedName) => this.#operators.giveWay(id, reclaimedName),
    });
    this.#limits = new LimitsAndLiveness({
      config,
      router: this.#router,
      delivery: this.delivery,
      files: this.#files,
      identity: this.identity,
      log: this.log,
      now,
      memberDescriptorBudget: this.memberDescriptorBudget,
      shuttingDown: () => this.#shuttingDown,
      descriptorsExhausted: (limit) => this.emit('descriptors-exhausted', limit),
      disconnect: (member, reason, error) => this.disconnect(member, reason, error),
      sendError: (member, code, message) => this.sendError(member, code, message),
    });
  }

  get members(): ReadonlyMap<string, Member> {
    return this.#router.members;
  }

  get rooms(): ReadonlyMap<string, Room> {
    return this.#router.rooms;
  }

  // ---- Connections -------------------------------------------------------------------

  /**
   * Admits a new connection, or refuses it (error frame, then close) and returns undefined.
   * A device link (`as.device`, from devices/) joins `device.room` at once under `device.name` (default: its address).
   */
  connect(link: Link, as: ConnectOptions = {}): Member | undefined {
    if (this.#limits.refused(link)) return undefined;
    const now = this.now();
    const member = new Member(this.node.ids.memberId(), link, this.#limits.rateBucket(now), now, as);
    this.#router.members.set(member.id, member);
    this.#limits.opened(link.ip);
    const device = as.device;
    if (device !== undefined) {
      this.#input.run(member, () => this.#requests.admitDevice(member, device.name ?? link.address, device.room));
      return member;
    }
    // Until it says hello or is made a plain device, it keeps what lobby says.
    this.#router.watchUndecided(member);
    member.helloTimer = setTimeout(() => {
      // A refusal (devices must sign in, a banned name, a browser under --require-login) is an
      // error frame like any other: thrown from a timer it would take the process down.
      try {
        this.#input.run(member, () => this.#requests.admitPlain(member));
      } catch (error) {
        this.protocolError(member, error);
      }
    }, this.config.timing.helloTimeoutMs);
    member.helloTimer.unref();
    return member;
  }

  /** A whole frame arrived from a member. Never throws. */
  receive(member: Member, type: number, payload: Uint8Array): void {
    this.#receive(member, type, payload, payload.length + 5);
  }

  /**
   * A message a device link made itself (its framing cut the device's bytes): handled as if it
   * had come framed, without being encoded only to be decoded again. `bytes`: what it took on
   * the device's socket. Never throws.
   */
  receiveMessage(member: Member, message: ClientMessage, bytes: number): void {
    this.#receive(member, messageTypeCode[message.type], message, bytes);
  }

  #receive(member: Member, type: number, input: Uint8Array | ClientMessage, bytes: number): void {
    if (member.isClosed) return;
    const now = this.now();
    member.lastHeardAt = now;
    member.pingSentAt = 0;
    member.bytesIn += bytes;
    member.messagesIn++;
    this.totals.framesIn[member.transport]++;
    this.totals.bytesIn[member.transport] += bytes;
    if (!this.#limits.withinRate(member, type, now)) return;
    this.#input.receive(member, type, input);
    this.delivery.afterInput(member);
  }

  #handle(member: Member, type: number, input: Uint8Array | ClientMessage): void {
    let ref: string | undefined;
    try {
      const message = input instanceof Uint8Array ? decodeClientMessage(type, input) : input;
      ref = 'ref' in message ? message.ref : undefined;
      this.#input.run(member, () => this.#requests.handle(member, message), ref, isPipelined(type));
    } catch (error) {
      // A hello that does not parse still says this connection speaks the protocol.
      if (type === FrameType.Hello && member.state === 'pending') this.#requests.markSpeaksProtocol(member);
      this.protocolError(member, error, ref);
    }
  }

  /** A decode or handling error for this member: an error frame (with the request's ref), and a disconnect if fatal. */
  protocolError(member: Member, error: unknown, ref?: string): void {
    if (!(error instanceof ProtocolError)) {
      this.log.error({ err: error, member: member.id }, 'failed to handle a frame');
      this.sendError(member, 'INTERNAL', 'The server failed to handle that frame; it has been logged.', ref);
      return;
    }
    if (FATAL_ERROR_CODES.has(error.code)) this.disconnect(member, 'error', { code: error.code, message: error.message, ref: error.ref ?? ref });
    else this.sendError(member, error.code, error.message, error.ref ?? ref);
  }

  sendError(member: Member, code: ErrorCode, message: string, ref?: string): void {
    this.totals.errorsSent++;
    this.emit('error-sent', code);
    const error: ServerMessageOf<'error'> = { type: 'error', code, message };
    if (ref !== undefined) error.ref = ref;
    this.#router.deliver(member, encodeMessage(error));
  }

  /** The adapter reports after each read whether a frame is left half-received. */
  noteInput(member: Member, midFrame: boolean): void {
    if (!midFrame) member.partialSince = 0;
    else if (member.partialSince === 0) member.partialSince = this.now();
  }

  /** The link's socket drained: whoever waited on this member goes on. */
  drained(member: Member): void {
    this.delivery.drained(member);
  }

  /**
   * Removes a member: out of its rooms (with presence), its name freed, its transfers aborted.
   * With `error` or `notice`, the member first gets that frame. Safe to call more than once.
   */
  disconnect(
    member: Member,
    reason: LeaveReason,
    error?: { code: ErrorCode; message: string; ref?: string | undefined },
    notice?: { text: string; code: ErrorCode },
  ): void {
    if (member.isClosed) return;
    const wasJoined = member.state === 'joined';
    member.state = 'closed';
    if (member.helloTimer !== undefined) clearTimeout(member.helloTimer);
    member.helloTimer = undefined;
    this.#router.takeUndecided(member);
    const link = member.link;
    // Whatever was queued goes out first, then the goodbye, then the close.
    const goodbye = this.delivery.close(member);
    const said = notice === undefined ? undefined : this.#noticeFrame(member, notice.text, { code: notice.code });
    if (said !== undefined) goodbye.push(said);
    if (error !== undefined) {
      this.totals.errorsSent++;
      this.emit('error-sent', error.code);
      const frame: ServerMessageOf<'error'> = { type: 'error', code: error.code, message: error.message, fatal: true };
      if (error.ref !== undefined) frame.ref = error.ref;
      goodbye.push(encodeMessage(frame));
    }
    if (reason === 'quit') link.destroy();
    else {
      if (goodbye.length > 0) link.write(goodbye);
      link.end();
    }
    this.#membership.remove(member, reason, wasJoined);
    this.#router.members.delete(member.id);
    this.#limits.closed(link.ip);
    this.#files.memberLeft(member);
    this.log.debug({ member: member.id, name: member.name, reason, code: error?.code }, 'member left');
    this.emit('left', member, reason);
  }

  // ---- Operators (the REST API calls these) ---------------------------------------------

  listRooms(): { name: string; members: number }[] {
    return this.#requests.listRooms();
  }

  /**
   * A room's access changed (here or on another gateway): this gateway's members it no longer
   * admits are taken out of it (ROOM_FORBIDDEN, then presence leave with reason `kicked`).
   * Devices stay: their listener or link put them there.
   */
  roomAccessChanged(roomName: string): void {
    this.#operators.roomAccessChanged(roomName);
  }

  /** Kicks a member on any node; false when nobody has that id. */
  kick(id: string, reason?: string): Promise<boolean> {
    return this.#operators.kick(id, reason);
  }

  /** Ends every session of an identity on every node, telling each why (SESSION_REVOKED); how many it closed. */
  revokeSessions(identity: string, text: string): Promise<number> {
    return this.#operators.revokeSessions(identity, text);
  }

  /** Disconnects a member that a new ban matches (BANNED, with the reason). */
  ban(id: string, reason: string): Promise<boolean> {
    return this.#operators.ban(id, reason);
  }

  /** A private notice from the operator to one member on any node. */
  tell(id: string, text: string): Promise<boolean> {
    return this.#operators.tell(id, text);
  }

  /** A notice from the operator to one room, or to every member, on every node (operator-actions.ts). */
  broadcast(text: string, roomName?: string): Promise<{ delivered: number; unanswered: string[] }> {
    return this.#operators.broadcast(text, roomName);
  }

  /** Whether a graceful shutdown has begun (readiness fails from then on). */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** The first step of a graceful shutdown: new connections are refused and /readyz says so; members stay until shutdown(). */
  beginShutdown(): void {
    this.#shuttingDown = true;
  }

  /** Tells every member the gateway is stopping and closes them after their queues drain. */
  shutdown(): void {
    this.#shuttingDown = true;
    for (const member of [...this.#router.members.values()]) {
      this.disconnect(member, 'shutdown', undefined, { text: 'The gateway is shutting down; please reconnect shortly.', code: 'SERVER_SHUTTING_DOWN' });
    }
  }

  /** Tells these members why and disconnects them (a listener's "stop and disconnect"). */
  disconnectAll(members: Iterable<Member>, text: string): void {
    for (const member of members) this.disconnect(member, 'shutdown', undefined, { text, code: 'SERVER_SHUTTING_DOWN' });
  }

  async close(): Promise<void> {
    this.#limits.stop();
    this.shutdown();
    this.delivery.flushNow();
    await this.node.close();
  }

  /** History commits that failed since the last line about them, and when that line was written. */
  #commitFailures = { count: 0, loggedAt: -Infinity };

  /** A failed commit is retried (delivery.ts); the log gets a line at most every 5 s, not one per try. */
  #commitFailed(error: Error): void {
    const failures = this.#commitFailures;
    failures.count++;
    const now = this.now();
    if (now - failures.loggedAt < 5_000) return;
    this.log.error({ err: error, failures: failures.count }, 'history commit failed: nothing is sent until it succeeds; trying again');
    failures.count = 0;
    failures.loggedAt = now;
  }

  /** A notice for a member; none for a plain device, which gets room text only (PROTOCOL.md §2). */
  #noticeFrame(member: Member, text: string, extra: { code?: ErrorCode; private?: boolean } = {}): Uint8Array | undefined {
    if (member.legacy) return undefined;
    return encodeMessage({ type: 'notice', text, ts: this.now(), ...extra });
  }
}
