// The chat session: hello/welcome, rooms, members, messages and private conversations.
// Frames come from GatewayConnection; this class turns them into conversations to render.
import {
  DEFAULT_ROOM,
  PROTOCOL_VERSION,
  isValidName,
  type ClientMessage,
  type ClientMessageOf,
  type HistoryEntry,
  type MemberInfo,
  type ServerMessage,
  type ServerMessageOf,
  type Transport,
} from '@switchboard/protocol';
import type { GatewayConnection } from './connection.svelte.js';
import { fetchServerConfig, type RoomSummary, type ServerConfig } from './rest-client.js';

/** One line in a conversation. Lines with an `id` are stored messages; the rest are events. */
export type ChatLine =
  | { kind: 'message'; key: string; id: number; from: string; transport: Transport; ts: number; text: string }
  | {
      kind: 'file';
      key: string;
      id: number;
      from: string;
      transport: Transport;
      ts: number;
      name: string;
      size: number;
      mime: string;
      /** From history: whether the transfer completed (the server stores its SHA-256 then). */
      completed?: boolean;
    }
  | {
      kind: 'presence';
      key: string;
      ts: number;
      event: 'join' | 'leave' | 'rename';
      name: string;
      transport: Transport;
      previousName?: string;
      reason?: string;
    }
  | { kind: 'notice'; key: string; ts: number; text: string; scope: 'room' | 'all' | 'private' | 'local'; code?: string };

type StoredLine = Extract<ChatLine, { id: number }>;

export interface ChatErrorNote {
  key: string;
  code: string;
  message: string;
  ts: number;
}

export type SessionPhase = 'signed-out' | 'joining' | 'active';
export type ConversationKind = 'room' | 'private';

