// JSON schemas shared by the routes. `as const` lets the type provider derive request types.
// A `title` names a shape in the OpenAPI document (#/components/schemas/<title>, openapi.ts).
// Plain data: the page derives its REST types from this file (api-types.ts). The settings' own
// schemas (device options, listener, device, room access) are in ../settings-schemas.ts.
import { historySettingBody } from '../history/history-setting.js';
import { deviceBody, listenerBody, roomAccessBody } from '../settings-schemas.js';

export { deviceBody, deviceOptionsSchema, listenerBody, roomAccessBody } from '../settings-schemas.js';

/** Every 4xx and 5xx answer (openapi.ts names it ErrorBody, with the error table's codes). */
export const errorBody = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
  required: ['code', 'message'],
  additionalProperties: false,
} as const;

export const listenerStatus = {
  title: 'ListenerStatus',
  type: 'object',
  properties: {
    listening: { type: 'boolean' },
    host: { type: 'string' },
    port: { type: 'integer' },
    backlog: { type: 'integer' },
    tls: { type: 'boolean' },
    since: { type: ['string', 'null'] },
    connections: { type: 'integer' },
    lastError: {
      type: ['object', 'null'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, at: { type: 'string' } },
      required: ['code', 'message', 'at'],
      additionalProperties: false,
    },
  },
  required: ['listening', 'host', 'port', 'backlog', 'tls', 'since', 'connections', 'lastError'],
  additionalProperties: false,
  examples: [{ listening: true, host: '127.0.0.1', port: 9000, backlog: 511, tls: false, since: '2026-11-22T00:03:56.634Z', connections: 1, lastError: null }],
} as const;

export const client = {
  title: 'Client',
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    transport: { type: 'string', enum: ['tcp', 'ws'] },
    address: { type: 'string' },
    rooms: { type: 'array', items: { type: 'string' } },
    connectedAt: { type: 'string' },
    legacy: { type: 'boolean' },
    state: { type: 'string', enum: ['pending', 'joined', 'closed'] },
    /** Devices only: how they are framed, and the listener or outbound link they came through. */
    framing: { type: 'string', enum: ['line', 'raw'] },
    listener: { type: 'string' },
    outbound: { type: 'string' },
    /** The gateway node that holds the connection (several gateways on one Redis). */
    node: { type: 'string' },
    /** Counts are known to the node that holds the connection: absent for members of other nodes. */
    bytesIn: { type: 'integer' },
    bytesOut: { type: 'integer' },
    messagesIn: { type: 'integer' },
    messagesOut: { type: 'integer' },
  },
  required: ['id', 'name', 'transport', 'address', 'rooms', 'connectedAt', 'legacy', 'node'],
  additionalProperties: false,
  examples: [
    {
      id: 'm3',
      name: 'alice',
      transport: 'tcp',
      address: '127.0.0.1:51234',
      rooms: ['lobby'],
      connectedAt: '2026-11-22T00:04:10.002Z',
      legacy: false,
      state: 'joined',
      node: 'local',
      bytesIn: 120,
      bytesOut: 913,
      messagesIn: 3,
      messagesOut: 7,
    },
  ],
} as const;

/** A room as GET /api/rooms shows it: who may use it, and how its messages are kept now (size and TTL filled in for memory). */
export const room = {
  title: 'Room',
  type: 'object',
  properties: { name: { type: 'string' }, members: { type: 'integer' }, ...roomAccessBody.properties, history: historySettingBody },
  required: ['name', 'members', 'access', 'history'],
  additionalProperties: false,
  examples: [{ name: 'lobby', members: 3, access: 'anyone', history: { mode: 'durable' } }],
} as const;

/** Text an operator sends: non-empty, bounded (the hub checks the byte limit too). */
export const operatorText = { type: 'string', minLength: 1, maxLength: 65536 } as const;
export const roomName = { type: 'string', minLength: 1, maxLength: 32 } as const;

export const okId = {
  title: 'OkId',
  type: 'object',
  properties: { ok: { type: 'boolean' }, id: { type: 'string' } },
  required: ['ok', 'id'],
  additionalProperties: false,
  examples: [{ ok: true, id: 'm3' }],
} as const;

