// The session with the gateway (PROTOCOL.md §3): hello and welcome, signing in (as a guest,
// with a password, or registering first) and out, and resuming. Every welcome carries a resume
// token; the page says `hello {token}` after a drop and after a reload, so it stays the same
// identity with the same private history (docs/identity-and-security.md, "Identity"). A resumed hello names the room
// we were in and `since`, the last stored id seen, so the server's first history is what we missed.
import { DEFAULT_ROOM, NAME_RULE, PROTOCOL_VERSION, isValidName, type ClientMessageOf, type ServerMessageOf } from '@switchboard/protocol';
import type { GatewayConnection } from './connection.svelte.js';
import type { Identity } from './conversations.svelte.js';
import type { RequestTracker } from './requests.js';
import { ApiError, requestJson } from './rest-client.js';

export type SessionPhase = 'signed-out' | 'joining' | 'active';

/** How a sign-in was attempted: the same code means different things for each. */
export type SignInMethod = 'token' | 'password' | 'guest' | 'register';

export interface SessionProblem {
  code: string;
  /** The server's words (or the page's, for problems found before asking). */
  message: string;
  /** What was being tried when it went wrong, if it was a sign-in. */
  via?: SignInMethod;
}

export type Role = NonNullable<ServerMessageOf<'welcome'>['role']>;

/** The password rule of POST /api/accounts. */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

/** What to do about a problem on the join screen, in the page's words (the server's follow). */
export function joinAdvice(problem: SessionProblem): string | null {
  switch (problem.code) {
    case 'AUTH_REQUIRED':
      return 'This name is registered: enter its password.';
    case 'AUTH_FAILED':
      return problem.via === 'token'
        ? 'Your saved session has ended (expired, password reset or account deleted): join again.'
        : 'Wrong password for this name.';
    case 'AUTH_RATE_LIMITED':
      return 'Too many failed sign-ins: wait a minute, then try again.';
    case 'BANNED':
      return 'You are banned from this gateway.';
    case 'REGISTRATION_CLOSED':
      return 'This gateway takes no new accounts here: ask an operator for one.';
    case 'NAME_TAKEN':
      return problem.via === 'register' ? 'This name is registered already: sign in with its password.' : 'Someone connected uses this name now: pick another.';
    default:
      return null;
  }
}

/**
 * The resume token, in sessionStorage: it survives a reload of this tab, and a second tab is a
 * second member (with localStorage two tabs would share one identity and close each other with
 * SESSION_REPLACED). It is also a bearer credential (an operator's opens the admin API), so it
 * does not outlive the tab on disk.
 */
const RESUME_KEY = 'switchboard.resume';

interface StoredResume {
  token: string;
  name: string;
}

function readResume(): StoredResume | null {
  try {
    const raw = sessionStorage.getItem(RESUME_KEY);
    if (raw === null) return null;
    const value = JSON.parse(raw) as Partial<StoredResume> | null;
    return typeof value?.token === 'string' && typeof value.name === 'string' ? { token: value.token, name: value.name } : null;
  } catch {
    return null; // Storage disabled or a damaged entry: the page then starts signed out.
  }
}

function writeResume(value: StoredResume | null): void {
  try {
    if (value === null) sessionStorage.removeItem(RESUME_KEY);
    else sessionStorage.setItem(RESUME_KEY, JSON.stringify(value));
  } catch {
    // Without storage the token still serves reconnects, just not reloads.
  }
}

