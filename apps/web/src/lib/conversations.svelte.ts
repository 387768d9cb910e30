// The rooms and private conversations the page shows, which one is open, and the messages in
// each: live frames (messages, private messages, file offers, presence, rosters, notices) and
// stored messages from history pages land here.
import type { HistoryEntry, ServerMessageOf } from '@switchboard/protocol';
import { Conversation, eventKey, lineFromEntry, messageLine, type ChatLine, type StoredLine } from './conversation.svelte.js';

/** Who "you" are, from the session. */
export interface Identity {
  /** Whether a member name is yours (names are unique ignoring case). */
  isMe(name: string): boolean;
  /** Your connection's id, once welcomed. */
  readonly memberId: string | null;
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Where a private entry stands among all your private conversations: by time, then id (PROTOCOL.md §6). */
interface Position {
  ts: number;
  id: number;
}

function later(a: Position, b: Position): boolean {
  return a.ts !== b.ts ? a.ts > b.ts : a.id > b.id;
}

/** Before every entry: nothing private seen yet, so everything private that comes counts. */
const ORIGIN: Position = { ts: Number.NEGATIVE_INFINITY, id: 0 };

/** An entry or frame that is private (a private message, or a file sent to one member). */
function isPrivate(entry: { kind?: string; to?: string | undefined }): boolean {
  return entry.kind === 'private' || entry.to !== undefined;
}

export class Conversations {
  #identity: Identity;
  #list = $state.raw<Conversation[]>([]);
  #activeKey = $state<string | null>(null);
  #lastRoomKey = $state<string | null>(null);
  #privateCounter = 0;
  // Ids increase within one room only (rooms may take them on different Redis shards), so the
  // last one seen is kept per room; private entries across conversations by (ts, id).
  #lastSeen = new Map<string, number>();
  #lastPrivate: Position | null = null;
  // After a reconnect, stored messages past these arrived while we were away: unread. Per room
  // (above the room's own last id), and for private conversations past the last private entry.
  #unreadAbove = new Map<string, number>();
  #unreadPrivateAfter: Position | null = null;

  constructor(identity: Identity) {
    this.#identity = identity;
  }

  /** Rooms first (in the order joined), then private conversations. */
  get all(): readonly Conversation[] {
    return this.#list;
  }
  get rooms(): Conversation[] {
    return this.#list.filter((c) => c.kind === 'room');
  }
  get privates(): Conversation[] {
    return this.#list.filter((c) => c.kind === 'private');
  }
  get active(): Conversation | null {
    return this.#list.find((c) => c.key === this.#activeKey) ?? null;
  }
  /** The active room, or the room last active while a private conversation is open. */
  get currentRoom(): Conversation | null {
    const active = this.active;
    if (active?.kind === 'room') return active;
    return this.#list.find((c) => c.key === this.#lastRoomKey) ?? this.rooms[0] ?? null;
  }
  get totalUnread(): number {
    return this.#list.reduce((sum, c) => sum + c.unread, 0);
  }
  /** The newest stored message id seen in a room (0: none): where a resumed session picks that room up. */
  lastSeenIn(room: string): number {
    return this.#lastSeen.get(room) ?? 0;
  }

  /** The id of the newest private entry seen (0: none): where a resumed session picks private conversations up. */
  get lastPrivateId(): number {
    return this.#lastPrivate?.id ?? 0;
  }

  activate(key: string): void {
    const conversation = this.#list.find((c) => c.key === key);
    if (!conversation) return;
    this.#activeKey = key;
    if (conversation.kind === 'room') this.#lastRoomKey = key;
    conversation.clearUnread();
  }

  room(name: string): Conversation | undefined {
    // Room names are case-sensitive on the server (member names are not).
    return this.#list.find((c) => c.kind === 'room' && c.name === name);
  }