let lineCounter = 0;
function eventKey(): string {
  return `e${++lineCounter}`;
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** A room you are in, or a private conversation with one member. */
export class Conversation {
  readonly kind: ConversationKind;
  readonly key: string;
  #name = $state('');
  #lines = $state.raw<ChatLine[]>([]);
  #ids = new Set<number>();
  #members = $state.raw<MemberInfo[]>([]);
  #unread = $state(0);
  #hasOlder = $state(false);
  #loadingOlder = $state(false);

  constructor(kind: ConversationKind, key: string, name: string) {
    this.kind = kind;
    this.key = key;
    this.#name = name;
  }

  /** Room name, or the other member's name. */
  get name(): string {
    return this.#name;
  }
  get lines(): readonly ChatLine[] {
    return this.#lines;
  }
  /** The room's members (rooms only), sorted by name. */
  get members(): readonly MemberInfo[] {
    return this.#members;
  }
  get unread(): number {
    return this.#unread;
  }
  /** True while the server says older messages exist than the oldest shown. */
  get hasOlder(): boolean {
    return this.#hasOlder;
  }
  get loadingOlder(): boolean {
    return this.#loadingOlder;
  }
  get oldestId(): number | undefined {
    for (const line of this.#lines) if ('id' in line) return line.id;
    return undefined;
  }

  rename(name: string): void {
    this.#name = name;
  }
  setMembers(members: readonly MemberInfo[]): void {
    this.#members = [...members].sort((a, b) => a.name.localeCompare(b.name));
  }
  upsertMember(member: MemberInfo): void {
    this.setMembers([...this.#members.filter((m) => m.id !== member.id), member]);
  }
  removeMember(id: string): void {
    this.#members = this.#members.filter((m) => m.id !== id);
  }
  setHasOlder(value: boolean): void {
    this.#hasOlder = value;
  }
  setLoadingOlder(value: boolean): void {
    this.#loadingOlder = value;
  }
  clearUnread(): void {
    this.#unread = 0;
  }
  addUnread(count: number): void {
    this.#unread += count;
  }

  /** Appends a live line. Returns false for a stored message already shown. */
  append(line: ChatLine): boolean {
    if ('id' in line) {
      if (this.#ids.has(line.id)) return false;
      this.#ids.add(line.id);
    }
    this.#lines = [...this.#lines, line];
    return true;
  }

  /**
   * Merges stored messages in id order, skipping ones already shown. Events without an id
   * (presence, notices) that happened after a merged message stay after it. Returns those added.
   */
  merge(incoming: StoredLine[]): StoredLine[] {
    const fresh: StoredLine[] = [];
    for (const line of incoming) {
      if (this.#ids.has(line.id)) continue;
      this.#ids.add(line.id);
      fresh.push(line);
    }
    if (fresh.length === 0) return fresh;
    fresh.sort((a, b) => a.id - b.id);
    const lines = [...this.#lines];
    let at = 0;
    for (const line of fresh) {
      // The first stored line with a larger id; ids only grow, so continue from the last spot.
      while (at < lines.length && !isLaterStored(lines[at]!, line.id)) at++;
      let position = at;
      while (position > 0 && !('id' in lines[position - 1]!) && lines[position - 1]!.ts > line.ts) position--;
      lines.splice(position, 0, line);
      at = position + 1;
    }
    this.#lines = lines;
    return fresh;
  }
}

function isLaterStored(line: ChatLine, id: number): boolean {
  return 'id' in line && line.id > id;
}

type HistoryPurpose = 'latest' | 'older' | 'after';
/** What a history request asked for; the reply repeats room, with and private. */
interface HistoryRequest {
  room: string | undefined;
  /** A private conversation's other member. */
  with?: string;
  /** Every private message to or from us. */
  private?: boolean;
  purpose: HistoryPurpose;
}

/** Hello failures that the user has to fix on the join screen. */
const HELLO_ERRORS = new Set(['NAME_TAKEN', 'NAME_INVALID', 'UNSUPPORTED_VERSION']);
const HELLO_RETRY_MS = 2000;
const HELLO_RETRIES = 5;
const ROOMS_REFRESH_MS = 5000;
const HISTORY_PAGE = 50;
const CATCH_UP_PAGE = 500;

export class ChatState {
  #connection: GatewayConnection;
  #phase = $state<SessionPhase>('signed-out');
  #requestedName: string | null = null;
  #name = $state<string | null>(null);
  #memberId = $state<string | null>(null);
  #joinError = $state.raw<{ code: string; message: string } | null>(null);
  #ended = $state.raw<{ code: string; message: string } | null>(null);
  #conversations = $state.raw<Conversation[]>([]);
  #activeKey = $state<string | null>(null);
  #lastRoomKey = $state<string | null>(null);
  #rooms = $state.raw<RoomSummary[]>([]);
  #errors = $state.raw<ChatErrorNote[]>([]);
  #config = $state.raw<ServerConfig | null>(null);
  #welcomeLimits = $state.raw<{ maxFileBytes: number; maxFrameLength: number } | null>(null);

  #lastSeenId = 0;
  // After a reconnect, stored messages above this id arrived while we were away: unread.
  #unreadAbove = Number.POSITIVE_INFINITY;
  #awaitingWelcome = false;
  #helloRetries = 0;
  #helloTimer: ReturnType<typeof setTimeout> | null = null;
  #historyRequests: HistoryRequest[] = [];
  #pendingActivate: string | null = null;
  #privateCounter = 0;
  #roomsTimer: ReturnType<typeof setInterval> | null = null;
  #roomsRefreshTimer: ReturnType<typeof setTimeout> | null = null;
  #outage = false;
  #unsubscribe: (() => void)[] = [];

  constructor(connection: GatewayConnection) {
    this.#connection = connection;
    this.#unsubscribe.push(
      connection.onMessage((message) => this.#handle(message)),
      connection.onOpen(() => {
        if (this.#requestedName !== null) this.#sendHello();
      }),
      connection.onClose(({ willReconnect }) => this.#onClose(willReconnect)),
    );
  }

  get phase(): SessionPhase {
    return this.#phase;
  }
  /** Your name as the server confirmed it. */
  get name(): string | null {
    return this.#name;
  }
  /** Your connection's id (the REST API's client id). */
  get memberId(): string | null {
    return this.#memberId;
  }
  get joinError(): { code: string; message: string } | null {
    return this.#joinError;
  }
  /** Set when the server ended the session for good (kicked); cleared by signing in again. */
  get ended(): { code: string; message: string } | null {
    return this.#ended;
  }
  get conversations(): readonly Conversation[] {
    return this.#conversations;
  }
  get roomConversations(): Conversation[] {
    return this.#conversations.filter((c) => c.kind === 'room');
  }
  get privateConversations(): Conversation[] {
    return this.#conversations.filter((c) => c.kind === 'private');
  }
  get active(): Conversation | null {
    return this.#conversations.find((c) => c.key === this.#activeKey) ?? null;
  }
  /** The active room, or the room last active while a private conversation is open. */
  get currentRoom(): Conversation | null {
    const active = this.active;
    if (active?.kind === 'room') return active;
    return this.#conversations.find((c) => c.key === this.#lastRoomKey) ?? this.roomConversations[0] ?? null;
  }
  /** Rooms on the server, from the last rooms frame. */
  get rooms(): readonly RoomSummary[] {
    return this.#rooms;
  }
  get errors(): readonly ChatErrorNote[] {
    return this.#errors;
  }
  get totalUnread(): number {
    return this.#conversations.reduce((sum, c) => sum + c.unread, 0);
  }
  get maxTextBytes(): number {
    return this.#config?.maxTextBytes ?? 65_536;
  }
  /** The largest file the server accepts: GET /api/config, else the welcome's figure. */
  get maxFileBytes(): number | null {
    return this.#config?.maxFileBytes ?? this.#welcomeLimits?.maxFileBytes ?? null;
  }
  get config(): ServerConfig | null {
    return this.#config;
  }

  isMe(name: string): boolean {
    return this.#name !== null && sameName(name, this.#name);
  }

  /** Loads the server's limits. Failure is not fatal: the welcome carries the file limit too. */
  async loadConfig(): Promise<void> {
    try {
      this.#config = await fetchServerConfig();
    } catch (error) {
      console.warn('Switchboard: could not load /api/config', error);
    }
  }

  /** Starts a session under `name`, or retries one the server refused. */
  signIn(name: string): void {
    const trimmed = name.trim();
    if (!isValidName(trimmed)) {
      this.#joinError = {
        code: 'NAME_INVALID',
        message: 'Names are 1-32 letters, digits, "_", "-" or "." (no spaces).',
      };
      return;
    }
    this.#requestedName = trimmed;
    this.#joinError = null;
    this.#ended = null;
    this.#helloRetries = 0;
    if (this.#phase === 'signed-out') this.#phase = 'joining';
    if (this.#connection.status === 'open') this.#sendHello();
    else this.#connection.connect();
  }

  /** Ends the session and forgets its conversations. */
  signOut(): void {
    this.#requestedName = null;
    this.#connection.close('Signed out.');
    this.#reset();
  }

  dispose(): void {
    for (const off of this.#unsubscribe) off();
    this.#stopTimers();
  }

  activate(key: string): void {
    const conversation = this.#conversations.find((c) => c.key === key);
    if (!conversation) return;
    this.#activeKey = key;
    if (conversation.kind === 'room') this.#lastRoomKey = key;
    conversation.clearUnread();
  }

  /** Joins (or creates) a room and switches to it. */
  joinRoom(room: string): boolean {
    const name = room.trim();
    if (!isValidName(name)) {
      this.#pushError('ROOM_INVALID', `"${name}" is not a valid room name: use 1-32 letters, digits, "_", "-" or ".".`);
      return false;
    }
    const existing = this.#room(name);
    if (existing) {
      this.activate(existing.key);
      return true;
    }
    this.#pendingActivate = name;
    return this.#send({ type: 'join', room: name }, { room: name, purpose: 'latest' });
  }

  leaveRoom(room: string): void {
    this.#send({ type: 'leave', room });
  }

  /** Opens (or switches to) the private conversation with a member. */
  openPrivate(name: string): void {
    if (this.isMe(name)) return;
    const conversation = this.#privateWith(name, true)!;
    this.activate(conversation.key);
    if (conversation.oldestId === undefined) this.loadOlder(conversation);
  }

  closePrivate(key: string): void {
    const conversation = this.#conversations.find((c) => c.key === key && c.kind === 'private');
    if (!conversation) return;
    this.#conversations = this.#conversations.filter((c) => c !== conversation);
    if (this.#activeKey === key) this.#activateFallback();
  }

  /** Sends text to the active room or private conversation. */
  sendText(text: string): boolean {
    const conversation = this.active;
    if (!conversation || text.trim().length === 0) return false;
    const bytes = utf8Length(text);
    if (bytes > this.maxTextBytes) {
      this.#pushError('TEXT_TOO_LONG', `The message is ${bytes} bytes; the server accepts at most ${this.maxTextBytes}.`);
      return false;
    }
    return conversation.kind === 'room'
      ? this.#send({ type: 'message', room: conversation.name, text })
      : this.#send({ type: 'private', to: conversation.name, text });
  }

  /** Asks for the page of messages before the oldest one shown. */
  loadOlder(conversation: Conversation): void {
    if (!conversation.hasOlder || conversation.loadingOlder) return;
    const scope = conversation.kind === 'room' ? { room: conversation.name } : { with: conversation.name };
    const request: ClientMessageOf<'history'> = { type: 'history', ...scope, limit: HISTORY_PAGE };
    const before = conversation.oldestId;
    if (before !== undefined) request.before = before;
    if (this.#send(request, { room: undefined, ...scope, purpose: 'older' })) conversation.setLoadingOlder(true);
  }

  refreshRooms(): void {
    this.#connection.send({ type: 'rooms' });
  }

  dismissError(key: string): void {
    this.#errors = this.#errors.filter((e) => e.key !== key);
  }

  /** Shows an error raised on this side (a refused file, for instance) with the server's. */
  reportError(code: string, message: string): void {
    this.#pushError(code, message);
  }

  // -------------------------------------------------------------------------------------

  #send(message: ClientMessage, expect?: HistoryRequest): boolean {
    if (!this.#connection.send(message)) {
      this.#pushError('NOT_CONNECTED', 'Not connected to the gateway; nothing was sent.');
      return false;
    }
    if (expect) this.#historyRequests.push(expect);
    return true;
  }

  #sendHello(): void {
    const name = this.#requestedName;
    if (name === null) return;
    if (this.#helloTimer !== null) clearTimeout(this.#helloTimer);
    this.#helloTimer = null;
    this.#historyRequests = [];
    const hello: ClientMessageOf<'hello'> = { type: 'hello', v: PROTOCOL_VERSION, name };
    let room: string = DEFAULT_ROOM;
    let purpose: HistoryPurpose = 'latest';
    if (this.#phase === 'active') {
      // Coming back after a drop: rejoin where we were and get what we missed.
      const active = this.active;
      const current = active?.kind === 'room' ? active : this.roomConversations[0];
      if (current) hello.room = room = current.name;
      if (this.#lastSeenId > 0) {
        hello.since = this.#lastSeenId;
        purpose = 'after';
      }
      this.#unreadAbove = Math.min(this.#unreadAbove, this.#lastSeenId);
    }
    this.#awaitingWelcome = true;
    if (this.#connection.send(hello)) this.#historyRequests.push({ room, purpose });
  }

  #handle(message: ServerMessage): void {
    switch (message.type) {
      case 'welcome':
        return this.#onWelcome(message);
      case 'error':
        return this.#onError(message);
      case 'message':
        return this.#onMessage(message);
      case 'private':
        return this.#onPrivate(message);
      case 'presence':
        return this.#onPresence(message);
      case 'roster': {
        const conversation = this.#room(message.room) ?? this.#addRoom(message.room);
        conversation.setMembers(message.members);
        return;
      }
      case 'notice':
        return this.#onNotice(message);
      case 'rooms':
        this.#rooms = [...message.rooms].sort((a, b) => a.name.localeCompare(b.name));
        return;
      case 'history':
        return this.#onHistory(message);
      case 'file-offer':
        return this.#onFileOffer(message);
      default:
        return; // text lines (we said hello, so none come), file data, pongs: not chat.
    }
  }

  #onWelcome(welcome: ServerMessageOf<'welcome'>): void {
    const reconnect = this.#phase === 'active';
    const before = reconnect ? this.roomConversations.map((c) => c.name) : [];
    this.#awaitingWelcome = false;
    this.#helloRetries = 0;
    this.#phase = 'active';
    this.#name = welcome.name;
    this.#requestedName = welcome.name;
    this.#memberId = welcome.id;
    this.#joinError = null;
    this.#welcomeLimits = { maxFileBytes: welcome.maxFileBytes, maxFrameLength: welcome.maxFrameLength };
    this.#connection.resetBackoff();
    for (const room of welcome.rooms) if (!this.#room(room)) this.#addRoom(room);
    if (!this.#room(welcome.room)) this.#addRoom(welcome.room);
    if (reconnect) {
      for (const room of before) {
        if (!welcome.rooms.includes(room)) {
          this.#send({ type: 'join', room }, { room, purpose: 'latest' });
        }
      }
      // Private messages (and anything else) sent while we were away. Asked after the
      // joins so the server counts those rooms as ours.
      if (this.#lastSeenId > 0) {
        this.#send(
          { type: 'history', after: this.#lastSeenId, limit: CATCH_UP_PAGE },
          { room: undefined, purpose: 'after' },
        );
      }
      if (this.#outage) this.#noteEverywhere('Reconnected.');
      this.#outage = false;
    } else {
      this.activate(this.#room(welcome.room)!.key);
      // A new session (a reload, another tab) rebuilds its private conversations from history.
      this.#send({ type: 'history', private: true, limit: HISTORY_PAGE }, { room: undefined, private: true, purpose: 'latest' });
    }
    this.refreshRooms();
    this.#startRoomsTimer();
    // The gateway may have restarted with other limits.
    if (reconnect) void this.loadConfig();
  }

  #onError(error: ServerMessageOf<'error'>): void {
    if (this.#awaitingWelcome && HELLO_ERRORS.has(error.code)) {
      this.#awaitingWelcome = false;
      if (this.#phase === 'active' && error.code === 'NAME_TAKEN' && this.#helloRetries < HELLO_RETRIES) {
        // Our old connection may not be gone from the server yet; try again shortly.
        this.#helloRetries++;
        this.#helloTimer = setTimeout(() => this.#sendHello(), HELLO_RETRY_MS);
        return;
      }
      this.#requestedName = null;
      this.#connection.close();
      this.#reset();
      this.#joinError = { code: error.code, message: error.message };
      return;
    }
    if (error.code === 'KICKED') {
      this.#endSession(error.code, error.message);
      return;
    }
    if (error.code === 'NOT_IN_ROOM' || error.code === 'ROOM_INVALID') this.#pendingActivate = null;
    this.#pushError(error.code, error.message);
  }

  #onMessage(message: ServerMessageOf<'message'>): void {
    this.#seen(message.id);
    const conversation = this.#room(message.room);
    if (!conversation) return;
    const { id, from, transport, ts, text } = message;
    this.#appendLive(conversation, { kind: 'message', key: `m${id}`, id, from, transport, ts, text });
  }

  #onPrivate(message: ServerMessageOf<'private'>): void {
    this.#seen(message.id);
    const peer = this.isMe(message.from) ? message.to : message.from;
    const conversation = this.#privateWith(peer, true)!;
    const { id, from, transport, ts, text } = message;
    this.#appendLive(conversation, { kind: 'message', key: `m${id}`, id, from, transport, ts, text });
  }

  #onFileOffer(offer: ServerMessageOf<'file-offer'>): void {
    this.#seen(offer.id);
    // An offer names its room or its recipient; without either it went to the current room.
    const conversation =
      this.#conversationFor(offer, true) ?? (offer.room === undefined && offer.to === undefined ? this.active : null);
    if (!conversation) return;
    const { id, from, transport, ts, name, size, mime } = offer;
    this.#appendLive(conversation, { kind: 'file', key: `m${id}`, id, from, transport, ts, name, size, mime });
  }

  #onPresence(presence: ServerMessageOf<'presence'>): void {
    const { room, event, member } = presence;
    const isMe = member.id === this.#memberId;
    let conversation = this.#room(room);
    if (event === 'leave' && isMe) {
      if (conversation) this.#removeRoom(conversation);
      this.refreshRooms();
      return;
    }
    if (!conversation) {
      if (!(event === 'join' && isMe)) return;
      conversation = this.#addRoom(room);
    }
    if (event === 'leave') conversation.removeMember(member.id);
    else conversation.upsertMember(member);
    if (event === 'rename') {
      if (isMe) {
        this.#name = member.name;
        this.#requestedName = member.name;
      }
      // Keep a private conversation with the renamed member under the new name.
      const previous = presence.previousName;
      if (previous !== undefined) this.#privateWith(previous, false)?.rename(member.name);
    }
    const line: ChatLine = {
      kind: 'presence',
      key: eventKey(),
      ts: presence.ts,
      event,
      name: member.name,
      transport: member.transport,
    };
    if (presence.previousName !== undefined) line.previousName = presence.previousName;
    if (presence.reason !== undefined) line.reason = presence.reason;
    conversation.append(line);
    if (event !== 'rename') this.#scheduleRoomsRefresh();
  }

  #onNotice(notice: ServerMessageOf<'notice'>): void {
    const scope = notice.room !== undefined ? 'room' : notice.private ? 'private' : 'all';
    const line: ChatLine = { kind: 'notice', key: eventKey(), ts: notice.ts, text: notice.text, scope };
    if (notice.code !== undefined) line.code = notice.code;
    const target = (notice.room !== undefined ? this.#room(notice.room) : null) ?? this.active;
    if (target) {
      target.append(line);
      if (target !== this.active) target.addUnread(1);
    }
    if (notice.code === 'KICKED') this.#endSession(notice.code, notice.text);
  }

  #onHistory(history: ServerMessageOf<'history'>): void {
    const request = this.#takeHistoryRequest(history);
    const byConversation = new Map<Conversation, StoredLine[]>();
    let newest = 0;
    for (const entry of history.entries) {
      this.#seen(entry.id);
      newest = Math.max(newest, entry.id);
      // Catching up may bring private messages from someone we have no conversation with yet.
      const conversation = this.#conversationFor(entry, request.purpose === 'after' || request.private === true);
      if (!conversation) continue;
      let lines = byConversation.get(conversation);
      if (!lines) byConversation.set(conversation, (lines = []));
      lines.push(lineFromEntry(entry));
    }
    for (const [conversation, lines] of byConversation) {
      const added = conversation.merge(lines);
      if (conversation !== this.active) {
        conversation.addUnread(added.filter((l) => l.id > this.#unreadAbove && !this.isMe(l.from)).length);
      }
    }
    const scoped =
      history.room !== undefined ? this.#room(history.room)
      : history.with !== undefined ? this.#privateWith(history.with, false)
      : undefined;
    if (scoped && request.purpose !== 'after') {
      scoped.setHasOlder(history.more);
      scoped.setLoadingOlder(false);
    }
    if (request.purpose === 'after' && history.more && newest > 0) {
      const next: ClientMessageOf<'history'> = { type: 'history', after: newest, limit: CATCH_UP_PAGE };
      if (history.room !== undefined) next.room = history.room;
      this.#send(next, { room: history.room, purpose: 'after' });
    }
  }

  #takeHistoryRequest(reply: ServerMessageOf<'history'>): HistoryRequest {
    const at = this.#historyRequests.findIndex(
      (r) =>
        // The server repeats the request's fields as sent.
        r.room === reply.room && r.with === reply.with && (r.private ?? false) === (reply.private ?? false),
    );
    if (at === -1) return { room: reply.room, purpose: 'latest' };
    return this.#historyRequests.splice(at, 1)[0]!;
  }

  #conversationFor(
    entry: { kind?: string; room?: string; to?: string; from: string },
    openPrivate: boolean,
  ): Conversation | undefined {
    if (entry.kind === 'private' || entry.to !== undefined) {
      const peer = this.isMe(entry.from) ? (entry.to ?? entry.from) : entry.from;
      return this.#privateWith(peer, openPrivate);
    }
    return entry.room !== undefined ? this.#room(entry.room) : undefined;
  }

  #appendLive(conversation: Conversation, line: StoredLine): void {
    if (!conversation.append(line)) return;
    if (conversation !== this.active && !this.isMe(line.from)) conversation.addUnread(1);
  }

  #onClose(willReconnect: boolean): void {
    this.#awaitingWelcome = false;
    this.#historyRequests = [];
    for (const room of this.roomConversations) room.setLoadingOlder(false);
    if (this.#phase === 'active' && willReconnect && !this.#outage) {
      this.#outage = true;
      this.#noteEverywhere('Connection to the gateway lost; reconnecting…');
    }
  }

  #endSession(code: string, message: string): void {
    this.#connection.stopReconnecting(message);
    this.#ended = { code, message };
    this.#stopTimers();
  }

  #room(name: string): Conversation | undefined {
    // Room names are case-sensitive on the server (member names are not).
    return this.#conversations.find((c) => c.kind === 'room' && c.name === name);
  }

  #addRoom(name: string): Conversation {
    const conversation = new Conversation('room', `room:${name}`, name);
    // Rooms first (in the order joined), then private conversations.
    const rooms = this.roomConversations;
    this.#conversations = [...rooms, conversation, ...this.privateConversations];
    if (this.#pendingActivate === name) {
      this.#pendingActivate = null;
      this.activate(conversation.key);
    } else if (this.#activeKey === null) {
      this.activate(conversation.key);
    }
    return conversation;
  }

  #removeRoom(conversation: Conversation): void {
    this.#conversations = this.#conversations.filter((c) => c !== conversation);
    if (this.#activeKey === conversation.key) this.#activateFallback();
  }

  #privateWith(name: string, create: boolean): Conversation | undefined {
    const found = this.#conversations.find((c) => c.kind === 'private' && sameName(c.name, name));
    if (found || !create) return found;
    const conversation = new Conversation('private', `private:${++this.#privateCounter}`, name);
    // Earlier messages with this member may be stored: the list asks for them when shown.
    conversation.setHasOlder(true);
    this.#conversations = [...this.#conversations, conversation];
    return conversation;
  }

  #activateFallback(): void {
    const next = this.roomConversations.at(-1) ?? this.#conversations[0];
    this.#activeKey = null;
    if (next) this.activate(next.key);
  }

  #seen(id: number): void {
    if (id > this.#lastSeenId) this.#lastSeenId = id;
  }

  #noteEverywhere(text: string): void {
    for (const conversation of this.#conversations) {
      conversation.append({ kind: 'notice', key: eventKey(), ts: Date.now(), text, scope: 'local' });
    }
  }

  #pushError(code: string, message: string): void {
    const note: ChatErrorNote = { key: eventKey(), code, message, ts: Date.now() };
    this.#errors = [...this.#errors.slice(-4), note];
  }

  #scheduleRoomsRefresh(): void {
    // Presence comes in bursts (a restart brings everyone back); one rooms frame is enough.
    if (this.#roomsRefreshTimer !== null) return;
    this.#roomsRefreshTimer = setTimeout(() => {
      this.#roomsRefreshTimer = null;
      this.refreshRooms();
    }, 300);
  }

  #startRoomsTimer(): void {
    if (this.#roomsTimer !== null) return;
    // Counts of rooms we are not in change without presence reaching us.
    this.#roomsTimer = setInterval(() => this.refreshRooms(), ROOMS_REFRESH_MS);
  }

  #stopTimers(): void {
    if (this.#roomsTimer !== null) clearInterval(this.#roomsTimer);
    if (this.#roomsRefreshTimer !== null) clearTimeout(this.#roomsRefreshTimer);
    if (this.#helloTimer !== null) clearTimeout(this.#helloTimer);
    this.#roomsTimer = this.#roomsRefreshTimer = this.#helloTimer = null;
  }

  #reset(): void {
    this.#stopTimers();
    this.#phase = 'signed-out';
    this.#name = null;
    this.#memberId = null;
    this.#ended = null;
    this.#conversations = [];
    this.#activeKey = null;
    this.#lastRoomKey = null;
    this.#rooms = [];
    this.#errors = [];
    this.#lastSeenId = 0;
    this.#unreadAbove = Number.POSITIVE_INFINITY;
    this.#awaitingWelcome = false;
    this.#historyRequests = [];
    this.#pendingActivate = null;
    this.#outage = false;
  }
}

function lineFromEntry(entry: HistoryEntry): StoredLine {
  const key = `m${entry.id}`;
  if (entry.kind === 'file') {
    const { id, from, transport, ts, name, size, mime } = entry;
    return { kind: 'file', key, id, from, transport, ts, name, size, mime, completed: entry.sha256 !== undefined };
  }
  const { id, from, transport, ts, text } = entry;
  return { kind: 'message', key, id, from, transport, ts, text };
}
