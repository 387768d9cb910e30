// Connected members: listed, kicked, told something privately.
import type { ClientInfo, ClientList, OkId } from '../rest-client.js';
import { AdminList, byName, type ListSource } from './admin-list.svelte.js';

export class ClientsAdmin extends AdminList<ClientList, ClientInfo> {
  protected readonly source: ListSource<ClientList, ClientInfo> = { path: '/api/clients', rows: (b) => b.clients, order: byName, key: 'id', public: true };

  async kick(client: ClientInfo, reason: string): Promise<boolean> {
    const body = reason.trim() === '' ? {} : { reason: reason.trim() };
    const result = await this.api.action<OkId>('Kick', 'POST', `/api/clients/${encodeURIComponent(client.id)}/kick`, body);
    if (!result) return false;
    this.api.done(`Kicked ${client.name}.`);
    void this.refresh();
    return true;
  }

  async message(client: ClientInfo, text: string): Promise<boolean> {
    const result = await this.api.action<OkId>('Message', 'POST', `/api/clients/${encodeURIComponent(client.id)}/messages`, { text });
    if (result) this.api.done(`Notice sent to ${client.name}.`);
    return result !== undefined;
  }
}
