// The session with the gateway (PROTOCOL.md §3): hello and welcome, signing in and out, and
// resuming after the connection drops. A resumed hello names the room we were in and `since`,
// the last stored id seen, so the server's first history is what we missed.
import {
  DEFAULT_ROOM,
  NAME_RULE,
  PROTOCOL_VERSION,
  isValidName,
  type ClientMessageOf,
  type ServerMessageOf,
} from '@switchboard/protocol';
import type { GatewayConnection } from './connection.svelte.js';
import type { Identity } from './conversations.svelte.js';
import type { RequestTracker } from './requests.js';

export type SessionPhase = 'signed-out' | 'joining' | 'active';

export interface SessionProblem {
  code: string;
  message: string;
}

/** What the rest of the chat does at the session's turning points. */
export interface SessionHooks {
  /** Where a resumed session picks up: the room to say hello in, and the last stored id seen (0: none). */
  resumePoint(): { room: string | undefined; since: number };
  /** The server welcomed us; `resumed` after a drop (the conversations are still there). */
  welcomed(welcome: ServerMessageOf<'welcome'>, resumed: boolean): void;
  /** The history after the welcome: the room's newest page, or what was missed since `since`. */
  helloHistory(history: ServerMessageOf<'history'>, purpose: 'latest' | 'after', room: string): void;
  /** A line from the page itself in every conversation (connection lost, reconnected). */
  note(text: string): void;
  /** The session is over: forget what it showed. */
  cleared(): void;
}

type Hello = Omit<ClientMessageOf<'hello'>, 'ref'>;

/** A resumed hello refused with these is tried again: our old connection may still be on the server. */
const RETRY_CODES = new Set(['NAME_TAKEN', 'NO_ANSWER']);
const HELLO_RETRY_MS = 2000;
const HELLO_RETRIES = 5;
const HELLO_TIMEOUT_MS = 15_000;

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export class Session implements Identity {
  #connection: GatewayConnection;
  #requests: RequestTracker;
  #hooks: SessionHooks;
  #phase = $state<SessionPhase>('signed-out');
  #requestedName: string | null = null;
  #name = $state<string | null>(null);
  #memberId = $state<string | null>(null);
  #joinError = $state.raw<SessionProblem | null>(null);
  #ended = $state.raw<SessionProblem | null>(null);
  #maxFileBytes = $state<number | null>(null);
  #helloRef: string | null = null;
  #helloRetries = 0;
  #helloTimer: ReturnType<typeof setTimeout> | null = null;
  #outage = false;
  #unsubscribe: (() => void)[];

  constructor(connection: GatewayConnection, requests: RequestTracker, hooks: SessionHooks) {
    this.#connection = connection;
    this.#requests = requests;
    this.#hooks = hooks;
    this.#unsubscribe = [
      connection.onOpen(() => {
        if (this.#requestedName !== null) this.#sendHello();
      }),
      connection.onClose(({ willReconnect }) => this.#onClose(willReconnect)),
    ];
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
  get joinError(): SessionProblem | null {
    return this.#joinError;
  }
  /** Set when the server ended the session for good (kicked); cleared by signing in again. */
  get ended(): SessionProblem | null {
    return this.#ended;
  }
  /** The largest file the server accepts, from the last welcome. */
  get maxFileBytes(): number | null {
    return this.#maxFileBytes;
  }

  isMe(name: string): boolean {
    return this.#name !== null && sameName(name, this.#name);
  }

  /** Starts a session under `name`, or retries one the server refused. */
  signIn(name: string): void {
    const trimmed = name.trim();
    if (!isValidName(trimmed)) {
      this.#joinError = { code: 'NAME_INVALID', message: `Names are ${NAME_RULE} (no spaces).` };
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

  /** The server confirmed a new name for you (your own presence rename). */
  renamed(name: string): void {
    this.#name = name;
    this.#requestedName = name;
  }

  /** The server ended the session for good (kicked): stay on the page, do not reconnect. */
  end(problem: SessionProblem): void {
    this.#connection.stopReconnecting(problem.message);
    this.#ended = problem;
    this.#clearHelloTimer();
  }

  dispose(): void {
    for (const off of this.#unsubscribe) off();
    this.#clearHelloTimer();
  }

  #sendHello(): void {
    const name = this.#requestedName;
    if (name === null) return;
    this.#clearHelloTimer();
    if (this.#helloRef !== null) this.#requests.forget(this.#helloRef);
    const hello: Hello = { type: 'hello', v: PROTOCOL_VERSION, name };
    let room: string = DEFAULT_ROOM;
    let since = 0;
    const resumed = this.#phase === 'active';
    if (resumed) {
      // Coming back after a drop: rejoin where we were and get what we missed.
      const point = this.#hooks.resumePoint();
      if (point.room !== undefined) hello.room = room = point.room;
      if (point.since > 0) hello.since = since = point.since;
    }
    let welcomed = false;
    this.#helloRef = this.#requests.send(hello, {
      // The welcome, then (carrying the same ref) the room's roster and history.
      reply: (message) => {
        if (message.type === 'welcome') {
          welcomed = true;
          this.#onWelcome(message, resumed);
          return false;
        }
        if (message.type !== 'history') return false;
        this.#hooks.helloHistory(message, since > 0 ? 'after' : 'latest', room);
        return true;
      },
      error: (error) => this.#onHelloFailed(error),
      lost: (reason) => {
        // After the welcome a missing history is no failure; a closed socket sends hello again on open.
        if (welcomed || reason === 'closed') return;
        this.#onHelloFailed({ code: 'NO_ANSWER', message: 'The gateway did not answer the hello.' });
      },
      timeoutMs: HELLO_TIMEOUT_MS,
    });
  }

  #onWelcome(welcome: ServerMessageOf<'welcome'>, resumed: boolean): void {
    this.#helloRetries = 0;
    this.#phase = 'active';
    this.#name = welcome.name;
    this.#requestedName = welcome.name;
    this.#memberId = welcome.id;
    this.#joinError = null;
    this.#maxFileBytes = welcome.maxFileBytes;
    this.#connection.resetBackoff();
    this.#hooks.welcomed(welcome, resumed);
    if (resumed && this.#outage) this.#hooks.note('Reconnected.');
    this.#outage = false;
  }

  #onHelloFailed(error: SessionProblem): void {
    this.#helloRef = null;
    if (this.#phase === 'active' && RETRY_CODES.has(error.code) && this.#helloRetries < HELLO_RETRIES) {
      // Our old connection may not be gone from the server yet; try again shortly.
      this.#helloRetries++;
      this.#helloTimer = setTimeout(() => {
        this.#helloTimer = null;
        this.#sendHello();
      }, HELLO_RETRY_MS);
      return;
    }
    this.#requestedName = null;
    this.#connection.close();
    this.#reset();
    this.#joinError = { code: error.code, message: error.message };
  }

  #onClose(willReconnect: boolean): void {
    this.#helloRef = null;
    if (this.#phase === 'active' && willReconnect && !this.#outage) {
      this.#outage = true;
      this.#hooks.note('Connection to the gateway lost; reconnecting…');
    }
  }

  #clearHelloTimer(): void {
    if (this.#helloTimer !== null) clearTimeout(this.#helloTimer);
    this.#helloTimer = null;
  }

  #reset(): void {
    this.#clearHelloTimer();
    this.#phase = 'signed-out';
    this.#name = null;
    this.#memberId = null;
    this.#ended = null;
    this.#maxFileBytes = null;
    this.#helloRef = null;
    this.#outage = false;
    this.#hooks.cleared();
  }
}