  /** The room's conversation, added if new; the first one becomes the active one. */
  ensureRoom(name: string): Conversation {
    const existing = this.room(name);
    if (existing) return existing;
    const conversation = new Conversation('room', `room:${name}`, name);
    this.#list = [...this.rooms, conversation, ...this.privates];
    if (this.#activeKey === null) this.activate(conversation.key);
    return conversation;
  }

  /** The private conversation with a member; `create` opens one when there is none. */
  privateWith(name: string, create: true): Conversation;
  privateWith(name: string, create: boolean): Conversation | undefined;
  privateWith(name: string, create: boolean): Conversation | undefined {
    const found = this.#list.find((c) => c.kind === 'private' && sameName(c.name, name));
    if (found || !create) return found;
    const conversation = new Conversation('private', `private:${++this.#privateCounter}`, name);
    // Earlier messages with this member may be stored: the list asks for them when shown.
    conversation.setHasOlder(true);
    this.#list = [...this.#list, conversation];
    return conversation;
  }

  /** Removes a room you left, or a private conversation you closed. */
  remove(conversation: Conversation): void {
    this.#list = this.#list.filter((c) => c !== conversation);
    if (this.#activeKey !== conversation.key) return;
    const next = this.rooms.at(-1) ?? this.#list[0];
    this.#activeKey = null;
    if (next) this.activate(next.key);
  }

  /** From now on, stored messages newer than the last one seen (in each room, and privately) count as unread (we were away). */
  markResumed(): void {
    for (const room of this.rooms) {
      const seen = this.lastSeenIn(room.name);
      this.#unreadAbove.set(room.name, Math.min(this.#unreadAbove.get(room.name) ?? seen, seen));
    }
    const seen = this.#lastPrivate ?? ORIGIN;
    if (this.#unreadPrivateAfter === null || later(this.#unreadPrivateAfter, seen)) this.#unreadPrivateAfter = seen;
  }

  /** Merges stored messages into their conversations. */
  mergeStored(entries: readonly HistoryEntry[], openPrivate: boolean): void {
    const byConversation = new Map<Conversation, StoredLine[]>();
    for (const entry of entries) {
      this.#seen(entry);
      const conversation = this.#conversationFor(entry, openPrivate);
      if (!conversation) continue;
      let lines = byConversation.get(conversation);
      if (!lines) byConversation.set(conversation, (lines = []));
      lines.push(lineFromEntry(entry));
    }
    for (const [conversation, lines] of byConversation) {
      const added = conversation.merge(lines);
      if (conversation !== this.active) {
        conversation.addUnread(added.filter((l) => this.#arrivedAway(conversation, l) && !this.#identity.isMe(l.from)).length);
      }
    }
  }

  /** Whether a stored line came while we were away: compared within its room, or among private entries by (ts, id). */
  #arrivedAway(conversation: Conversation, line: Position): boolean {
    if (conversation.kind === 'private') return this.#unreadPrivateAfter !== null && later(line, this.#unreadPrivateAfter);
    const above = this.#unreadAbove.get(conversation.name);
    return above !== undefined && line.id > above;
  }

  onMessage(message: ServerMessageOf<'message'>): void {
    this.#seen(message);
    const conversation = this.room(message.room);
    if (!conversation) return;
    this.#appendLive(conversation, messageLine(message));
  }

  onPrivate(message: ServerMessageOf<'private'>): void {
    this.#seen({ ...message, kind: 'private' });
    const peer = this.#identity.isMe(message.from) ? message.to : message.from;
    this.#appendLive(this.privateWith(peer, true), messageLine(message));
  }

  onFileOffer(offer: ServerMessageOf<'file-offer'>): void {
    this.#seen(offer);
    // An offer names its room or its recipient; without either it went to the current room.
    const conversation = this.#conversationFor(offer, true) ?? (offer.room === undefined && offer.to === undefined ? this.active : null);
    if (!conversation) return;
    const { id, from, transport, ts, name, size, mime } = offer;
    this.#appendLive(conversation, { kind: 'file', key: `m${id}`, id, from, transport, ts, name, size, mime });
  }

  onRoster(roster: ServerMessageOf<'roster'>): void {
    this.ensureRoom(roster.room).setMembers(roster.members);
  }

  onPresence(presence: ServerMessageOf<'presence'>): void {
    const { room, event, member } = presence;
    const isMe = member.id === this.#identity.memberId;
    let conversation = this.room(room);
    if (event === 'leave' && isMe) {
      if (conversation) this.remove(conversation);
      return;
    }
    if (!conversation) {
      if (!(event === 'join' && isMe)) return;
      conversation = this.ensureRoom(room);
    }
    if (event === 'leave') conversation.removeMember(member.id);
    else conversation.upsertMember(member);
    // Keep a private conversation with a renamed member under the new name.
    if (event === 'rename' && presence.previousName !== undefined) {
      this.privateWith(presence.previousName, false)?.rename(member.name);
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
  }

  onNotice(notice: ServerMessageOf<'notice'>): void {
    const scope = notice.room !== undefined ? 'room' : notice.private ? 'private' : 'all';
    const line: ChatLine = { kind: 'notice', key: eventKey(), ts: notice.ts, text: notice.text, scope };
    if (notice.code !== undefined) line.code = notice.code;
    const target = (notice.room !== undefined ? this.room(notice.room) : null) ?? this.active;
    if (!target) return;
    target.append(line);
    if (target !== this.active) target.addUnread(1);
  }

  /** A note from the page itself (connection lost, reconnected) in every conversation. */
  noteEverywhere(text: string): void {
    for (const conversation of this.#list) {
      conversation.append({ kind: 'notice', key: eventKey(), ts: Date.now(), text, scope: 'local' });
    }
  }

  /** Forgets every conversation (signed out). */
  reset(): void {
    this.#list = [];
    this.#activeKey = null;
    this.#lastRoomKey = null;
    this.#lastSeen.clear();
    this.#lastPrivate = null;
    this.#unreadAbove.clear();
    this.#unreadPrivateAfter = null;
  }

  #conversationFor(entry: { kind?: string; room?: string | undefined; to?: string | undefined; from: string }, openPrivate: boolean): Conversation | undefined {
    if (entry.kind === 'private' || entry.to !== undefined) {
      const peer = this.#identity.isMe(entry.from) ? (entry.to ?? entry.from) : entry.from;
      return this.privateWith(peer, openPrivate);
    }
    return entry.room !== undefined ? this.room(entry.room) : undefined;
  }

  #appendLive(conversation: Conversation, line: StoredLine): void {
    if (!conversation.append(line)) return;
    if (conversation !== this.active && !this.#identity.isMe(line.from)) conversation.addUnread(1);
  }

  /** Notes a stored entry's id: in its room, or as the newest private one. */
  #seen(entry: { kind?: string; id: number; ts: number; room?: string | undefined; to?: string | undefined }): void {
    if (isPrivate(entry)) {
      if (this.#lastPrivate === null || later(entry, this.#lastPrivate)) this.#lastPrivate = { ts: entry.ts, id: entry.id };
    } else if (entry.room !== undefined && entry.id > this.lastSeenIn(entry.room)) this.#lastSeen.set(entry.room, entry.id);
  }
}
