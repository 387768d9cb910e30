import { EventEmitter } from 'node:events';
import {
  DEFAULT_ROOM,
  FATAL_ERROR_CODES,
  FrameType,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeClientMessage,
  encodeMessage,
  isValidName,
  type ClientMessage,
  type ClientMessageOf,
  type ErrorCode,
  type ServerMessage,
  type ServerMessageOf,
} from '@switchboard/protocol';
import type { GatewayConfig } from '../config.js';
import type { HistoryPage, HistoryStore, NewHistoryEntry } from '../history/history-store.js';
import { DESCRIPTOR_RESERVE, openFileLimit } from '../open-file-limit.js';
import { FileRelay } from './file-relay.js';
import { FlushScheduler } from './flush-scheduler.js';
import type { Link } from './link.js';
import { Member, type LeaveReason, type Room } from './member.js';
import { TokenBucket } from './rate-limiter.js';
import { InProcessRoomBus, type RoomBus, type RoomEvent } from './room-bus.js';

export const SERVER_NAME = 'switchboard/0.1.0';

/** A minimal logger shape (pino's), so the hub does not depend on Fastify. */
export interface HubLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface HubOptions {
  config: GatewayConfig;
  history: HistoryStore;
  bus?: RoomBus;
  log: HubLogger;
  now?: () => number;
  /** Defaults to the process's `ulimit -n`. */
  openFileLimit?: number;
}

export interface HubEvents {
  joined: [member: Member];
  left: [member: Member, reason: LeaveReason];
  /** A connection was refused for lack of file descriptors (the listener reports it to the operator). */
  'descriptors-exhausted': [limit: number];
}

/** Input is paused above this many queued bytes for the member itself or a file's receivers. */
const HIGH_WATER_BYTES = 256 * 1024;
/** How often timers (heartbeats, slow frames, stalled files) are checked, at most. */
const SCAN_INTERVAL_MS = 1000;
/**
 * When this much is queued in outboxes, waiting for the next flush, the hub is behind its own
 * input: senders are paused until the flush, instead of anyone being cut off.
 */
const INPUT_THROTTLE_BYTES = 16 * 1024 * 1024;
/** Consecutive rate-limited frames after which a member is disconnected. */
const RATE_STRIKES_TO_DISCONNECT = 200;

/** What a history reply was asked for; the reply repeats it. */
type HistoryScope = Pick<ClientMessageOf<'history'>, 'room' | 'with' | 'private'>;

const utf8 = new TextEncoder();

/**
 * The chat hub: members, names, rooms, presence, fan-out, history. It takes frames from links
 * and writes frames to links, and knows nothing of TCP or WebSocket.
 */
export class Hub extends EventEmitter<HubEvents> {
  readonly config: GatewayConfig;
  readonly history: HistoryStore;
  readonly log: HubLogger;
  readonly now: () => number;
  readonly #bus: RoomBus;
  readonly #members = new Map<string, Member>();
  readonly #byName = new Map<string, Member>();
  readonly #rooms = new Map<string, Room>();
  readonly #perIp = new Map<string, number>();
  readonly #files: FileRelay;
  readonly #flusher: FlushScheduler;
  readonly #scanTimer: NodeJS.Timeout;
  /** Members allowed by the open-file limit, keeping a reserve for everything else. */
  readonly memberDescriptorBudget: number;
  #nextMemberId = 1;
  #shuttingDown = false;
  /** Bytes in all outboxes (delivered, not yet flushed). */
  #pendingTotal = 0;
  readonly #throttled: Member[] = [];

