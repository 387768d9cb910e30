// Rooms, for the broadcast form: a notice to one room or to everyone.
import type { RoomList, RoomSummary } from '../rest-client.js';
import { AdminList, byName, type ListSource } from './admin-list.svelte.js';

export class RoomsAdmin extends AdminList<RoomList, RoomSummary> {
  protected readonly source: ListSource<RoomList, RoomSummary> = { path: '/api/rooms', rows: (b) => b.rooms, order: byName, key: 'name', public: true };

  /** A server notice to one room, or to everyone when `room` is empty. */
  async broadcast(text: string, room: string): Promise<boolean> {
    const result = await this.api.action<{ ok: true; delivered: number }>('Broadcast', 'POST', '/api/broadcast', room === '' ? { text } : { text, room });
    if (!result) return false;
    const where = room === '' ? 'everyone' : `room ${room}`;
    this.api.done(`Broadcast to ${where}: delivered to ${result.delivered} member${result.delivered === 1 ? '' : 's'}.`);
    return true;
  }
}
