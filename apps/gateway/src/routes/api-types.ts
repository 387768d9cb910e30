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
  macro,
  macroBody,
  okId,
  room,
  rule,
  ruleBody,
  serverConfig,
  serverStats,
  statsHistory,
  trafficEntry,
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

// Accounts, bans and the audit log. identity-routes.ts declares these schemas inline and does
// not export them, so they are restated here as schema types; point these at its schemas once
// it exports them.
type AccountSchema = {
  type: 'object';
  properties: { name: { type: 'string' }; role: { type: 'string'; enum: ['user', 'admin'] }; createdAt: { type: 'string' } };
  required: ['name', 'role', 'createdAt'];
  additionalProperties: false;
};
type BanSchema = {
  type: 'object';
  properties: {
    id: { type: 'integer' };
    kind: { type: 'string'; enum: ['ip', 'cidr', 'name', 'account'] };
    value: { type: 'string' };
    reason: { type: 'string' };
    createdAt: { type: 'string' };
    expiresAt: { type: ['string', 'null'] };
  };
  required: ['id', 'kind', 'value', 'reason', 'createdAt', 'expiresAt'];
  additionalProperties: false;
};
type NewBanSchema = {
  type: 'object';
  properties: {
    ip: { type: 'string' };
    cidr: { type: 'string' };
    name: { type: 'string' };
    account: { type: 'string' };
    reason: { type: 'string' };
    expiresAt: { type: 'string' };
  };
  required: ['reason'];
  additionalProperties: false;
};
type NewAccountSchema = {
  type: 'object';
  properties: { name: { type: 'string' }; password: { type: 'string' }; role: { type: 'string'; enum: ['user', 'admin'] } };
  required: ['name', 'password'];
  additionalProperties: false;
};
type AuditEntrySchema = {
  type: 'object';
  properties: {
    id: { type: 'integer' };
    at: { type: 'string' };
    actor: { type: 'string' };
    address: { type: 'string' };
    action: { type: 'string' };
    detail: { type: 'object'; additionalProperties: true };
  };
  required: ['id', 'at', 'actor', 'address', 'action', 'detail'];
};

/** One entry of GET /api/accounts, and the answer to POST /api/accounts. */
export type Account = FromSchema<AccountSchema>;
/** GET /api/accounts. */
export interface AccountList {
  accounts: Account[];
}
/** The body of POST /api/accounts (`role` needs an operator). */
export type NewAccount = FromSchema<NewAccountSchema>;
/** One entry of GET /api/bans, and the answer to POST /api/bans. */
export type Ban = FromSchema<BanSchema>;
/** GET /api/bans. */
export interface BanList {
  bans: Ban[];
}
/** The body of POST /api/bans: exactly one of ip, cidr, name, account, with a reason. */
export type NewBan = FromSchema<NewBanSchema>;
/** One entry of GET /api/audit (oldest first in the answer). */
export type AuditEntry = FromSchema<AuditEntrySchema>;
/** GET /api/audit. */
export interface AuditLog {
  entries: AuditEntry[];
}
/** One entry of GET /api/clients/:id/traffic (a device's recent traffic, oldest first). */
export type TrafficEntry = FromSchema<typeof trafficEntry>;
/** GET /api/clients/:id/traffic?format=json. */
export interface TrafficPage {
  entries: TrafficEntry[];
  /** How many entries the gateway keeps per device. */
  cap: number;
  /** The sequence number the log's next entry will get. */
  next: number;
}
/** One entry of GET /api/rules, and the answer to POST /api/rules. */
export type Rule = FromSchema<typeof rule>;
/** The body of POST /api/rules. */
export type NewRule = FromSchema<typeof ruleBody>;
/** GET /api/rules. */
export interface RuleList {
  rules: Rule[];
}
/** One entry of GET /api/macros, and the answer to POST /api/macros. */
export type Macro = FromSchema<typeof macro>;
/** The body of POST /api/macros. */
export type NewMacro = FromSchema<typeof macroBody>;
/** GET /api/macros. */
export interface MacroList {
  macros: Macro[];
}

/** GET /api/config. */
export type ServerConfig = FromSchema<typeof serverConfig>;
/** GET /api/stats (admin): process figures, connections now, running totals. */
export type ServerStats = FromSchema<typeof serverStats>;
/** GET /api/stats/history (admin): a reading a second for the last minutes, oldest first. */
export type StatsHistory = FromSchema<typeof statsHistory>;
