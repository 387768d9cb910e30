// The chat as the components see it. It wires the pieces together: the session (session.svelte.ts),
// the conversations and their messages (conversations.svelte.ts), history pages
// (history-sync.ts) and requests matched by ref (requests.ts); it also keeps the server's room
// list (room-directory.svelte.ts), its limits and the error notes shown above the composer.
import { NAME_RULE, isValidName, utf8Length, type ServerMessage, type ServerMessageOf } from '@switchboard/protocol';
import { base64FromBytes } from './byte-text.js';
import type { GatewayConnection } from './connection.svelte.js';
import type { Conversation } from './conversation.svelte.js';
import { Conversations } from './conversations.svelte.js';
import { ErrorNotes, type ChatErrorNote } from './error-notes.svelte.js';
import { HistorySync } from './history-sync.js';
import type { ErrorReply, Reply, Request, RequestHandlers, RequestTracker } from './requests.js';
import { fetchServerConfig, type ServerConfig } from './rest-client.js';
import { RoomDirectory, type RoomSummary } from './room-directory.svelte.js';
import { Session, type Role, type SessionPhase, type SessionProblem } from './session.svelte.js';

export type { Role, SessionPhase, SessionProblem } from './session.svelte.js';
export type { RoomSummary } from './room-directory.svelte.js';
export type { ChatErrorNote } from './error-notes.svelte.js';

export class ChatState {
  #requests: RequestTracker;
  #session: Session;
  #conversations: Conversations;
  #history: HistorySync;
  #directory: RoomDirectory;
  #errors = new ErrorNotes();
  #config = $state.raw<ServerConfig | null>(null);
  #unsubscribe: (() => void)[];

