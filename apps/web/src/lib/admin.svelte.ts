// The admin page's state: one module per resource of the gateway's REST control API (lib/admin/),
// sharing one AdminApi (the credential, what is in flight, how the last action went). A section
// of the page polls the resources it shows while it is open.
import { AdminApi } from './admin/admin-api.svelte.js';
import { ClientsAdmin } from './admin/clients.js';
import { DeviceLinksAdmin } from './admin/devices.js';
import { AccountsAdmin, AuditAdmin, BansAdmin } from './admin/identity.js';
import { ListenersAdmin } from './admin/listeners.js';
import { RoomsAdmin } from './admin/rooms.js';

export type { AdminFailure } from './admin/admin-api.svelte.js';
export type { Account, AuditEntry, Ban, NewBan } from './admin/identity.js';
export type { ListenerStartOptions } from './admin/listeners.js';

const REFRESH_MS = 2000;

interface Refreshable {
  refresh(): Promise<void>;
}

export class AdminState {
  readonly api = new AdminApi();
  readonly clients = new ClientsAdmin(this.api);
  readonly rooms = new RoomsAdmin(this.api);
  readonly audit = new AuditAdmin(this.api);
  readonly listeners = new ListenersAdmin(this.api, () => void this.clients.refresh());
  readonly devices = new DeviceLinksAdmin(this.api, () => void this.clients.refresh());
  readonly bans = new BansAdmin(this.api, () => this.#afterIdentityChange());
  readonly accounts = new AccountsAdmin(this.api, () => this.#afterIdentityChange());
  /** What the open sections show, refreshed every 2 s. */
  readonly #polled = new Map<Refreshable, number>();
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor() {
    this.api.onTokenSaved = () => void this.refresh();
  }

  /** The token admin calls send (the device console's REST calls and raw pipes send it too). */
  get token(): string | null {
    return this.api.token;
  }

  useSessionToken(token: string | null): void {
    this.api.useSessionToken(token);
  }

  /** Refreshes these now and every 2 s until the returned stop() (a section calls it while open). */
  poll(...targets: Refreshable[]): () => void {
    for (const target of targets) {
      this.#polled.set(target, (this.#polled.get(target) ?? 0) + 1);
      void target.refresh();
    }
    this.#timer ??= setInterval(() => void this.refresh(), REFRESH_MS);
    return () => {
      for (const target of targets) {
        const left = (this.#polled.get(target) ?? 1) - 1;
        if (left > 0) this.#polled.set(target, left);
        else this.#polled.delete(target);
      }
      if (this.#polled.size === 0 && this.#timer !== null) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    };
  }

  /** Everything an open section shows, now. */
  async refresh(): Promise<void> {
    await Promise.all([...this.#polled.keys()].map((target) => target.refresh()));
  }

  #afterIdentityChange(): void {
    void this.audit.refresh();
    void this.clients.refresh();
  }
}
