// The Devices view's state: every device the gateway knows (plain devices, members of line and
// raw listeners, outbound links), the shared macros and the auto-reply rules, polled over REST
// while the view is open, and the console of the device that is open.
import type { Macro, MacroList, NewMacro, NewRule, Rule, RuleList } from '@switchboard/gateway/api-types';
import type { AdminState } from '../admin.svelte.js';
import {
  ApiError,
  requestJson,
  type ClientInfo,
  type ClientList,
  type DeviceList,
  type DeviceInfo,
  type HttpMethod,
  type ListenerInfo,
  type ListenerList,
} from '../rest-client.js';
import { DeviceConsole } from './device-console.svelte.js';
import { deviceRows, type DeviceRow } from './device-rows.js';

export type { DeviceKind, DeviceRow } from './device-rows.js';

const REFRESH_MS = 2000;

export interface ConsoleFailure {
  action: string;
  code: string;
  message: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; failure: ConsoleFailure };

export class DevicesState {
  readonly #admin: AdminState;
  #clients = $state.raw<ClientInfo[]>([]);
  #links = $state.raw<DeviceInfo[]>([]);
  #listeners = $state.raw<ListenerInfo[]>([]);
  #macros = $state.raw<Macro[]>([]);
  #rules = $state.raw<Rule[]>([]);
  #loaded = $state(false);
  /** The token a call was refused with (401): asked for again until the token changes. */
  #refusedToken = $state<string | null | undefined>(undefined);
  #failure = $state.raw<ConsoleFailure | null>(null);
  #console = $state.raw<DeviceConsole | null>(null);
  /** The open device's last row, kept when it disconnects so its console still says who it was. */
  #lastRow = $state.raw<DeviceRow | null>(null);
  #notice = $state<string | null>(null);
  #timer: ReturnType<typeof setInterval> | null = null;
  #refreshing = false;

  readonly #rows = $derived.by((): DeviceRow[] => {
    const rows = deviceRows(this.#clients, this.#links, this.#listeners);
    const last = this.#lastRow;
    if (last !== null && this.#console !== null && !rows.some((r) => r.id === last.id)) rows.push({ ...last, state: 'gone', online: false });
    return rows;
  });

  constructor(admin: AdminState) {
    this.#admin = admin;
  }

  get rows(): readonly DeviceRow[] {
    return this.#rows;
  }
  get macros(): readonly Macro[] {
    return this.#macros;
  }
  get rules(): readonly Rule[] {
    return this.#rules;
  }
  get listeners(): readonly ListenerInfo[] {
    return this.#listeners;
  }
  /** True once the first lists are in. */
  get loaded(): boolean {
    return this.#loaded;
  }
  /** A call answered 401: the view asks for the admin token (AdminTokenForm, shared with the admin panel). */
  get needsToken(): boolean {
    return this.#refusedToken !== undefined && this.#refusedToken === this.#admin.token;
  }
  get failure(): ConsoleFailure | null {
    return this.#failure;
  }
  /** The console that is open, if any. */
  get console(): DeviceConsole | null {
    return this.#console;
  }
  /** A line for the user that outlives a console: a repeat that stopped because its console closed. */
  get notice(): string | null {
    return this.#notice;
  }
  get token(): string | null {
    return this.#admin.token;
  }

  row(id: string): DeviceRow | undefined {
    return this.#rows.find((r) => r.id === id);
  }

  dismissFailure(): void {
    this.#failure = null;
  }

  dismissNotice(): void {
    this.#notice = null;
  }