  constructor(connection: GatewayConnection, requests: RequestTracker) {
    this.#requests = requests;
    this.#session = new Session(connection, requests, {
      resumePoint: () => {
        const active = this.#conversations.active;
        const room = active?.kind === 'room' ? active : this.#conversations.rooms[0];
        this.#conversations.markResumed();
        // The hello's `since` covers its own room only: the others are caught up after the welcome.
        return { room: room?.name, since: room === undefined ? 0 : this.#conversations.lastSeenIn(room.name) };
      },
      welcomed: (welcome, resumed) => this.#onWelcome(welcome, resumed),
      helloHistory: (history, purpose, room) => this.#history.apply(history, { purpose, scoped: this.#conversations.room(room), from: { room } }),
      note: (text) => this.#conversations.noteEverywhere(text),
      cleared: () => this.#clear(),
    });
    this.#conversations = new Conversations(this.#session);
    this.#history = new HistorySync(requests, this.#conversations, this.#errors.report);
    this.#directory = new RoomDirectory(requests, this.#errors.report);
    this.#unsubscribe = [connection.onMessage((message) => this.#handle(message)), requests.onUnmatched((message) => this.#onUnmatched(message))];
    // A reloaded tab comes back as the identity it was (its saved resume token).
    this.#session.resumeSaved();
  }

  get phase(): SessionPhase {
    return this.#session.phase;
  }
  /** Your name as the server confirmed it. */
  get name(): string | null {
    return this.#session.name;
  }
  /** Your connection's id (the REST API's client id). */
  get memberId(): string | null {
    return this.#session.memberId;
  }
  get joinError(): SessionProblem | null {
    return this.#session.joinError;
  }
  /** Joining with this tab's saved token (after a reload). */
  get resuming(): boolean {
    return this.#session.resuming;
  }
  /** Registering a name (POST /api/accounts) before signing in. */
  get registering(): boolean {
    return this.#session.registering;
  }
  /** The name this tab's saved token belongs to. */
  get savedName(): string | null {
    return this.#session.savedName;
  }
  /** Signed in as a registered account. */
  get account(): boolean {
    return this.#session.account;
  }
  /** `admin` for an operator. */
  get role(): Role | null {
    return this.#session.role;
  }
  /** This session's resume token: over REST it reads what this member may read (kept files). */
  get sessionToken(): string | null {
    return this.#session.token;
  }
  /** An operator's session token, which the admin API accepts in place of the admin token. */
  get operatorToken(): string | null {
    return this.#session.role === 'admin' ? this.#session.token : null;
  }
  /** Set when the server ended the session for good (kicked); cleared by signing in again. */
  get ended(): SessionProblem | null {
    return this.#session.ended;
  }
  get conversations(): readonly Conversation[] {
    return this.#conversations.all;
  }
  get roomConversations(): Conversation[] {
    return this.#conversations.rooms;
  }
  get active(): Conversation | null {
    return this.#conversations.active;
  }
  /** The active room, or the room last active while a private conversation is open. */
  get currentRoom(): Conversation | null {
    return this.#conversations.currentRoom;
  }
  /** Rooms on the server, from the last rooms frame. */
  get rooms(): readonly RoomSummary[] {
    return this.#directory.rooms;
  }
  get errors(): readonly ChatErrorNote[] {
    return this.#errors.notes;
  }
  get totalUnread(): number {
    return this.#conversations.totalUnread;
  }
  get maxTextBytes(): number {
    return this.#config?.maxTextBytes ?? 65_536;
  }
  /** The largest file the server accepts: GET /api/config, else the welcome's figure. */
  get maxFileBytes(): number | null {
    return this.#config?.maxFileBytes ?? this.#session.maxFileBytes;
  }

  isMe(name: string): boolean {
    return this.#session.isMe(name);
  }

  /** Loads the server's limits. Failure is not fatal: the welcome carries the file limit too. */
  async loadConfig(): Promise<void> {
    try {
      this.#config = await fetchServerConfig();
    } catch (error) {
      console.warn('Switchboard: could not load /api/config', error);
    }
  }

  /** Starts a session under `name` (with the account's password, if given), or retries one the server refused. */
  signIn(name: string, password = ''): void {
    this.#session.signIn(name, password);
  }

  /** Registers the name with a password, then signs in. */
  register(name: string, password: string): Promise<boolean> {
    return this.#session.register(name, password);
  }

  /** Stops a join under way (this tab's saved token stays). */
  cancelJoin(): void {
    this.#session.cancel();
  }

  /** Ends the session and forgets its conversations and this tab's resume token. */
  signOut(): void {
    this.#session.signOut();
  }

  dispose(): void {
    for (const off of this.#unsubscribe) off();
    this.#session.dispose();
    this.#directory.stop();
  }

  activate(key: string): void {
    this.#conversations.activate(key);
  }

  /** Joins (or creates) a room and switches to it. */
  joinRoom(room: string): boolean {
    const name = room.trim();
    if (!isValidName(name)) {
      this.#errors.report('ROOM_INVALID', `"${name}" is not a valid room name: use ${NAME_RULE}.`);
      return false;
    }
    const existing = this.#conversations.room(name);
    if (existing) {
      this.activate(existing.key);
      return true;
    }
    return this.#join(name, true);
  }

  leaveRoom(room: string): void {
    this.#send({ type: 'leave', room });
  }

  /** Opens (or switches to) the private conversation with a member. */
  openPrivate(name: string): void {
    if (this.isMe(name)) return;
    const conversation = this.#conversations.privateWith(name, true);
    this.activate(conversation.key);
    if (conversation.oldestId === undefined) this.loadOlder(conversation);
  }

  closePrivate(key: string): void {
    const conversation = this.#conversations.privates.find((c) => c.key === key);
    if (conversation) this.#conversations.remove(conversation);
  }

  /** Sends text to the active room or private conversation. */
  sendText(text: string): boolean {
    const conversation = this.active;
    if (!conversation || text.trim().length === 0) return false;
    const bytes = utf8Length(text);
    if (bytes > this.maxTextBytes) {
      this.#errors.report('TEXT_TOO_LONG', `The message is ${bytes} bytes; the server accepts at most ${this.maxTextBytes}.`);
      return false;
    }
    // The server's answer is our own copy of the message, which shows it like anyone else's.
    return conversation.kind === 'room'
      ? this.#send({ type: 'message', room: conversation.name, text })
      : this.#send({ type: 'private', to: conversation.name, text });
  }

  /**
   * Sends exact bytes (typed as hex or escapes) to the active room or private conversation,
   * as base64 `data` with an empty text: the gateway sets the text (PROTOCOL.md §4), and a
   * device gets exactly these bytes.
   */
  sendBytes(bytes: Uint8Array): boolean {
    const conversation = this.active;
    if (!conversation || bytes.length === 0) return false;
    if (bytes.length > this.maxTextBytes) {
      this.#errors.report('TEXT_TOO_LONG', `The message is ${bytes.length} bytes; the server accepts at most ${this.maxTextBytes}.`);
      return false;
    }
    const data = base64FromBytes(bytes);
    return conversation.kind === 'room'
      ? this.#send({ type: 'message', room: conversation.name, text: '', data })
      : this.#send({ type: 'private', to: conversation.name, text: '', data });
  }

  /** Asks for the page of messages before the oldest one shown. */
  loadOlder(conversation: Conversation): void {
    this.#history.loadOlder(conversation);
  }

  dismissError(key: string): void {
    this.#errors.dismiss(key);
  }

  // -------------------------------------------------------------------------------------

  /** Sends a request whose failure is shown as an error note. False when nothing was sent. */
  #send(request: Request, handlers: RequestHandlers = {}): boolean {
    const ref = this.#requests.send(request, {
      error: (error) => this.#errors.report(error.code, error.message),
      ...handlers,
    });
    if (ref === null) {
      this.#errors.report('NOT_CONNECTED', 'Not connected to the gateway; nothing was sent.');
      return false;
    }
    return true;
  }

  /** Joins a room: the answer is its roster, then its newest history page. */
  #join(room: string, activate: boolean): boolean {
    return this.#send(
      { type: 'join', room },
      {
        reply: (message: Reply) => {
          if (message.type === 'roster') {
            const conversation = this.#conversations.ensureRoom(room);
            if (activate) this.activate(conversation.key);
            return false;
          }
          if (message.type !== 'history') return false;
          this.#history.apply(message, { purpose: 'latest', scoped: this.#conversations.room(room) });
          return true;
        },
      },
    );
  }

  #handle(message: ServerMessage): void {
    switch (message.type) {
      case 'message':
        return this.#conversations.onMessage(message);
      case 'private':
        return this.#conversations.onPrivate(message);
      case 'file-offer':
        return this.#conversations.onFileOffer(message);
      case 'presence':
        return this.#onPresence(message);
      case 'roster':
        return this.#conversations.onRoster(message);
      case 'notice':
        this.#conversations.onNotice(message);
        // The same identity signed in elsewhere (another tab): reconnecting would take it back.
        // SESSION_REVOKED: a password reset or a deleted account; the saved token is dead too.
        // NAME_RECLAIMED: our guest name's registered owner signed in.
        if (message.code === 'KICKED' || message.code === 'SESSION_REPLACED' || message.code === 'SESSION_REVOKED' || message.code === 'NAME_RECLAIMED') {
          this.#end({ code: message.code, message: message.text });
        }
        return;
      case 'rooms':
        return this.#directory.onRooms(message);
      case 'history':
        // A page with a ref belongs to its request (the tracker hands it over).
        if (message.ref === undefined) this.#history.applyUnrequested(message);
        return;
      default:
        // welcome: the session's hello request; error: see #onUnmatched; text lines (we
        // said hello, so none come), file data and the rest: not chat.
        return;
    }
  }

  /** Errors that answer none of our pending requests, and late pages of timed-out requests. */
  #onUnmatched(message: ErrorReply | Reply): void {
    if (message.type === 'history') {
      this.#history.applyUnrequested(message);
      return;
    }
    if (message.type !== 'error') return; // Other frames were handled as they came.
    // BANNED is fatal and comes without a ref, even when it answers the hello.
    if (message.code === 'KICKED' || message.code === 'BANNED') {
      this.#end({ code: message.code, message: message.message });
      return;
    }
    this.#errors.report(message.code, message.message);
  }

  #onWelcome(welcome: ServerMessageOf<'welcome'>, resumed: boolean): void {
    const before = resumed ? this.#conversations.rooms.map((c) => c.name) : [];
    for (const room of welcome.rooms) this.#conversations.ensureRoom(room);
    const current = this.#conversations.ensureRoom(welcome.room);
    if (resumed) {
      // Each other room from its own last id (ids of two rooms do not compare; the hello's
      // `since` covered its room), asked after its join so the server counts it as ours.
      for (const room of before) {
        if (room === welcome.room) continue;
        if (!welcome.rooms.includes(room)) this.#join(room, false);
        const after = this.#conversations.lastSeenIn(room);
        if (after > 0) this.#history.catchUp(after, { room });
      }
      // Private messages sent while we were away: after the last one seen, or the newest page.
      const afterPrivate = this.#conversations.lastPrivateId;
      if (afterPrivate > 0) this.#history.catchUp(afterPrivate, { private: true });
      else this.#history.loadPrivate();
      // The gateway may have restarted with other limits.
      void this.loadConfig();
    } else {
      this.activate(current.key);
      // A new session (a reload, another tab) rebuilds its private conversations from history.
      this.#history.loadPrivate();
    }
    this.#directory.refresh();
    this.#directory.startPolling();
  }

  #onPresence(presence: ServerMessageOf<'presence'>): void {
    this.#conversations.onPresence(presence);
    const isMe = presence.member.id === this.#session.memberId;
    if (isMe && presence.event === 'leave') {
      this.#directory.refresh();
      return;
    }
    if (isMe && presence.event === 'rename') this.#session.renamed(presence.member.name);
    if (presence.event !== 'rename') this.#directory.refreshSoon();
  }

  #end(problem: SessionProblem): void {
    this.#session.end(problem);
    this.#directory.stop();
  }

  /** The session ended: forget everything it showed. */
  #clear(): void {
    this.#directory.stop(true);
    this.#conversations.reset();
    this.#errors.clear();
  }
}
