// Rooms, for the broadcast form: a notice to one room or to everyone.
import type { RoomList, RoomSummary } from '../rest-client.js';
import type { AdminApi } from './admin-api.svelte.js';
import { AdminList, byName, type ListSource } from './admin-list.svelte.js';

const ROOMS: ListSource<RoomList, RoomSummary> = {
  label: 'List rooms',
  path: '/api/rooms',
  rows: (body) => body.rooms,
  order: byName,
  key: 'name',
  adminOnly: false,
};

export class RoomsAdmin {
  constructor(
    private readonly api: AdminApi,
    readonly list = new AdminList(api, ROOMS),
  ) {}

  /** A server notice to one room, or to everyone when `room` is empty. */
  async broadcast(text: string, room: string): Promise<boolean> {
    const result = await this.api.action<{ ok: true; delivered: number }>('Broadcast', 'POST', '/api/broadcast', room === '' ? { text } : { text, room });
    if (!result) return false;
    const where = room === '' ? 'everyone' : `room ${room}`;
    this.api.done(`Broadcast to ${where}: delivered to ${result.delivered} member${result.delivered === 1 ? '' : 's'}.`);
    return true;
  }
}