  /** Refreshes now and every 2 s until the returned stop(). */
  startPolling(): () => void {
    void this.refresh();
    this.#timer ??= setInterval(() => void this.refresh(), REFRESH_MS);
    return () => {
      if (this.#timer !== null) clearInterval(this.#timer);
      this.#timer = null;
    };
  }

  async refresh(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      const [clients, links, listeners, macros, rules] = await Promise.all([
        this.request<ClientList>('List clients', 'GET', '/api/clients'),
        this.request<DeviceList>('List device links', 'GET', '/api/devices'),
        this.request<ListenerList>('List listeners', 'GET', '/api/listeners'),
        this.request<MacroList>('List macros', 'GET', '/api/macros'),
        this.request<RuleList>('List auto-replies', 'GET', '/api/rules'),
      ]);
      if (clients.ok) this.#clients = clients.value.clients;
      if (links.ok) this.#links = links.value.devices;
      if (listeners.ok) this.#listeners = listeners.value.listeners;
      if (macros.ok) this.#macros = macros.value.macros;
      if (rules.ok) this.#rules = rules.value.rules;
      const failed = [clients, links, listeners, macros, rules].find((o) => !o.ok);
      if (failed !== undefined) this.#failure = failed.failure;
      else if (this.#failure?.action.startsWith('List')) this.#failure = null;
      this.#loaded = true;
      const open = this.#console;
      if (open !== null) {
        const row = this.row(open.id);
        if (row !== undefined && row.state !== 'gone') this.#lastRow = row;
      }
    } finally {
      this.#refreshing = false;
    }
  }

  /** Opens a device's console; the one open before closes (its repeat stops, and the view says so). */
  open(id: string): void {
    if (this.#console?.id === id) return;
    this.close('you opened another device');
    const row = this.row(id);
    if (row === undefined) return;
    this.#lastRow = row;
    const opened = new DeviceConsole(this, row);
    this.#console = opened;
    opened.start();
  }

  /** Closes the open console; a repeat it was running stops, and `notice` says so with `why`. */
  close(why: string): void {
    const open = this.#console;
    if (open === null) return;
    const stopped = open.dispose();
    if (stopped !== null) this.#notice = `Stopped repeating to ${open.name} (${stopped}): ${why}.`;
    this.#console = null;
  }

  async saveMacro(body: NewMacro): Promise<ConsoleFailure | null> {
    const outcome = await this.request<Macro>('Save macro', 'POST', '/api/macros', body);
    if (!outcome.ok) return outcome.failure;
    this.#macros = [...this.#macros.filter((m) => m.id !== outcome.value.id), outcome.value];
    return null;
  }

  async deleteMacro(macro: Macro): Promise<ConsoleFailure | null> {
    const outcome = await this.request<undefined>('Delete macro', 'DELETE', `/api/macros/${encodeURIComponent(macro.id)}`);
    if (!outcome.ok && outcome.failure.code !== 'MACRO_NOT_FOUND') return outcome.failure;
    this.#macros = this.#macros.filter((m) => m.id !== macro.id);
    return null;
  }

  async addRule(body: NewRule): Promise<ConsoleFailure | null> {
    const outcome = await this.request<Rule>('Add auto-reply', 'POST', '/api/rules', body);
    if (!outcome.ok) return outcome.failure;
    this.#rules = [...this.#rules.filter((r) => r.id !== outcome.value.id), outcome.value];
    return null;
  }

  /** A link in backoff dials now; the list is read again to show it connecting. */
  async dialNow(id: string): Promise<ConsoleFailure | null> {
    const outcome = await this.request<DeviceInfo>('Dial now', 'POST', `/api/devices/${encodeURIComponent(id)}/dial`);
    void this.refresh();
    return outcome.ok ? null : outcome.failure;
  }

  async deleteRule(rule: Rule): Promise<ConsoleFailure | null> {
    const outcome = await this.request<undefined>('Delete auto-reply', 'DELETE', `/api/rules/${encodeURIComponent(rule.id)}`);
    if (!outcome.ok && outcome.failure.code !== 'RULE_NOT_FOUND') return outcome.failure;
    this.#rules = this.#rules.filter((r) => r.id !== rule.id);
    return null;
  }

  /** A REST call with the admin token; a 401 makes the view ask for it. */
  async request<T>(action: string, method: HttpMethod, path: string, body?: unknown): Promise<Outcome<T>> {
    const token = this.#admin.token;
    try {
      const value = await requestJson<T>(method, path, { body, token });
      return { ok: true, value };
    } catch (error) {
      if (error instanceof ApiError) {
        if (error.status === 401) this.#refusedToken = token;
        return { ok: false, failure: { action, code: error.code, message: error.message } };
      }
      return { ok: false, failure: { action, code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } };
    }
  }
}
