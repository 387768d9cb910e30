import { api } from './gateway.js';
import { until } from './until.js';

/** A room as GET /api/rooms lists it. */
export interface RoomRow {
  name: string;
  members: number;
  access: string;
  accounts?: string[];
  history: { mode: string; size?: number; ttlSeconds?: number };
}

/** The rooms a gateway lists (GET /api/rooms), with their access and history settings. */
export async function roomsOn(gateway: { httpUrl: string }): Promise<RoomRow[]> {
  return (await api(gateway, 'GET', '/api/rooms')).body.rooms as RoomRow[];
}

/** Waits until `gateway` lists room `name` as `holds` wants it: a setting made on another gateway of the cluster reaching this one. */
export async function untilRoom(what: string, gateway: { httpUrl: string }, name: string, holds: (room: RoomRow) => boolean): Promise<void> {
  await until(what, async () => ((await roomsOn(gateway)).some((r) => r.name === name && holds(r)) ? true : undefined));
}
