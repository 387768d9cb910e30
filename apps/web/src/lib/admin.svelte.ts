// The admin panel's state: the gateway's REST control API (listener, clients, broadcast).
// A 401 asks the user for the admin token, kept in sessionStorage for this tab only.
import {
  ApiError,
  requestJson,
  type ClientInfo,
  type ClientList,
  type ListenerStatus,
  type OkId,
  type RoomList,
  type RoomSummary,
} from './rest-client.js';

const TOKEN_KEY = 'switchboard.adminToken';
const REFRESH_MS = 2000;

export interface AdminFailure {
  /** What the user tried, e.g. "Start listener". */
  action: string;
  code: string;
  message: string;
}

export interface ListenerStartOptions {
  host?: string;
  port?: number;
  backlog?: number;
}

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

export class AdminState {
  #token = $state<string | null>(readToken());
  #needsToken = $state(false);
  #listener = $state.raw<ListenerStatus | null>(null);
  #clients = $state.raw<ClientInfo[]>([]);
  #rooms = $state.raw<RoomSummary[]>([]);
  #failure = $state.raw<AdminFailure | null>(null);
  #lastResult = $state<string | null>(null);
  #busy = $state<string | null>(null);
  #clientsUpdatedAt = $state<number | null>(null);
  #polling: ReturnType<typeof setInterval> | null = null;
  #refreshing = false;

  get hasToken(): boolean {
    return this.#token !== null;
  }
  /** True after a call answered 401: the panel asks for the token. */
  get needsToken(): boolean {
    return this.#needsToken;
  }
  get listener(): ListenerStatus | null {
    return this.#listener;
  }
  get clients(): readonly ClientInfo[] {
    return this.#clients;
  }
  get rooms(): readonly RoomSummary[] {
    return this.#rooms;
  }
  /** The last failed call, with the gateway's error code. */
  get failure(): AdminFailure | null {
    return this.#failure;
  }
  /** A short line about the last successful action. */
  get lastResult(): string | null {
    return this.#lastResult;
  }
  /** The action in flight, if any (buttons disable while it runs). */
  get busy(): string | null {
    return this.#busy;
  }
  get clientsUpdatedAt(): number | null {
    return this.#clientsUpdatedAt;
  }

  setToken(token: string): void {
    const trimmed = token.trim();
    this.#token = trimmed === '' ? null : trimmed;
    writeToken(this.#token);
    this.#needsToken = false;
    this.#failure = null;
    this.#lastResult = 'Admin token saved for this tab; try the action again.';
    void this.refresh();
  }

  forgetToken(): void {
    this.#token = null;
    writeToken(null);
  }

  dismissFailure(): void {
    this.#failure = null;
  }

  /** Refreshes now and then every 2 s (clients, listener, rooms) until the returned stop(). */
  startPolling(): () => void {
    void this.refresh();
    this.#polling ??= setInterval(() => void this.refresh(), REFRESH_MS);
    return () => {
      if (this.#polling !== null) clearInterval(this.#polling);
      this.#polling = null;
    };
  }

  async refresh(): Promise<void> {
    if (this.#refreshing) return; // A slow gateway must not pile up requests.
    this.#refreshing = true;
    try {
      await Promise.all([this.refreshListener(), this.refreshClients(), this.refreshRooms()]);
    } finally {
      this.#refreshing = false;
    }
  }

  async refreshListener(): Promise<void> {
    const status = await this.#call<ListenerStatus>('Read listener status', 'GET', '/api/listener');
    if (status) this.#listener = status;
  }

  async refreshClients(): Promise<void> {
    const result = await this.#call<ClientList>('List clients', 'GET', '/api/clients');
    if (result) {
      this.#clients = [...result.clients].sort((a, b) => a.name.localeCompare(b.name));
      this.#clientsUpdatedAt = Date.now();
    }
  }

  async refreshRooms(): Promise<void> {
    const result = await this.#call<RoomList>('List rooms', 'GET', '/api/rooms');
    if (result) this.#rooms = [...result.rooms].sort((a, b) => a.name.localeCompare(b.name));
  }

  async startListener(options: ListenerStartOptions): Promise<boolean> {
    const status = await this.#action<ListenerStatus>('Start listener', 'POST', '/api/listener/start', options);
    if (!status) return false;
    this.#listener = status;
    this.#lastResult = `Listener started on ${status.host}:${status.port}.`;
    return true;
  }

  async stopListener(disconnect: boolean): Promise<boolean> {
    const status = await this.#action<ListenerStatus>('Stop listener', 'POST', '/api/listener/stop', { disconnect });
    if (!status) return false;
    this.#listener = status;
    this.#lastResult = disconnect ? 'Listener stopped; TCP members disconnected.' : 'Listener stopped; connected TCP members stay.';
    void this.refreshClients();
    return true;
  }

  async kick(client: ClientInfo, reason: string): Promise<boolean> {
    const body = reason.trim() === '' ? {} : { reason: reason.trim() };
    const result = await this.#action<OkId>('Kick', 'POST', `/api/clients/${encodeURIComponent(client.id)}/kick`, body);
    if (!result) return false;
    this.#lastResult = `Kicked ${client.name}.`;
    void this.refreshClients();
    return true;
  }

  async message(client: ClientInfo, text: string): Promise<boolean> {
    const result = await this.#action<OkId>(
      'Message',
      'POST',
      `/api/clients/${encodeURIComponent(client.id)}/messages`,
      { text },
    );
    if (!result) return false;
    this.#lastResult = `Notice sent to ${client.name}.`;
    return true;
  }

  /** A server notice to one room, or to everyone when `room` is empty. */
  async broadcast(text: string, room: string): Promise<boolean> {
    const body = room === '' ? { text } : { text, room };
    const result = await this.#action<{ ok: true; delivered: number }>('Broadcast', 'POST', '/api/broadcast', body);
    if (!result) return false;
    const where = room === '' ? 'everyone' : `room ${room}`;
    this.#lastResult = `Broadcast to ${where}: delivered to ${result.delivered} member${result.delivered === 1 ? '' : 's'}.`;
    return true;
  }

  async #action<T>(action: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T | undefined> {
    this.#busy = action;
    this.#lastResult = null;
    try {
      return await this.#call<T>(action, method, path, body);
    } finally {
      this.#busy = null;
    }
  }

  async #call<T>(action: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T | undefined> {
    try {
      const result = await requestJson<T>(method, path, { body, token: this.#token });
      if (this.#failure?.action === action) this.#failure = null;
      return result;
    } catch (error) {
      if (error instanceof ApiError) {
        if (error.status === 401) this.#needsToken = true;
        this.#failure = { action, code: error.code, message: error.message };
      } else {
        this.#failure = { action, code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
      }
      return undefined;
    }
  }
}
