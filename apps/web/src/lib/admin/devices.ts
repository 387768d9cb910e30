// Outbound device links: TCP servers the gateway dials.
import type { DeviceInfo, DeviceList, NewDevice } from '../rest-client.js';
import type { AdminApi, AdminFailure } from './admin-api.svelte.js';
import { AdminList, byId, type ListSource } from './admin-list.svelte.js';

const DEVICES: ListSource<DeviceList, DeviceInfo> = {
  label: 'List devices',
  path: '/api/devices',
  rows: (body) => body.devices,
  order: (a, b) => byId(a.id, b.id),
  key: 'id',
  adminOnly: true,
};

export class DeviceLinksAdmin {
  constructor(
    api: AdminApi,
    /** Its member comes or goes. */
    private readonly changed: () => void,
    readonly list = new AdminList(api, DEVICES),
  ) {}

  /** Dials a device that is a TCP server. The failure is the form's to show (TARGET_NOT_ALLOWED…). */
  add(body: NewDevice): Promise<AdminFailure | null> {
    return this.list.add('Add device', body, (added) => `Device ${added.name} (${added.id}) added: dialing ${added.host}:${added.port}.`);
  }

  async remove(device: DeviceInfo): Promise<boolean> {
    const removed = await this.list.remove(
      device,
      'Remove device',
      `/api/devices/${encodeURIComponent(device.id)}`,
      `Device ${device.name} (${device.id}) removed.`,
    );
    if (removed) this.changed();
    return removed;
  }
}