/** A stored message; which fields are present depends on `kind` (see PROTOCOL.md §6). */
export const historyEntry = {
  title: 'HistoryEntry',
  type: 'object',
  properties: {
    kind: { type: 'string', enum: ['message', 'private', 'file'] },
    id: { type: 'integer' },
    ts: { type: 'integer' },
    room: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    transport: { type: 'string', enum: ['tcp', 'ws'] },
    text: { type: 'string' },
    data: { type: 'string' },
    name: { type: 'string' },
    size: { type: 'integer' },
    mime: { type: 'string' },
    sha256: { type: 'string' },
  },
  required: ['kind', 'id', 'ts', 'from', 'transport'],
  additionalProperties: false,
  examples: [{ kind: 'message', id: 41, ts: 1795392250002, room: 'lobby', from: 'alice', transport: 'ws', text: 'pump pressure is back to normal' }],
} as const;

export const historyPage = {
  title: 'HistoryPage',
  type: 'object',
  properties: { entries: { type: 'array', items: historyEntry }, more: { type: 'boolean' } },
  required: ['entries', 'more'],
  additionalProperties: false,
  examples: [
    {
      entries: [{ kind: 'message', id: 41, ts: 1795392250002, room: 'lobby', from: 'alice', transport: 'ws', text: 'pump pressure is back to normal' }],
      more: false,
    },
  ],
} as const;

const lastError = {
  type: ['object', 'null'],
  properties: { code: { type: 'string' }, message: { type: 'string' }, at: { type: 'string' } },
  required: ['code', 'message', 'at'],
  additionalProperties: false,
} as const;

export const listenerInfo = {
  title: 'ListenerInfo',
  type: 'object',
  properties: {
    ...listenerBody.properties,
    id: { type: 'string' },
    listening: { type: 'boolean' },
    since: { type: ['string', 'null'] },
    connections: { type: 'integer' },
    lastError,
  },
  required: ['id', 'host', 'port', 'backlog', 'framing', 'room', 'tls', 'listening', 'since', 'connections', 'lastError'],
  additionalProperties: false,
  examples: [
    {
      id: 'sensors',
      host: '0.0.0.0',
      port: 9100,
      backlog: 511,
      framing: 'line',
      room: 'sensors',
      tls: false,
      listening: true,
      since: '2026-11-22T00:03:56.634Z',
      connections: 2,
      lastError: null,
    },
  ],
} as const;

export const deviceInfo = {
  title: 'DeviceInfo',
  type: 'object',
  properties: {
    ...deviceBody.properties,
    id: { type: 'string' },
    state: { type: 'string', enum: ['connecting', 'connected', 'backoff', 'stopped'] },
    memberId: { type: ['string', 'null'] },
    attempts: { type: 'integer' },
    connectedAt: { type: ['string', 'null'] },
    lastError,
    /** In backoff: when it dials again; else null. */
    nextDialAt: { type: ['string', 'null'] },
  },
  required: ['id', 'name', 'host', 'port', 'framing', 'room', 'state', 'memberId', 'attempts', 'connectedAt', 'lastError', 'nextDialAt'],
  additionalProperties: false,
  examples: [
    {
      id: 'd1',
      name: 'plc-1',
      host: '192.0.2.20',
      port: 502,
      framing: 'raw',
      room: 'plant',
      state: 'connected',
      memberId: 'm12',
      attempts: 0,
      connectedAt: '2026-11-22T00:05:00.000Z',
      lastError: null,
      nextDialAt: null,
    },
  ],
} as const;

/** `:id` in a path: a client, listener, device link, rule or macro. */
export const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['id'],
} as const;

