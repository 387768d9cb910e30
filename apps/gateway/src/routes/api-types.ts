// The REST API's body types, derived from the route schemas so a client (the web page) cannot
// drift from what the gateway sends. Types only: importing this file with `import type` costs
// nothing at run time.
import type { FromSchema } from 'json-schema-to-ts';
import type {
  client,
  deviceBody,
  deviceInfo,
  errorBody,
  historyEntry,
  historyPage,
  listenerBody,
  listenerInfo,
  listenerStatus,
  okId,
  room,
} from './schemas.js';

/** GET /api/listener, and the answer to POST /api/listener/start and /stop. */
export type ListenerStatus = FromSchema<typeof listenerStatus>;
/** One entry of GET /api/listeners, and the answer to POST /api/listeners and its start and stop. */
export type ListenerInfo = FromSchema<typeof listenerInfo>;
/** GET /api/listeners. */
export interface ListenerList {
  listeners: ListenerInfo[];
}
/** The body of POST /api/listeners. */
export type NewListener = FromSchema<typeof listenerBody>;
/** One entry of GET /api/devices (an outbound device link), and the answer to POST /api/devices. */
export type DeviceInfo = FromSchema<typeof deviceInfo>;
/** GET /api/devices. */
export interface DeviceList {
  devices: DeviceInfo[];
}
/** The body of POST /api/devices. */
export type NewDevice = FromSchema<typeof deviceBody>;
/** One entry of GET /api/clients. */
export type Client = FromSchema<typeof client>;
/** GET /api/clients. */
export interface ClientList {
  clients: Client[];
}
/** One entry of GET /api/rooms. */
export type Room = FromSchema<typeof room>;
/** GET /api/rooms. */
export interface RoomList {
  rooms: Room[];
}
/** GET /api/history. */
export type HistoryPage = FromSchema<typeof historyPage>;
export type HistoryEntry = FromSchema<typeof historyEntry>;
/** The answer to POST /api/clients/:id/kick and /messages. */
export type OkId = FromSchema<typeof okId>;
/** Every 4xx and 5xx answer: `code` is one of the protocol's or the gateway's error codes. */
export type ErrorBody = FromSchema<typeof errorBody>;
