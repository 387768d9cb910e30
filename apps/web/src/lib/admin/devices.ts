// Outbound device links: TCP servers the gateway dials.
import type { DeviceInfo, DeviceList, NewDevice } from '../rest-client.js';
import type { AdminFailure } from './admin-api.svelte.js';
import { AdminList, byId, type ListSource } from './admin-list.svelte.js';

export class DeviceLinksAdmin extends AdminList<DeviceList, DeviceInfo> {
  protected readonly source: ListSource<DeviceList, DeviceInfo> = { path: '/api/devices', rows: (b) => b.devices, order: byId, key: 'id' };

  /** Dials a device that is a TCP server. The failure is the form's to show (TARGET_NOT_ALLOWED…). */
  add(body: NewDevice): Promise<AdminFailure | null> {
    return this.create('Add device', body, (added) => `Device ${added.name} (${added.id}) added: dialing ${added.host}:${added.port}.`);
  }

  async remove(device: DeviceInfo): Promise<boolean> {
    const removed = await this.delete(
      device,
      'Remove device',
      `/api/devices/${encodeURIComponent(device.id)}`,
      `Device ${device.name} (${device.id}) removed.`,
    );
    if (removed) this.changed();
    return removed;
  }
}
