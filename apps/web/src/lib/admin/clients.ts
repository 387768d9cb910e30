// Connected members: listed, kicked, told something privately.
import type { ClientInfo, ClientList, OkId } from '../rest-client.js';
import type { AdminApi } from './admin-api.svelte.js';
import { AdminList, byName, type ListSource } from './admin-list.svelte.js';

const CLIENTS: ListSource<ClientList, ClientInfo> = {
  label: 'List clients',
  path: '/api/clients',
  rows: (body) => body.clients,
  order: byName,
  key: 'id',
  adminOnly: false,
};

export class ClientsAdmin {
  constructor(
    private readonly api: AdminApi,
    readonly list = new AdminList(api, CLIENTS),
  ) {}

  async kick(client: ClientInfo, reason: string): Promise<boolean> {
    const body = reason.trim() === '' ? {} : { reason: reason.trim() };
    const result = await this.api.action<OkId>('Kick', 'POST', `/api/clients/${encodeURIComponent(client.id)}/kick`, body);
    if (!result) return false;
    this.api.done(`Kicked ${client.name}.`);
    void this.list.refresh();
    return true;
  }

  async message(client: ClientInfo, text: string): Promise<boolean> {
    const result = await this.api.action<OkId>('Message', 'POST', `/api/clients/${encodeURIComponent(client.id)}/messages`, { text });
    if (result) this.api.done(`Notice sent to ${client.name}.`);
    return result !== undefined;
  }
}