  constructor(options: HubOptions) {
    super();
    this.config = options.config;
    this.history = options.history;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.memberDescriptorBudget = (options.openFileLimit ?? openFileLimit()) - DESCRIPTOR_RESERVE;
    this.#bus = options.bus ?? new InProcessRoomBus();
    this.#bus.subscribe((event) => this.#fanOut(event));
    // History is committed before any socket is written, so an acknowledgement never
    // leaves for a message that is not stored.
    this.#flusher = new FlushScheduler({
      beforeWrite: () => this.history.flush(),
      afterWrite: (member) => this.#afterWrite(member),
      afterFlush: () => this.#afterFlush(),
      windowMs: this.config.timing.flushWindowMs,
    });
    this.#files = new FileRelay(this);
    this.#ensureRoom(DEFAULT_ROOM);
    // Check often enough that the shortest configured timeout is kept to within a quarter of itself.
    const { heartbeatMs, frameTimeoutMs } = this.config.timing;
    const shortest = Math.min(...[heartbeatMs, frameTimeoutMs].filter((ms) => ms > 0), SCAN_INTERVAL_MS * 4);
    this.#scanTimer = setInterval(() => this.#scan(), Math.max(25, Math.floor(shortest / 4)));
    this.#scanTimer.unref();
  }

  // -------------------------------------------------------------------------------------
  // Connections
  // -------------------------------------------------------------------------------------

  /** Admits a new connection, or refuses it (error frame, then close) and returns undefined. */
  connect(link: Link): Member | undefined {
    const limits = this.config.limits;
    let refusal: ErrorCode | undefined;
    if (this.#shuttingDown) refusal = 'SERVER_SHUTTING_DOWN';
    else if (this.#members.size >= limits.maxConnections) refusal = 'TOO_MANY_CONNECTIONS';
    else if (this.#members.size >= this.memberDescriptorBudget) {
      refusal = 'TOO_MANY_CONNECTIONS';
      this.emit('descriptors-exhausted', this.memberDescriptorBudget + DESCRIPTOR_RESERVE);
    }
    else if ((this.#perIp.get(link.ip) ?? 0) >= limits.maxConnectionsPerIp) refusal = 'TOO_MANY_CONNECTIONS_FROM_ADDRESS';
    if (refusal !== undefined) {
      const text = this.#members.size >= this.memberDescriptorBudget && refusal === 'TOO_MANY_CONNECTIONS'
        ? `The gateway is at its open-file limit (${this.memberDescriptorBudget + DESCRIPTOR_RESERVE}); try again later.`
        : refusalText(refusal, limits);
      link.write([encodeMessage({ type: 'error', code: refusal, message: text, fatal: true })]);
      link.end();
      this.log.warn({ address: link.address, code: refusal }, 'connection refused');
      return undefined;
    }
    const now = this.now();
    const member = new Member(`m${this.#nextMemberId++}`, link, new TokenBucket(limits.ratePerSecond, limits.rateBurst, now), now);
    this.#members.set(member.id, member);
    this.#perIp.set(link.ip, (this.#perIp.get(link.ip) ?? 0) + 1);
    // Wait briefly for a hello; a device that never sends one still becomes a member.
    member.helloTimer = setTimeout(() => this.#admitLegacy(member), this.config.timing.helloTimeoutMs);
    member.helloTimer.unref();
    return member;
  }

  /** A whole frame arrived from a member. Never throws. */
  receive(member: Member, type: number, payload: Uint8Array): void {
    if (member.state === 'closed') return;
    const now = this.now();
    member.lastHeardAt = now;
    member.pingSentAt = 0;
    member.bytesIn += payload.length + 5;
    member.messagesIn++;
    try {
      if (type !== FrameType.FileData && !member.bucket.take(now)) {
        this.#rateLimited(member, now);
        return;
      }
      member.rateStrikes = 0;
      this.#handle(member, decodeClientMessage(type, payload));
    } catch (error) {
      this.protocolError(member, error);
    }
    this.#checkOwnBacklog(member);
    // (Handling may have closed the member.)
    if (this.#pendingTotal > INPUT_THROTTLE_BYTES && !member.throttled && !member.isClosed) {
      member.throttled = true;
      member.link.pauseInput();
      this.#throttled.push(member);
    }
  }

  /** A decode or handling error for this member: an error frame, and a disconnect if fatal. */
  protocolError(member: Member, error: unknown): void {
    if (error instanceof ProtocolError) {
      if (FATAL_ERROR_CODES.has(error.code)) this.disconnect(member, 'error', { code: error.code, message: error.message });
      else this.sendError(member, error.code, error.message);
      return;
    }
    this.log.error({ err: error, member: member.id }, 'failed to handle a frame');
    this.sendError(member, 'INTERNAL', 'The server failed to handle that frame; it has been logged.');
  }

  /** The adapter reports after each read whether a frame is left half-received. */
  noteInput(member: Member, midFrame: boolean): void {
    if (!midFrame) member.partialSince = 0;
    else if (member.partialSince === 0) member.partialSince = this.now();
  }

  /** The link's socket drained: resume whoever waited on this member. */
  drained(member: Member): void {
    member.socketBacklog = member.link.bufferedBytes;
    if (member.queuedBytes > HIGH_WATER_BYTES / 2) return;
    for (const waiter of member.waiters) this.#unblock(waiter, member);
    member.waiters.clear();
  }

  /**
   * Removes a member: out of its rooms (with presence), its name freed, its transfers aborted.
   * With `error`, the member first gets that error frame. Safe to call more than once.
   */
  disconnect(
    member: Member,
    reason: LeaveReason,
    error?: { code: ErrorCode; message: string },
    notice?: { text: string; code: ErrorCode },
  ): void {
    if (member.state === 'closed') return;
    const wasJoined = member.state === 'joined';
    member.state = 'closed';
    this.#clearHelloTimer(member);
    const link = member.link;
    // Whatever was queued goes out first, then the goodbye, then the close.
    const goodbye: Uint8Array[] = member.pending;
    this.#pendingTotal -= member.pendingBytes;
    member.pending = [];
    member.pendingBytes = 0;
    if (notice !== undefined) goodbye.push(this.#noticeFrame(member, notice.text, notice.code));
    if (error !== undefined) goodbye.push(encodeMessage({ type: 'error', code: error.code, message: error.message, fatal: true }));
    if (reason === 'quit') link.destroy();
    else {
      if (goodbye.length > 0) link.write(goodbye);
      link.end();
    }
    for (const room of member.rooms) {
      room.members.delete(member);
      if (wasJoined) this.#announce(room, 'leave', member, { reason });
      this.#dropIfEmpty(room);
    }
    member.rooms.length = 0;
    if (this.#byName.get(member.name.toLowerCase()) === member) this.#byName.delete(member.name.toLowerCase());
    this.#members.delete(member.id);
    const count = (this.#perIp.get(link.ip) ?? 1) - 1;
    if (count > 0) this.#perIp.set(link.ip, count);
    else this.#perIp.delete(link.ip);
    this.#files.memberLeft(member);
    for (const waiter of member.waiters) this.#unblock(waiter, member);
    member.waiters.clear();
    for (const blocker of member.blockedBy) blocker.waiters.delete(member);
    member.blockedBy.clear();
    this.log.debug({ member: member.id, name: member.name, reason, code: error?.code }, 'member left');
    this.emit('left', member, reason);
  }

  // -------------------------------------------------------------------------------------
  // Admin operations (the REST API calls these)
  // -------------------------------------------------------------------------------------

  get members(): ReadonlyMap<string, Member> {
    return this.#members;
  }

  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms;
  }

  kick(id: string, reason?: string): boolean {
    const member = this.#members.get(id);
    if (member === undefined) return false;
    const text = reason ? `You were kicked by an administrator: ${reason}` : 'You were kicked by an administrator.';
    this.disconnect(member, 'kicked', undefined, { text, code: 'KICKED' });
    return true;
  }

  /** A private notice from the operator to one member. */
  tell(id: string, text: string): boolean {
    const member = this.#members.get(id);
    if (member === undefined || member.state === 'closed') return false;
    this.deliver(member, this.#noticeFrame(member, text, undefined, { private: true }));
    return true;
  }

  /** A notice from the operator to one room, or to every room. Returns how many members got it. */
  broadcast(text: string, roomName?: string): number {
    const ts = this.now();
    const targets = roomName === undefined ? [...this.#rooms.values()] : [this.#rooms.get(roomName)].filter((r) => r !== undefined);
    if (roomName !== undefined && targets.length === 0) throw new ProtocolError('ROOM_NOT_FOUND', `No room is named "${roomName}".`);
    const reached = new Set<Member>();
    for (const room of targets) {
      const notice: ServerMessage = { type: 'notice', text, ts };
      if (roomName !== undefined) notice.room = room.name;
      const frame = encodeMessage(notice);
      const legacyFrame = encodeMessage({ type: 'text', text: `* server: ${text}` });
      for (const member of room.members) {
        if (reached.has(member)) continue; // one copy per member even if it is in several rooms
        reached.add(member);
        this.deliver(member, member.legacy ? legacyFrame : frame);
      }
    }
    return reached.size;
  }

  /** Tells every member the gateway is stopping and closes them after their queues drain. */
  shutdown(reason: 'shutdown' = 'shutdown'): void {
    this.#shuttingDown = true;
    for (const member of [...this.#members.values()]) {
      this.disconnect(member, reason, undefined, { text: 'The gateway is shutting down; please reconnect shortly.', code: 'SERVER_SHUTTING_DOWN' });
    }
  }

  /** Disconnects the members of one transport (the TCP listener's "stop and disconnect"). */
  disconnectTransport(transport: Member['transport'], text: string): number {
    let count = 0;
    for (const member of [...this.#members.values()]) {
      if (member.transport !== transport) continue;
      this.disconnect(member, 'shutdown', undefined, { text, code: 'SERVER_SHUTTING_DOWN' });
      count++;
    }
    return count;
  }

  async close(): Promise<void> {
    clearInterval(this.#scanTimer);
    this.shutdown();
    this.#flusher.flushNow();
    await this.#bus.close();
  }

  // -------------------------------------------------------------------------------------
  // Delivery
  // -------------------------------------------------------------------------------------

  /**
   * Queues one encoded frame for a member. The same frame object may be queued for many
   * members: it is encoded once and never copied. A member whose queue would pass the
   * limit is disconnected (it stopped reading) instead of slowing everyone else.
   */
  deliver(member: Member, frame: Uint8Array): void {
    if (member.state === 'closed' || member.overflowed) return;
    // Cut off for what its peer has not taken (the socket's backlog), not for the hub's own
    // lag: outboxes waiting for a flush are bounded by pausing input instead.
    if (member.socketBacklog + member.pendingBytes + frame.length > this.config.limits.maxQueueBytes && member.socketBacklog > 0) {
      this.#overflow(member);
      return;
    }
    member.pending.push(frame);
    member.pendingBytes += frame.length;
    this.#pendingTotal += frame.length;
    member.bytesOut += frame.length;
    member.messagesOut++;
    if (!member.dirty) {
      member.dirty = true;
      this.#flusher.add(member);
    }
  }

  /** Appends to history and makes sure the write is committed this turn, before any socket write. */
  store<E extends NewHistoryEntry>(entry: E): E & { id: number; ts: number } {
    const stored = this.history.append(entry, this.now());
    this.#flusher.schedule();
    return stored;
  }

  sendError(member: Member, code: ErrorCode, message: string): void {
    this.deliver(member, encodeMessage({ type: 'error', code, message }));
  }

  /** Pauses `sender`'s input until `receiver` drains (file flow control, own backlog). */
  block(sender: Member, receiver: Member): void {
    if (sender.state === 'closed' || receiver.state === 'closed' || sender.blockedBy.has(receiver)) return;
    if (sender.blockedBy.size === 0) {
      sender.blockedSince = this.now();
      sender.link.pauseInput();
    }
    sender.blockedBy.add(receiver);
    receiver.waiters.add(sender);
  }

  isBackedUp(member: Member): boolean {
    return member.queuedBytes > HIGH_WATER_BYTES;
  }

  findByName(name: string): Member | undefined {
    const member = this.#byName.get(name.toLowerCase());
    return member?.state === 'joined' ? member : undefined;
  }

  publish(event: RoomEvent): void {
    this.#bus.publish(event);
  }

  /** Cleared and dropped: a cleared Timeout still costs memory while referenced. */
  #clearHelloTimer(member: Member): void {
    if (member.helloTimer === undefined) return;
    clearTimeout(member.helloTimer);
    member.helloTimer = undefined;
  }

  #unblock(sender: Member, receiver: Member): void {
    sender.blockedBy.delete(receiver);
    if (sender.blockedBy.size === 0 && !sender.throttled && sender.state !== 'closed') sender.link.resumeInput();
  }

  /** After a member's outbox was written: what did its socket not take? */
  #afterWrite(member: Member): void {
    const backlog = member.link.bufferedBytes;
    member.socketBacklog = backlog;
    if (backlog > this.config.limits.maxQueueBytes) this.#overflow(member);
    else if (member.waiters.size > 0) this.drained(member);
  }

  /** Every outbox is empty again: let throttled senders go on. */
  #afterFlush(): void {
    this.#pendingTotal = 0;
    if (this.#throttled.length === 0) return;
    for (const member of this.#throttled.splice(0)) {
      member.throttled = false;
      if (member.state !== 'closed' && member.blockedBy.size === 0) member.link.resumeInput();
    }
  }

  #checkOwnBacklog(member: Member): void {
    // A member that sends requests but does not read the replies stops being read.
    if (member.state !== 'closed' && this.isBackedUp(member)) this.block(member, member);
  }

  #overflow(member: Member): void {
    const limit = this.config.limits.maxQueueBytes;
    this.log.warn({ member: member.id, name: member.name, limit }, 'send queue overflow: disconnecting a member that stopped reading');
    // Deferred: we may be inside a fan-out loop over the member's room.
    // What is queued will never be read in time: drop it, stop queueing, and disconnect
    // after the current fan-out loop (we may be iterating the member's room right now).
    member.overflowed = true;
    this.#pendingTotal -= member.pendingBytes;
    member.pending = [];
    member.pendingBytes = 0;
    queueMicrotask(() =>
      this.disconnect(member, 'overflow', {
        code: 'SEND_QUEUE_OVERFLOW',
        message: `Your send queue passed ${limit} bytes because you stopped reading; disconnected.`,
      }),
    );
  }

  #fanOut(event: RoomEvent): void {
    const room = this.#rooms.get(event.room);
    if (room === undefined) return;
    let legacyFrame: Uint8Array | undefined;
    for (const member of room.members) {
      if (member.id === event.except) continue;
      if (!member.legacy) this.deliver(member, event.frame);
      else if (event.legacyText !== undefined) {
        const line = (legacyFrame ??= encodeMessage({ type: 'text', text: event.legacyText }));
        this.deliver(member, line);
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // Frames from members
  // -------------------------------------------------------------------------------------

  #handle(member: Member, message: ClientMessage): void {
    if (member.state === 'pending') {
      if (message.type === 'hello') {
        this.#hello(member, message);
        return;
      }
      if (!member.legacy) throw new ProtocolError('UNEXPECTED_TYPE', 'Your hello failed; send hello again before anything else.');
      this.#admitLegacy(member);
    }
    switch (message.type) {
      case 'hello':
        return this.#hello(member, message);
      case 'text':
        return this.#say(member, member.currentRoom, message.text);
      case 'message':
        return this.#say(member, message.room === undefined ? member.currentRoom : this.#roomOf(member, message.room), message.text);
      case 'private':
        return this.#private(member, message);
      case 'join':
        return this.#join(member, this.#checkRoomName(message.room));
      case 'leave':
        return this.#leave(member, message.room);
      case 'rooms':
        return this.deliver(member, encodeMessage({ type: 'rooms', rooms: this.listRooms() }));
      case 'roster':
        return this.#sendRoster(member, message.room === undefined ? this.#currentOrThrow(member) : this.#existingRoom(message.room));
      case 'nick':
        return this.#rename(member, message.name);
      case 'history':
        return this.#sendHistory(member, message);
      case 'ping':
        return this.deliver(member, encodeMessage({ type: 'pong', data: message.data }));
      case 'pong':
        return; // lastHeardAt is already updated
      case 'file-offer':
        return this.#files.offer(member, message);
      case 'file-data':
        return this.#files.data(member, message.transfer, message.data);
      case 'file-end':
        return this.#files.end(member, message);
      case 'file-abort':
        return this.#files.abort(member, message);
    }
  }

  #hello(member: Member, hello: ClientMessageOf<'hello'>): void {
    // Whatever happens next, this connection speaks the protocol: it will not be made a plain
    // device by the hello timer, and a failed hello may be retried.
    this.#clearHelloTimer(member);
    if (member.state === 'pending') member.legacy = false;
    if (hello.v !== PROTOCOL_VERSION) {
      throw new ProtocolError('UNSUPPORTED_VERSION', `This server speaks protocol version ${PROTOCOL_VERSION}, not ${hello.v}.`);
    }
    if (member.state === 'joined' && !member.legacy) {
      throw new ProtocolError('UNEXPECTED_TYPE', 'This connection already said hello.');
    }
    const name = hello.name ?? member.name;
    if (hello.name !== undefined) this.#checkNameFree(member, hello.name);
    const roomName = this.#checkRoomName(hello.room ?? DEFAULT_ROOM);
    this.#clearHelloTimer(member);
    const upgrading = member.state === 'joined';
    member.legacy = false;
    if (!upgrading) {
      this.#setName(member, name);
      member.state = 'joined';
    } else if (name !== member.name) {
      this.#rename(member, name);
    }
    const rooms = member.rooms.map((r) => r.name);
    if (!rooms.includes(roomName)) rooms.push(roomName);
    this.deliver(
      member,
      encodeMessage({
        type: 'welcome',
        v: PROTOCOL_VERSION,
        id: member.id,
        name: member.name,
        room: roomName,
        rooms,
        server: SERVER_NAME,
        maxFrameLength: this.config.limits.maxFrameLength,
        maxFileBytes: this.config.limits.maxFileBytes,
        heartbeatMs: this.config.timing.heartbeatMs,
      }),
    );
    if (!upgrading) this.emit('joined', member);
    this.#join(member, roomName, hello.since);
  }

  /** A connection that did not say hello in time (or sent something else first) joins as a plain device. */
  #admitLegacy(member: Member): void {
    if (member.state !== 'pending') return;
    this.#clearHelloTimer(member);
    member.state = 'joined';
    this.#setName(member, member.link.address);
    this.emit('joined', member);
    this.#join(member, DEFAULT_ROOM);
  }

  #say(member: Member, room: Room | undefined, text: string): void {
    if (room === undefined) throw new ProtocolError('NOT_IN_ROOM', 'You are not in any room; join one first.');
    this.#checkText(text);
    const entry = this.store({ kind: 'message', room: room.name, from: member.name, transport: member.transport, text });
    const frame = encodeMessage({ type: 'message', ...withoutKind(entry) });
    const line = room.name === DEFAULT_ROOM ? `${member.name}: ${text}` : `[${room.name}] ${member.name}: ${text}`;
    // Plain devices do not get their own words back: many treat incoming lines as commands.
    this.publish({ room: room.name, frame, legacyText: line, except: member.legacy ? member.id : undefined });
  }

  #private(member: Member, message: ClientMessageOf<'private'>): void {
    this.#checkText(message.text);
    const target = this.findByName(message.to);
    if (target === undefined) throw new ProtocolError('NO_SUCH_MEMBER', `Nobody named "${message.to}" is connected.`);
    const entry = this.store({ kind: 'private', from: member.name, to: target.name, transport: member.transport, text: message.text });
    const frame = encodeMessage({ type: 'private', ...withoutKind(entry) });
    const line = encodeMessage({ type: 'text', text: `[private] ${member.name}: ${message.text}` });
    this.deliver(target, target.legacy ? line : frame);
    if (target !== member && !member.legacy) this.deliver(member, frame);
  }

  #join(member: Member, roomName: string, since?: number): void {
    const room = this.#ensureRoom(roomName);
    const at = member.rooms.indexOf(room);
    if (at >= 0) {
      // Already in it: it becomes the current room.
      member.rooms.splice(at, 1);
      member.rooms.push(room);
    } else {
      member.rooms.push(room);
      room.members.add(member);
      this.#announce(room, 'join', member);
    }
    if (member.legacy) return;
    this.#sendRoster(member, room);
    const limit = this.config.history.onJoin;
    if (limit > 0) {
      const query = since === undefined ? { room: room.name, limit } : { room: room.name, after: since, limit: this.config.history.maxPage };
      this.deliver(member, this.#historyFrame({ room: room.name }, this.history.query(query), since !== undefined));
    }
  }

  #leave(member: Member, roomName: string): void {
    const room = this.#roomOf(member, roomName);
    member.rooms.splice(member.rooms.indexOf(room), 1);
    // Announced while the leaver is still in the room, so it hears its own leave too: the
    // confirmation that the request took effect.
    this.#announce(room, 'leave', member, { reason: 'left' });
    room.members.delete(member);
    this.#dropIfEmpty(room);
  }

  #rename(member: Member, name: string): void {
    if (name === member.name) return;
    this.#checkNameFree(member, name);
    const previousName = member.name;
    this.#setName(member, name);
    for (const room of member.rooms) this.#announce(room, 'rename', member, { previousName });
    if (member.rooms.length === 0 && !member.legacy) {
      this.deliver(member, this.#noticeFrame(member, `You are now known as ${name}.`));
    }
  }

  #sendRoster(member: Member, room: Room): void {
    this.deliver(member, encodeMessage({ type: 'roster', room: room.name, members: [...room.members].map((m) => m.info()) }));
  }

  #sendHistory(member: Member, request: ClientMessageOf<'history'>): void {
    const limit = Math.min(request.limit ?? 50, this.config.history.maxPage);
    const privately = request.with !== undefined || request.private === true;
    if (request.room !== undefined && privately) {
      throw new ProtocolError('INVALID_MESSAGE', 'history takes a room, or with/private for private messages, not both.');
    }
    if (request.with !== undefined && !isValidName(request.with)) {
      throw new ProtocolError('NAME_INVALID', `"${request.with}" is not a valid member name.`);
    }
    if (request.room !== undefined) this.#existingOrPastRoom(request.room);
    const page = this.history.query({
      room: request.room,
      viewer: request.room === undefined && !privately ? { name: member.name, rooms: member.rooms.map((r) => r.name) } : undefined,
      privateOf: privately ? { name: member.name, peer: request.with } : undefined,
      before: request.before,
      after: request.after,
      limit,
    });
    const forward = request.after !== undefined && request.before === undefined;
    this.deliver(member, this.#historyFrame(request, page, forward));
  }

  /**
   * A history reply that fits in one frame: 500 long messages would not, so entries are
   * dropped from the far end (oldest when scrolling back, newest when catching up) and
   * `more` tells the client to ask again.
   */
  #historyFrame(scope: HistoryScope, page: HistoryPage, forward: boolean): Uint8Array {
    let { entries, more } = page;
    for (;;) {
      const reply: ServerMessageOf<'history'> = { type: 'history', entries, more };
      // Echo the scope so a client with several requests out can tell the replies apart.
      if (scope.room !== undefined) reply.room = scope.room;
      if (scope.with !== undefined) reply.with = scope.with;
      if (scope.private !== undefined) reply.private = scope.private;
      const frame = encodeMessage(reply);
      if (frame.length - 4 <= this.config.limits.maxFrameLength || entries.length === 0) return frame;
      const keep = Math.floor(entries.length / 2);
      entries = forward ? entries.slice(0, keep) : entries.slice(entries.length - keep);
      more = true;
    }
  }

  // -------------------------------------------------------------------------------------
  // Rooms, names, presence
  // -------------------------------------------------------------------------------------

  listRooms(): { name: string; members: number }[] {
    return [...this.#rooms.values()].map((room) => ({ name: room.name, members: room.members.size }));
  }

  #ensureRoom(name: string): Room {
    let room = this.#rooms.get(name);
    if (room === undefined) {
      room = { name, members: new Set(), createdAt: this.now() };
      this.#rooms.set(name, room);
    }
    return room;
  }

  #dropIfEmpty(room: Room): void {
    if (room.members.size === 0 && room.name !== DEFAULT_ROOM) this.#rooms.delete(room.name);
  }

  #checkRoomName(name: string): string {
    if (!isValidName(name)) throw new ProtocolError('ROOM_INVALID', `"${name}" is not a valid room name: use 1-32 letters, digits, "_", "-" or ".".`);
    return name;
  }

  #existingRoom(name: string): Room {
    const room = this.#rooms.get(name);
    if (room === undefined) throw new ProtocolError('ROOM_NOT_FOUND', `No room is named "${name}".`);
    return room;
  }

  /** Rooms with members exist; a room that emptied still has history. */
  #existingOrPastRoom(name: string): void {
    this.#checkRoomName(name);
  }

  #roomOf(member: Member, name: string): Room {
    const room = this.#existingRoom(name);
    if (!member.rooms.includes(room)) throw new ProtocolError('NOT_IN_ROOM', `You are not in room "${name}".`);
    return room;
  }

  #currentOrThrow(member: Member): Room {
    const room = member.currentRoom;
    if (room === undefined) throw new ProtocolError('NOT_IN_ROOM', 'You are not in any room.');
    return room;
  }

  #checkNameFree(member: Member, name: string): void {
    if (!isValidName(name)) throw new ProtocolError('NAME_INVALID', `"${name}" is not a valid name: use 1-32 letters, digits, "_", "-" or ".".`);
    const holder = this.#byName.get(name.toLowerCase());
    if (holder !== undefined && holder !== member) throw new ProtocolError('NAME_TAKEN', `The name "${name}" is taken.`);
  }

  #setName(member: Member, name: string): void {
    if (this.#byName.get(member.name.toLowerCase()) === member) this.#byName.delete(member.name.toLowerCase());
    member.name = name;
    this.#byName.set(name.toLowerCase(), member);
  }

  #checkText(text: string): void {
    const max = this.config.limits.maxTextBytes;
    // Cheap bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
    if (text.length * 3 > max && utf8.encode(text).length > max) {
      throw new ProtocolError('TEXT_TOO_LONG', `Text is longer than ${max} bytes of UTF-8.`);
    }
  }

  #presenceFrame(room: Room, event: 'join' | 'leave' | 'rename', member: Member, extra: { reason?: string; previousName?: string } = {}): Uint8Array {
    return encodeMessage({ type: 'presence', room: room.name, event, member: member.info(), ...extra, ts: this.now() });
  }

  #announce(room: Room, event: 'join' | 'leave' | 'rename', member: Member, extra: { reason?: LeaveReason; previousName?: string } = {}): void {
    const frame = this.#presenceFrame(room, event, member, extra);
    const prefix = room.name === DEFAULT_ROOM ? '' : `[${room.name}] `;
    const line =
      event === 'join'
        ? `* ${member.name} joined`
        : event === 'leave'
          ? `* ${member.name} left (${extra.reason ?? 'left'})`
          : `* ${extra.previousName ?? '?'} is now ${member.name}`;
    this.publish({ room: room.name, frame, legacyText: prefix + line, except: member.legacy ? member.id : undefined });
  }

  #noticeFrame(member: Member, text: string, code?: ErrorCode, extra: { private?: boolean } = {}): Uint8Array {
    if (member.legacy) return encodeMessage({ type: 'text', text: `* server: ${text}` });
    const notice: ServerMessage = { type: 'notice', text, ts: this.now(), ...extra };
    if (code !== undefined) notice.code = code;
    return encodeMessage(notice);
  }

  // -------------------------------------------------------------------------------------
  // Limits and liveness
  // -------------------------------------------------------------------------------------

  #rateLimited(member: Member, now: number): void {
    member.rateStrikes++;
    if (member.rateStrikes >= RATE_STRIKES_TO_DISCONNECT) {
      this.disconnect(member, 'rate', { code: 'RATE_LIMITED', message: 'Sustained flooding past the rate limit; disconnected.' });
      return;
    }
    // At most one error a second, so a flood does not turn into a flood of errors.
    if (now - member.lastRateErrorAt >= 1000) {
      member.lastRateErrorAt = now;
      const { ratePerSecond, rateBurst } = this.config.limits;
      this.sendError(member, 'RATE_LIMITED', `Slow down: at most ${ratePerSecond} frames a second (bursts of ${rateBurst}); frames past it are dropped.`);
    }
  }

  #scan(): void {
    const now = this.now();
    const { heartbeatMs, frameTimeoutMs, fileStallMs } = this.config.timing;
    for (const member of this.#members.values()) {
      if (member.partialSince !== 0 && now - member.partialSince > frameTimeoutMs) {
        this.disconnect(member, 'timeout', { code: 'FRAME_TIMEOUT', message: `A frame stayed incomplete for more than ${frameTimeoutMs} ms.` });
        continue;
      }
      if (heartbeatMs > 0 && !member.legacy) {
        const silent = now - member.lastHeardAt;
        if (member.pingSentAt !== 0 && now - member.pingSentAt > heartbeatMs) {
          this.disconnect(member, 'timeout', { code: 'HEARTBEAT_TIMEOUT', message: `Nothing heard for ${silent} ms, not even an answer to a ping.` });
          continue;
        }
        if (silent > heartbeatMs && member.pingSentAt === 0) {
          member.pingSentAt = now;
          this.deliver(member, encodeMessage({ type: 'ping', data: new Uint8Array(0) }));
        }
      }
      if (member.blockedBy.size > 0 && now - member.blockedSince > fileStallMs) this.#files.releaseStalled(member);
    }
  }
}

function withoutKind<T extends { kind: string }>(entry: T): Omit<T, 'kind'> {
  const { kind: _kind, ...rest } = entry;
  return rest;
}

function refusalText(code: ErrorCode, limits: GatewayConfig['limits']): string {
  switch (code) {
    case 'TOO_MANY_CONNECTIONS':
      return `The server is at its limit of ${limits.maxConnections} connections; try again later.`;
    case 'TOO_MANY_CONNECTIONS_FROM_ADDRESS':
      return `Your address already has ${limits.maxConnectionsPerIp} connections open.`;
    default:
      return 'The gateway is shutting down.';
  }
}
