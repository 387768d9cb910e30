// JSON schemas of the settings an operator gives: over REST (routes/schemas.ts serves them), in
// the config file (config-file.ts) and in the stored files (devices/device-settings.ts).
// Plain data and no imports: the page derives its REST types from them (routes/api-types.ts).

/** The device options of listeners and outbound links (REST bodies, the stored files, --listen queries). */
export const deviceOptionsSchema = {
  framing: { type: 'string', enum: ['frame', 'line', 'raw'] },
  room: { type: 'string', minLength: 1, maxLength: 32 },
  delimiter: { type: 'string', minLength: 1, maxLength: 64 },
  maxLineBytes: { type: 'integer', minimum: 1, maximum: 1048576 },
  idleFlushMs: { type: 'integer', minimum: 0, maximum: 3600000 },
  encoding: { type: 'string', enum: ['utf8', 'latin1'] },
  idleMs: { type: 'integer', minimum: 1, maximum: 60000 },
  fixedLength: { type: ['integer', 'null'], minimum: 1, maximum: 1048576 },
  typeByte: { type: 'boolean' },
  senderPrefix: { type: 'boolean' },
  idleTimeoutMs: { type: 'integer', minimum: 0, maximum: 86400000 },
  /** Whose words in its room a device hears (docs/devices.md, "Who a device hears"). */
  hears: { type: 'string', enum: ['people', 'everyone', 'addressed'] },
  /** Presence, server notices and error lines reach the device too. */
  notices: { type: 'boolean' },
  /** Messages a second it may send, and at once; past it the device is paused, not cut. */
  rate: {
    type: 'object',
    properties: { perSecond: { type: 'integer', minimum: 1, maximum: 100000 }, burst: { type: 'integer', minimum: 1, maximum: 100000 } },
    additionalProperties: false,
  },
} as const;

/** Who may join a room, read its history and speak in it (docs/identity-and-security.md, "Rooms and who may use them"). */
export const roomAccessBody = {
  type: 'object',
  properties: {
    access: { type: 'string', enum: ['anyone', 'accounts', 'operators', 'named'] },
    /** With `named`: the accounts it admits (operators always are). */
    accounts: { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[\\p{L}\\p{N}_.-]{1,32}$' } },
  },
  required: ['access'],
  additionalProperties: false,
} as const;

/** A new listener: where, how framed, which room; every device option has a default. */
export const listenerBody = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$' },
    host: { type: 'string', minLength: 1, maxLength: 255 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    backlog: { type: 'integer', minimum: 1, maximum: 65535 },
    tls: { type: 'boolean' },
    ...deviceOptionsSchema,
  },
  required: ['port'],
  additionalProperties: false,
} as const;

/** A device that is a TCP server, for the gateway to dial. */
export const deviceBody = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$' },
    name: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[\\p{L}\\p{N}_.-]{1,32}$' },
    host: { type: 'string', minLength: 1, maxLength: 255 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    ...deviceOptionsSchema,
  },
  required: ['name', 'host', 'port'],
  additionalProperties: false,
} as const;