/** One entry of a device's traffic log: bytes (in, out), or an event of the connection (its text in `text`). */
export const trafficEntry = {
  title: 'TrafficEntry',
  type: 'object',
  properties: {
    /** Its place in the log, given by the gateway: the order to show entries in. */
    seq: { type: 'integer' },
    ts: { type: 'integer' },
    time: { type: 'string' },
    direction: { type: 'string', enum: ['in', 'out', 'event'] },
    length: { type: 'integer' },
    hex: { type: 'string' },
    text: { type: 'string' },
    auto: { type: 'boolean' },
  },
  required: ['seq', 'ts', 'time', 'direction', 'length', 'hex', 'text', 'auto'],
  additionalProperties: false,
  examples: [{ seq: 17, ts: 1795392250002, time: '2026-11-22T00:04:10.002Z', direction: 'in', length: 6, hex: '4f4b2031320a', text: 'OK 12\n', auto: false }],
} as const;

/** Which devices a rule answers, by what outlives a connection (never a member id: those are reused after a restart). */
const lastingScope = [
  { type: 'string', enum: ['all'] },
  {
    type: 'object',
    properties: {
      listener: { type: 'string', minLength: 1 },
      address: { type: 'string', minLength: 1, maxLength: 64 },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
    },
    required: ['listener'],
    additionalProperties: false,
  },
  { type: 'object', properties: { link: { type: 'string', minLength: 1 } }, required: ['link'], additionalProperties: false },
] as const;

/** As given: `{client: id}` too (a device member or a link, as the console knows it), stored as a listener and address, or a link. */
const ruleScope = {
  anyOf: [...lastingScope, { type: 'object', properties: { client: { type: 'string', minLength: 1 } }, required: ['client'], additionalProperties: false }],
} as const;

const oneString = (key: string) =>
  ({ type: 'object', properties: { [key]: { type: 'string', minLength: 1, maxLength: 1024 } }, required: [key], additionalProperties: false }) as const;

export const ruleBody = {
  title: 'NewRule',
  type: 'object',
  properties: {
    scope: ruleScope,
    match: { anyOf: [oneString('equals'), oneString('contains'), oneString('regex'), oneString('hex')] },
    reply: { anyOf: [{ type: 'string', maxLength: 4096 }, oneString('hex')] },
    delayMs: { type: 'integer', minimum: 0, maximum: 60000 },
    enabled: { type: 'boolean' },
  },
  required: ['scope', 'match', 'reply'],
  additionalProperties: false,
} as const;

export const rule = {
  title: 'Rule',
  type: 'object',
  properties: { id: { type: 'string' }, ...ruleBody.properties, scope: { anyOf: lastingScope } },
  required: ['id', 'scope', 'match', 'reply', 'delayMs', 'enabled'],
  additionalProperties: false,
  examples: [{ id: 'r1', scope: 'all', match: { equals: 'PING' }, reply: 'PONG', delayMs: 0, enabled: true }],
} as const;

export const macroBody = {
  title: 'NewMacro',
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    mode: { type: 'string', enum: ['text', 'hex'] },
    data: { type: 'string', maxLength: 65536 },
    append: { type: 'string', enum: ['none', 'lf', 'crlf', 'cr', 'listener'] },
  },
  required: ['name', 'mode', 'data', 'append'],
  additionalProperties: false,
} as const;

export const macro = {
  title: 'Macro',
  type: 'object',
  properties: { id: { type: 'string' }, ...macroBody.properties },
  required: ['id', 'name', 'mode', 'data', 'append'],
  additionalProperties: false,
  examples: [{ id: 'k1', name: 'status', mode: 'text', data: 'STATUS?', append: 'crlf' }],
} as const;

/** GET /api/config: the limits a client should know. */
export const serverConfig = {
  title: 'ServerConfig',
  type: 'object',
  properties: {
    maxFrameLength: { type: 'integer' },
    maxFileBytes: { type: 'integer' },
    maxTextBytes: { type: 'integer' },
    historyLimit: { type: 'integer' },
    adminTokenRequired: { type: 'boolean' },
    /** Who may register an account (POST /api/accounts): open, admin or closed. */
    registration: { type: 'string', enum: ['open', 'admin', 'closed'] },
    /** Only accounts may join (--require-login). */
    loginRequired: { type: 'boolean' },
  },
  required: ['maxFrameLength', 'maxFileBytes', 'maxTextBytes', 'historyLimit', 'adminTokenRequired', 'registration', 'loginRequired'],
  additionalProperties: false,
  examples: [
    {
      maxFrameLength: 1048576,
      maxFileBytes: 10485760,
      maxTextBytes: 65536,
      historyLimit: 500,
      adminTokenRequired: true,
      registration: 'open',
      loginRequired: false,
    },
  ],
} as const;

