// The admin page's connection to the gateway's REST control API: which credential calls carry
// (a signed-in operator's session token, else the admin token kept in sessionStorage for this
// tab only), what is in flight, and the one line that says how the last action went.
import { ApiError, requestJson, type HttpMethod } from '../rest-client.js';

const TOKEN_KEY = 'switchboard.adminToken';

export interface AdminFailure {
  /** What the user tried, e.g. "Start listener". */
  action: string;
  code: string;
  message: string;
}

export type Outcome<T> = { ok: true; action: string; value: T } | { ok: false; failure: AdminFailure };

function readToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // Storage can be disabled; the token then lasts until reload.
  }
}

function writeToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // See readToken.
  }
}

/** What the page shows of the API: whether it must ask for the token, what is in flight, how the last action went. */
export interface AdminStatus {
  /** A call answered 401: the page asks for the token (once). */
  needsToken: boolean;
  /** The action in flight, if any (buttons disable while it runs). */
  busy: string | null;
  /** The last failed call, with the gateway's code. */
  failure: AdminFailure | null;
  /** A short line about the last successful action. */
  result: string | null;
}

export class AdminApi {
  #adminToken = $state<string | null>(readToken());
  #sessionToken = $state<string | null>(null);
  #status = $state.raw<AdminStatus>({ needsToken: false, busy: null, failure: null, result: null });
  /** Called when a new admin token is saved: what was refused can be asked again. */
  onTokenSaved: () => void = () => {};

  /** The token calls send (the device console's REST calls and raw pipes send it too). */
  get token(): string | null {
    return this.#sessionToken ?? this.#adminToken;
  }
  /** Calls go out with the signed-in operator's session token (no admin token needed). */
  get asOperator(): boolean {
    return this.#sessionToken !== null;
  }
  /** An admin token is saved for this tab. */
  get hasToken(): boolean {
    return this.#adminToken !== null;
  }
  get status(): AdminStatus {
    return this.#status;
  }

  /**
   * The session token of an operator signed in on the page (null otherwise). While set, it is
   * the credential every call sends, and the page asks for no admin token.
   */
  useSessionToken(token: string | null): void {
    if (token === this.#sessionToken) return;
    this.#sessionToken = token;
    if (token === null) return;
    const code = this.#status.failure?.code;
    this.#set({ needsToken: false });
    if (code === 'UNAUTHORIZED' || code === 'FORBIDDEN') this.dismissFailure();
  }

  setToken(token: string): void {
    const trimmed = token.trim();
    this.#adminToken = trimmed === '' ? null : trimmed;
    writeToken(this.#adminToken);
    this.#set({ needsToken: false, failure: null, result: 'Admin token saved for this tab; try the action again.' });
    this.onTokenSaved();
  }

  forgetToken(): void {
    this.#adminToken = null;
    writeToken(null);
  }

  dismissFailure(): void {
    this.#set({ failure: null });
  }

  /** A short line about what an action did. */
  done(result: string): void {
    this.#set({ failure: null, result });
  }

  /** A button's action: the page's error line shows its failure. */
  async action<T>(action: string, method: HttpMethod, path: string, body?: unknown): Promise<T | undefined> {
    return this.report(await this.run<T>(action, method, path, body));
  }

  /** A DELETE the user asked for (its failure on the page's error line); whether it went through. */
  async remove(action: string, path: string): Promise<boolean> {
    const outcome = await this.run<undefined>(action, 'DELETE', path);
    this.report(outcome);
    return outcome.ok;
  }

  /** A poll: the page's error line shows its failure. */
  async read<T>(action: string, path: string): Promise<T | undefined> {
    return this.report(await this.#request<T>(action, 'GET', path));
  }

  /** Runs what the user asked for: buttons disable meanwhile; the caller decides where a failure shows. */
  async run<T>(action: string, method: HttpMethod, path: string, body?: unknown): Promise<Outcome<T>> {
    this.#set({ busy: action, result: null });
    try {
      return await this.#request<T>(action, method, path, body);
    } finally {
      this.#set({ busy: null });
    }
  }

  /** Shows a failure on the page's error line; clears one the same action left. */
  report<T>(outcome: Outcome<T>): T | undefined {
    if (!outcome.ok) {
      this.#set({ failure: outcome.failure });
      return undefined;
    }
    if (this.#status.failure?.action === outcome.action) this.dismissFailure();
    return outcome.value;
  }

  #set(change: Partial<AdminStatus>): void {
    this.#status = { ...this.#status, ...change };
  }

  async #request<T>(action: string, method: HttpMethod, path: string, body?: unknown): Promise<Outcome<T>> {
    const token = this.token;
    try {
      return { ok: true, action, value: await requestJson<T>(method, path, { body, token }) };
    } catch (error) {
      if (error instanceof ApiError) {
        if (error.status === 401) {
          // An operator's token that stopped working (role taken away) gives way to the admin token.
          if (token !== null && token === this.#sessionToken) this.#sessionToken = null;
          this.#set({ needsToken: true });
        }
        return { ok: false, failure: { action, code: error.code, message: error.message } };
      }
      return { ok: false, failure: { action, code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } };
    }
  }
}
