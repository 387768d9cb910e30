// The admin panel's state: the gateway's REST control API (the default listener, listeners
// of any framing, outbound device links, clients, broadcast, bans, accounts, the audit log).
// An operator signed in on the page uses its session token; otherwise a 401 asks the user for
// the admin token, kept in sessionStorage for this tab only.
import type { Account, AccountList, AuditEntry, AuditLog, Ban, BanList, NewBan } from '@switchboard/gateway/api-types';
import {
  ApiError,
  requestJson,
  type ClientInfo,
  type ClientList,
  type DeviceInfo,
  type DeviceList,
  type HttpMethod,
  type ListenerInfo,
  type ListenerList,
  type ListenerStatus,
  type NewDevice,
  type NewListener,
  type OkId,
  type RoomList,
  type RoomSummary,
} from './rest-client.js';

export type { Account, AuditEntry, Ban, NewBan } from '@switchboard/gateway/api-types';

const TOKEN_KEY = 'switchboard.adminToken';
const REFRESH_MS = 2000;
/** Audit entries the panel shows (the newest). */
const AUDIT_LIMIT = 100;

export interface AdminFailure {
  /** What the user tried, e.g. "Start listener". */
  action: string;
  code: string;
  message: string;
}

type Outcome<T> = { ok: true; action: string; value: T } | { ok: false; failure: AdminFailure };

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
  #sessionToken = $state<string | null>(null);
  #needsToken = $state(false);
  #listener = $state.raw<ListenerStatus | null>(null);
  #clients = $state.raw<ClientInfo[]>([]);
  #rooms = $state.raw<RoomSummary[]>([]);
  #listeners = $state.raw<ListenerInfo[]>([]);
  #devices = $state.raw<DeviceInfo[]>([]);
  #bans = $state.raw<Ban[]>([]);
  #accounts = $state.raw<Account[]>([]);
  #audit = $state.raw<AuditEntry[]>([]);
  #auditUpdatedAt = $state<number | null>(null);
  #failure = $state.raw<AdminFailure | null>(null);
  #lastResult = $state<string | null>(null);
  #busy = $state<string | null>(null);
  #clientsUpdatedAt = $state<number | null>(null);
  #polling: ReturnType<typeof setInterval> | null = null;
  #refreshing = false;

  get hasToken(): boolean {
    return this.#token !== null;
  }
  /** The token admin calls send (the device console's REST calls and raw pipes send it too). */
  get token(): string | null {
    return this.#sessionToken ?? this.#token;
  }
  /** Calls go out with the signed-in operator's session token (no admin token needed). */
  get asOperator(): boolean {
    return this.#sessionToken !== null;
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
  /** Every TCP listener (the default one included), by id. */
  get listeners(): readonly ListenerInfo[] {
    return this.#listeners;
  }
  /** Outbound device links, by id. */
  get devices(): readonly DeviceInfo[] {
    return this.#devices;
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
  /** Bans in force, newest first. */
  get bans(): readonly Ban[] {
    return this.#bans;
  }
  /** Registered accounts, by name. */
  get accounts(): readonly Account[] {
    return this.#accounts;
  }
  /** The newest audit entries, newest first. */
  get audit(): readonly AuditEntry[] {
    return this.#audit;
  }
  get auditUpdatedAt(): number | null {
    return this.#auditUpdatedAt;
  }

  /**
   * The session token of an operator signed in on the page (null otherwise). While set, it is
   * the credential every call sends, and the panel asks for no admin token.
   */
  useSessionToken(token: string | null): void {
    if (token === this.#sessionToken) return;
    this.#sessionToken = token;
    if (token === null) return;
    this.#needsToken = false;
    if (this.#failure?.code === 'UNAUTHORIZED' || this.#failure?.code === 'FORBIDDEN') this.#failure = null;
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

  /** Refreshes now and then every 2 s (clients, listeners, devices, rooms) until the returned stop(). */
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
      const lists = [this.refreshListener(), this.refreshClients(), this.refreshRooms()];
      // Listeners and devices are admin-only: while the token is missing or wrong, asking
      // every 2 s would only repeat the 401 over the failure the user is looking at.
      if (!this.#needsToken) {
        lists.push(this.refreshListeners(), this.refreshDevices(), this.refreshBans(), this.refreshAccounts(), this.refreshAudit());
      }
      await Promise.all(lists);
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

  async refreshListeners(): Promise<void> {
    const result = await this.#call<ListenerList>('List listeners', 'GET', '/api/listeners');
    if (result) this.#listeners = [...result.listeners].sort((a, b) => byId(a.id, b.id));
  }

  async refreshDevices(): Promise<void> {
    const result = await this.#call<DeviceList>('List devices', 'GET', '/api/devices');
    if (result) this.#devices = [...result.devices].sort((a, b) => byId(a.id, b.id));
  }

  async refreshBans(): Promise<void> {
    const result = await this.#call<BanList>('List bans', 'GET', '/api/bans');
    if (result) this.#bans = [...result.bans].sort((a, b) => b.id - a.id);
  }

  async refreshAccounts(): Promise<void> {
    const result = await this.#call<AccountList>('List accounts', 'GET', '/api/accounts');
    if (result) this.#accounts = [...result.accounts].sort((a, b) => a.name.localeCompare(b.name));
  }

  async refreshAudit(): Promise<void> {
    const result = await this.#call<AuditLog>('Read the audit log', 'GET', `/api/audit?limit=${AUDIT_LIMIT}`);
    if (!result) return;
    // The gateway answers oldest first; the panel reads from the top.
    this.#audit = [...result.entries].sort((a, b) => b.id - a.id);
    this.#auditUpdatedAt = Date.now();
  }

  /** Bans an address, block, name or account. The failure is the form's to show. */
  async addBan(body: NewBan): Promise<AdminFailure | null> {
    const outcome = await this.#run<Ban>('Add ban', 'POST', '/api/bans', body);
    if (!outcome.ok) return outcome.failure;
    const added = outcome.value;
    this.#bans = [added, ...this.#bans.filter((b) => b.id !== added.id)];
    this.#lastResult = `Banned ${added.kind} ${added.value}; matching members were disconnected.`;
    void this.refreshAudit();
    void this.refreshClients();
    return null;
  }

  async liftBan(ban: Ban): Promise<boolean> {
    const outcome = await this.#run<undefined>('Lift ban', 'DELETE', `/api/bans/${ban.id}`);
    this.#report(outcome);
    if (!outcome.ok) return false;
    this.#bans = this.#bans.filter((b) => b.id !== ban.id);
    this.#lastResult = `Lifted the ban on ${ban.kind} ${ban.value}.`;
    void this.refreshAudit();
    return true;
  }

  /** Sets a new password; the account's sessions end. The failure is the form's to show. */
  async resetPassword(account: Account, password: string): Promise<AdminFailure | null> {
    const outcome = await this.#run<undefined>('Reset password', 'POST', `/api/accounts/${encodeURIComponent(account.name)}/password`, { password });
    if (!outcome.ok) return outcome.failure;
    this.#lastResult = `New password set for ${account.name}; its sessions were ended.`;
    void this.refreshAudit();
    void this.refreshClients();
    return null;
  }

  async deleteAccount(account: Account): Promise<boolean> {
    const outcome = await this.#run<undefined>('Delete account', 'DELETE', `/api/accounts/${encodeURIComponent(account.name)}`);
    this.#report(outcome);
    if (!outcome.ok) return false;
    this.#accounts = this.#accounts.filter((a) => a.name !== account.name);
    this.#lastResult = `Account ${account.name} deleted; its sessions were ended.`;
    void this.refreshAudit();
    void this.refreshClients();
    return true;
  }

  async startListener(options: ListenerStartOptions): Promise<boolean> {
    const status = await this.#action<ListenerStatus>('Start listener', 'POST', '/api/listener/start', options);
    if (!status) return false;
    this.#listener = status;
    this.#lastResult = `Listener started on ${status.host}:${status.port}.`;
    void this.refreshListeners();
    return true;
  }

  async stopListener(disconnect: boolean): Promise<boolean> {
    const status = await this.#action<ListenerStatus>('Stop listener', 'POST', '/api/listener/stop', { disconnect });
    if (!status) return false;
    this.#listener = status;
    this.#lastResult = disconnect ? 'Listener stopped; TCP members disconnected.' : 'Listener stopped; connected TCP members stay.';
    void this.refreshClients();
    void this.refreshListeners();
    return true;
  }

  /** Adds a listener and starts it. The failure (the gateway's code and message) is the form's to show. */
  async addListener(body: NewListener): Promise<AdminFailure | null> {
    const outcome = await this.#run<ListenerInfo>('Add listener', 'POST', '/api/listeners', body);
    if (!outcome.ok) return outcome.failure;
    const added = outcome.value;
    this.#listeners = [...this.#listeners.filter((l) => l.id !== added.id), added].sort((a, b) => byId(a.id, b.id));
    this.#lastResult = `Listener ${added.id} (${added.framing}) ${added.listening ? 'listening' : 'added'} on ${added.host}:${added.port}.`;
    return null;
  }

  /** Starts or stops one listener by id (the default one too). */
  async setListening(listener: ListenerInfo, listening: boolean, disconnect = false): Promise<boolean> {
    const verb = listening ? 'start' : 'stop';
    const updated = await this.#action<ListenerInfo>(
      listening ? 'Start listener' : 'Stop listener',
      'POST',
      `/api/listeners/${encodeURIComponent(listener.id)}/${verb}`,
      listening ? {} : { disconnect },
    );
    if (!updated) return false;
    this.#listeners = this.#listeners.map((l) => (l.id === updated.id ? updated : l));
    this.#lastResult = listening
      ? `Listener ${updated.id} started on ${updated.host}:${updated.port}.`
      : `Listener ${updated.id} stopped; ${disconnect ? 'its members were disconnected' : 'connected members stay'}.`;
    if (updated.id === 'default') void this.refreshListener();
    void this.refreshClients();
    return true;
  }

  async removeListener(listener: ListenerInfo): Promise<boolean> {
    const outcome = await this.#run<undefined>('Remove listener', 'DELETE', `/api/listeners/${encodeURIComponent(listener.id)}`);
    this.#report(outcome);
    if (!outcome.ok) return false;
    this.#listeners = this.#listeners.filter((l) => l.id !== listener.id);
    this.#lastResult = `Listener ${listener.id} removed.`;
    void this.refreshClients();
    return true;
  }

  /** Dials a device that is a TCP server. The failure is the form's to show (TARGET_NOT_ALLOWED…). */
  async addDevice(body: NewDevice): Promise<AdminFailure | null> {
    const outcome = await this.#run<DeviceInfo>('Add device', 'POST', '/api/devices', body);
    if (!outcome.ok) return outcome.failure;
    const added = outcome.value;
    this.#devices = [...this.#devices.filter((d) => d.id !== added.id), added].sort((a, b) => byId(a.id, b.id));
    this.#lastResult = `Device ${added.name} (${added.id}) added: dialing ${added.host}:${added.port}.`;
    return null;
  }

  async removeDevice(device: DeviceInfo): Promise<boolean> {
    const outcome = await this.#run<undefined>('Remove device', 'DELETE', `/api/devices/${encodeURIComponent(device.id)}`);
    this.#report(outcome);
    if (!outcome.ok) return false;
    this.#devices = this.#devices.filter((d) => d.id !== device.id);
    this.#lastResult = `Device ${device.name} (${device.id}) removed.`;
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
    const result = await this.#action<OkId>('Message', 'POST', `/api/clients/${encodeURIComponent(client.id)}/messages`, { text });
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

  /** A button's action: the panel's error line shows its failure. */
  async #action<T>(action: string, method: HttpMethod, path: string, body?: unknown): Promise<T | undefined> {
    const outcome = await this.#run<T>(action, method, path, body);
    return this.#report(outcome);
  }

  /** A poll: the panel's error line shows its failure. */
  async #call<T>(action: string, method: HttpMethod, path: string, body?: unknown): Promise<T | undefined> {
    return this.#report(await this.#request<T>(action, method, path, body));
  }

  /** Runs what the user asked for: buttons disable meanwhile; the caller decides where a failure shows. */
  async #run<T>(action: string, method: HttpMethod, path: string, body?: unknown): Promise<Outcome<T>> {
    this.#busy = action;
    this.#lastResult = null;
    try {
      return await this.#request<T>(action, method, path, body);
    } finally {
      this.#busy = null;
    }
  }

  #report<T>(outcome: Outcome<T>): T | undefined {
    if (!outcome.ok) {
      this.#failure = outcome.failure;
      return undefined;
    }
    if (this.#failure?.action === outcome.action) this.#failure = null;
    return outcome.value;
  }

  async #request<T>(action: string, method: HttpMethod, path: string, body?: unknown): Promise<Outcome<T>> {
    const token = this.#sessionToken ?? this.#token;
    try {
      return { ok: true, action, value: await requestJson<T>(method, path, { body, token }) };
    } catch (error) {
      if (error instanceof ApiError) {
        if (error.status === 401) {
          // An operator's token that stopped working (role taken away) gives way to the admin token.
          if (token !== null && token === this.#sessionToken) this.#sessionToken = null;
          this.#needsToken = true;
        }
        return { ok: false, failure: { action, code: error.code, message: error.message } };
      }
      return { ok: false, failure: { action, code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } };
    }
  }
}

/** `default` first, then l1, l2 … l10 in number order. */
function byId(a: string, b: string): number {
  if (a === 'default' || b === 'default') return a === 'default' ? (b === 'default' ? 0 : -1) : 1;
  return a.localeCompare(b, undefined, { numeric: true });
}