const perTransport = {
  type: 'object',
  properties: { tcp: { type: 'integer' }, ws: { type: 'integer' } },
  required: ['tcp', 'ws'],
  additionalProperties: false,
} as const;

/** GET /api/stats/history: the readings the admin page's charts draw, one a second for the last minutes. */
export const statsHistory = {
  title: 'StatsHistory',
  type: 'object',
  properties: {
    everyMs: { type: 'integer', description: 'Milliseconds between two readings' },
    readings: {
      type: 'array',
      description: 'Oldest first; rates are the differences between readings of the running totals',
      items: {
        type: 'object',
        properties: {
          at: { type: 'integer', description: 'When it was read (ms since the epoch)' },
          connections: { ...perTransport, description: 'Members connected then, by transport' },
          framesIn: { ...perTransport, description: 'Frames received from members since the start' },
          deliveries: { ...perTransport, description: 'Frames queued for members since the start' },
          queuedBytes: { type: 'integer', description: 'Bytes queued for members then' },
          errorsSent: { type: 'integer', description: 'Error frames sent since the start' },
        },
        required: ['at', 'connections', 'framesIn', 'deliveries', 'queuedBytes', 'errorsSent'],
        additionalProperties: false,
      },
    },
  },
  required: ['everyMs', 'readings'],
  additionalProperties: false,
  examples: [
    {
      everyMs: 1000,
      readings: [
        {
          at: 1796558400000,
          connections: { tcp: 9, ws: 3 },
          framesIn: { tcp: 4100, ws: 230 },
          deliveries: { tcp: 9800, ws: 2100 },
          queuedBytes: 0,
          errorsSent: 2,
        },
        {
          at: 1796558401000,
          connections: { tcp: 9, ws: 3 },
          framesIn: { tcp: 4160, ws: 236 },
          deliveries: { tcp: 9950, ws: 2130 },
          queuedBytes: 0,
          errorsSent: 2,
        },
      ],
    },
  ],
} as const;

/** GET /api/stats: process figures, connections now and running totals (the admin panel charts their rates). */
export const serverStats = {
  title: 'ServerStats',
  type: 'object',
  properties: {
    members: { type: 'integer' },
    rooms: { type: 'integer' },
    queuedBytes: { type: 'integer' },
    rssBytes: { type: 'integer' },
    heapUsedBytes: { type: 'integer' },
    openDescriptors: { type: 'integer' },
    uptimeMs: { type: 'integer' },
    connections: { type: 'object', properties: { tcp: { type: 'integer' }, ws: { type: 'integer' } }, required: ['tcp', 'ws'], additionalProperties: false },
    framesIn: { type: 'object', properties: { tcp: { type: 'integer' }, ws: { type: 'integer' } }, required: ['tcp', 'ws'], additionalProperties: false },
    deliveries: { type: 'object', properties: { tcp: { type: 'integer' }, ws: { type: 'integer' } }, required: ['tcp', 'ws'], additionalProperties: false },
    errorsSent: { type: 'integer' },
  },
  required: [
    'members',
    'rooms',
    'queuedBytes',
    'rssBytes',
    'heapUsedBytes',
    'openDescriptors',
    'uptimeMs',
    'connections',
    'framesIn',
    'deliveries',
    'errorsSent',
  ],
  additionalProperties: false,
  examples: [
    {
      members: 12,
      rooms: 3,
      queuedBytes: 0,
      rssBytes: 61440000,
      heapUsedBytes: 20971520,
      openDescriptors: 41,
      uptimeMs: 5123,
      connections: { tcp: 9, ws: 3 },
      framesIn: { tcp: 4100, ws: 230 },
      deliveries: { tcp: 9800, ws: 2100 },
      errorsSent: 2,
    },
  ],
} as const;