/** What the next hello says. A password is held only until its welcome (or refusal). */
type Credentials = { kind: 'token'; token: string; name: string } | { kind: 'password'; name: string; password: string } | { kind: 'guest'; name: string };

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
  #credentials: Credentials | null = null;
  /** This tab's saved token and its name, as in sessionStorage. */
  #saved = $state.raw<StoredResume | null>(readResume());
  #resuming = $state(false);
  #registering = $state(false);
  #name = $state<string | null>(null);
  #token = $state<string | null>(null);
  #account = $state(false);
  #role = $state<Role | null>(null);
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
        if (this.#credentials !== null) this.#sendHello();
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
  /** Joining with the token saved by this tab (after a reload), not with a typed name. */
  get resuming(): boolean {
    return this.#resuming;
  }
  /** POST /api/accounts is under way. */
  get registering(): boolean {
    return this.#registering;
  }
  /** The name this tab's saved token belongs to, if it has one. */
  get savedName(): string | null {
    return this.#saved?.name ?? null;
  }
  /** The resume token of this session (also the operator's credential for the REST API). */
  get token(): string | null {
    return this.#token;
  }
  /** Signed in as a registered account. */
  get account(): boolean {
    return this.#account;
  }
  /** `admin` for an operator. */
  get role(): Role | null {
    return this.#role;
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

  /**
   * Starts a session under `name`, or retries one the server refused. With a password it signs
   * in to that account; without one it uses this tab's token when it belongs to that name (the
   * same identity again), and otherwise joins as a new guest.
   */
  signIn(name: string, password = ''): void {
    const trimmed = name.trim();
    if (!isValidName(trimmed)) {
      this.#joinError = { code: 'NAME_INVALID', message: `Names are ${NAME_RULE} (no spaces).` };
      return;
    }
    const saved = this.#saved;
    if (password !== '') this.#credentials = { kind: 'password', name: trimmed, password };
    else if (saved !== null && sameName(saved.name, trimmed)) this.#credentials = { kind: 'token', ...saved };
    else this.#credentials = { kind: 'guest', name: trimmed };
    this.#begin(false);
  }

  /** A reloaded tab with a saved token: join as that identity again. False when there is none. */
  resumeSaved(): boolean {
    const saved = this.#saved;
    if (saved === null || this.#phase !== 'signed-out') return false;
    this.#credentials = { kind: 'token', ...saved };
    this.#begin(true);
    return true;
  }

  /** Registers `name` with `password` (POST /api/accounts), then signs in with them. */
  async register(name: string, password: string): Promise<boolean> {
    const trimmed = name.trim();
    if (!isValidName(trimmed)) {
      this.#joinError = { code: 'NAME_INVALID', message: `Names are ${NAME_RULE} (no spaces).`, via: 'register' };
      return false;
    }
    if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
      this.#joinError = { code: 'PASSWORD_INVALID', message: `A password is ${PASSWORD_MIN} to ${PASSWORD_MAX} characters.`, via: 'register' };
      return false;
    }
    this.#joinError = null;
    this.#registering = true;
    try {
      await requestJson('POST', '/api/accounts', { body: { name: trimmed, password } });
    } catch (error) {
      const code = error instanceof ApiError ? error.code : 'INTERNAL';
      this.#joinError = { code, message: error instanceof Error ? error.message : String(error), via: 'register' };
      return false;
    } finally {
      this.#registering = false;
    }
    this.signIn(trimmed, password);
    return true;
  }

  /** Stops a join under way; unlike signOut, this tab's saved token stays for a later join. */
  cancel(): void {
    this.#credentials = null;
    this.#connection.close('Cancelled.');
    this.#reset();
  }

  /** Ends the session, forgets its conversations and this tab's token, which the server revokes too. */
  signOut(): void {
    const token = this.#token ?? this.#saved?.token;
    // Best effort: a gateway that cannot be reached keeps the token until it expires.
    if (token !== undefined) requestJson('POST', '/api/sessions/sign-out', { token }).catch(() => undefined);
    this.#credentials = null;
    this.#save(null);
    this.#connection.close('Signed out.');
    this.#reset();
  }

  /** The server confirmed a new name for you (your own presence rename). */
  renamed(name: string): void {
    this.#name = name;
    const credentials = this.#credentials;
    if (credentials !== null) this.#credentials = { ...credentials, name };
    if (credentials?.kind === 'token') this.#save({ token: credentials.token, name });
  }

  /**
   * The server ended the session for good (kicked, banned, signed in elsewhere): stay on the
   * page, do not reconnect. Before a welcome (a banned address is refused before its hello is
   * read) it is a failed join instead.
   */
  end(problem: SessionProblem): void {
    // Its tokens were revoked with it: a reload would only be refused.
    if (problem.code === 'SESSION_REVOKED') this.#save(null);
    if (this.#phase !== 'active') {
      this.#fail(problem);
      return;
    }
    this.#connection.stopReconnecting(problem.message);
    this.#ended = problem;
    this.#clearHelloTimer();
  }

  dispose(): void {
    for (const off of this.#unsubscribe) off();
    this.#clearHelloTimer();
  }

  #save(value: StoredResume | null): void {
    this.#saved = value;
    writeResume(value);
  }

  #begin(resuming: boolean): void {
    this.#resuming = resuming;
    this.#joinError = null;
    this.#ended = null;
    this.#helloRetries = 0;
    if (this.#phase === 'signed-out') this.#phase = 'joining';
    if (this.#connection.status === 'open') this.#sendHello();
    else this.#connection.connect();
  }

  #sendHello(): void {
    const credentials = this.#credentials;
    if (credentials === null) return;
    this.#clearHelloTimer();
    if (this.#helloRef !== null) this.#requests.forget(this.#helloRef);
    const hello: Hello = { type: 'hello', v: PROTOCOL_VERSION };
    if (credentials.kind === 'token') hello.token = credentials.token;
    else hello.name = credentials.name;
    if (credentials.kind === 'password') hello.password = credentials.password;
    const via = credentials.kind;
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
          this.#onWelcome(message, resumed, via);
          return false;
        }
        if (message.type !== 'history') return false;
        this.#hooks.helloHistory(message, since > 0 ? 'after' : 'latest', room);
        return true;
      },
      error: (error) => this.#onHelloFailed({ code: error.code, message: error.message, via }),
      lost: (reason) => {
        // After the welcome a missing history is no failure; a closed socket sends hello again on open.
        if (welcomed || reason === 'closed') return;
        this.#onHelloFailed({ code: 'NO_ANSWER', message: 'The gateway did not answer the hello.', via });
      },
      timeoutMs: HELLO_TIMEOUT_MS,
    });
  }

  #onWelcome(welcome: ServerMessageOf<'welcome'>, resumed: boolean, via: SignInMethod): void {
    this.#helloRetries = 0;
    this.#phase = 'active';
    this.#resuming = false;
    this.#name = welcome.name;
    this.#memberId = welcome.id;
    // From now on (reconnects, reloads) this identity is its token; the password is dropped.
    // A gateway without identities sends no token: then the name is all there is.
    const token = welcome.token ?? null;
    this.#credentials = token === null ? { kind: 'guest', name: welcome.name } : { kind: 'token', token, name: welcome.name };
    this.#save(token === null ? null : { token, name: welcome.name });
    this.#token = token;
    this.#account = welcome.account === true;
    this.#role = welcome.role ?? null;
    this.#joinError = null;
    this.#maxFileBytes = welcome.maxFileBytes;
    this.#connection.resetBackoff();
    this.#hooks.welcomed(welcome, resumed);
    // The gateway takes a password for a name nobody registered as a plain guest sign-in.
    if (via === 'password' && welcome.account !== true) {
      this.#hooks.note(`“${welcome.name}” is not a registered name, so you joined as a guest: register it to keep it.`);
    }
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
    // A token the server no longer knows (expired, password reset, account deleted) is useless.
    if (error.via === 'token' && error.code === 'AUTH_FAILED') this.#save(null);
    this.#fail(error);
  }

  /** Back to the join screen with the problem shown; the saved token (if any) stays. */
  #fail(problem: SessionProblem): void {
    this.#credentials = null;
    this.#connection.close();
    this.#reset();
    this.#joinError = problem;
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
    this.#resuming = false;
    this.#name = null;
    this.#token = null;
    this.#account = false;
    this.#role = null;
    this.#memberId = null;
    this.#ended = null;
    this.#maxFileBytes = null;
    this.#helloRef = null;
    this.#outage = false;
    this.#hooks.cleared();
  }
}
