import { FrameType, PROTOCOL_VERSION } from './frame-types.js';
import { ProtocolError, isErrorCode, type ErrorCode } from './errors.js';
import { arr, bool, obj, oneOf, opt, str, u32, uint, type Check } from './shape.js';

// ---------------------------------------------------------------------------------------
// Bodies. Each JSON frame type has one shape per direction; the TypeScript types below are
// derived from these checks so the two cannot drift.
// ---------------------------------------------------------------------------------------

export const transports = ['tcp', 'ws'] as const;
export type Transport = (typeof transports)[number];

const memberInfo = obj({
  id: str,
  name: str,
  transport: oneOf(...transports),
  address: str,
  /** True when the member never sent hello (a plain device named by its address). */
  legacy: opt(bool),
});
export type MemberInfo = ReturnType<typeof memberInfo>;

const chatEntry = obj({ id: uint, room: str, from: str, transport: oneOf(...transports), ts: uint, text: str });
const privateEntry = obj({ id: uint, from: str, to: str, transport: oneOf(...transports), ts: uint, text: str });
const fileEntry = obj({
  id: uint,
  from: str,
  transport: oneOf(...transports),
  ts: uint,
  name: str,
  size: uint,
  mime: str,
  sha256: opt(str),
  room: opt(str),
  to: opt(str),
});
export type ChatEntry = ReturnType<typeof chatEntry>;
export type PrivateEntry = ReturnType<typeof privateEntry>;
export type FileEntry = ReturnType<typeof fileEntry>;

/** A stored message as history returns it: `kind` tells which of the three it is. */
export type HistoryEntry =
  | ({ kind: 'message' } & ChatEntry)
  | ({ kind: 'private' } & PrivateEntry)
  | ({ kind: 'file' } & FileEntry);
const historyEntry: Check<HistoryEntry> = (v, p) => {
  const kind = oneOf('message', 'private', 'file')((v as { kind?: unknown } | null)?.kind, `${p}.kind`);
  if (kind === 'message') return { kind, ...chatEntry(v, p) };
  if (kind === 'private') return { kind, ...privateEntry(v, p) };
  return { kind, ...fileEntry(v, p) };
};

const errorCode: Check<ErrorCode> = (v, p) => {
  if (isErrorCode(v)) return v;
  throw new ProtocolError('INVALID_MESSAGE', `${p} must be a known error code.`);
};

/** Shapes a client sends. */
const clientBodies = {
  hello: obj({ v: uint, name: opt(str), room: opt(str), since: opt(uint) }),
  message: obj({ room: opt(str), text: str }),
  private: obj({ to: str, text: str }),
  roster: obj({ room: opt(str) }),
  join: obj({ room: str }),
  leave: obj({ room: str }),
  rooms: obj({}),
  nick: obj({ name: str }),
  history: obj({ room: opt(str), with: opt(str), private: opt(bool), before: opt(uint), after: opt(uint), limit: opt(uint) }),
  'file-offer': obj({ transfer: u32, name: str, size: uint, mime: opt(str), room: opt(str), to: opt(str) }),
  'file-end': obj({ transfer: u32, sha256: str }),
  'file-abort': obj({ transfer: u32, reason: opt(str) }),
};

/** Shapes a server sends. */
const serverBodies = {
  welcome: obj({
    v: uint,
    id: str,
    name: str,
    room: str,
    rooms: arr(str),
    server: str,
    maxFrameLength: uint,
    maxFileBytes: uint,
    heartbeatMs: uint,
  }),
  message: chatEntry,
  private: privateEntry,
  presence: obj({
    room: str,
    event: oneOf('join', 'leave', 'rename'),
    member: memberInfo,
    /** Why a member left: `left`, `quit`, `kicked`, `timeout`, `overflow`, `shutdown`. */
    reason: opt(str),
    previousName: opt(str),
    ts: uint,
  }),
  roster: obj({ room: str, members: arr(memberInfo) }),
  notice: obj({ text: str, ts: uint, room: opt(str), private: opt(bool), code: opt(errorCode) }),
  error: obj({ code: errorCode, message: str, fatal: opt(bool) }),
  rooms: obj({ rooms: arr(obj({ name: str, members: uint })) }),
  history: obj({ room: opt(str), with: opt(str), private: opt(bool), entries: arr(historyEntry), more: bool }),
  'file-offer': obj({
    transfer: u32,
    id: uint,
    from: str,
    transport: oneOf(...transports),
    ts: uint,
    name: str,
    size: uint,
    mime: str,
    room: opt(str),
    to: opt(str),
  }),
  'file-end': obj({ transfer: u32, sha256: str }),
  'file-abort': obj({ transfer: u32, code: errorCode, reason: str }),
};

type Tagged<B> = { [K in keyof B]: { type: K } & (B[K] extends Check<infer T> ? T : never) }[keyof B];

/** Frames whose payload is raw bytes, not JSON; the same in both directions. */
export type TextMessage = { type: 'text'; text: string };
export type FileDataMessage = { type: 'file-data'; transfer: number; data: Uint8Array };
export type PingMessage = { type: 'ping'; data: Uint8Array };
export type PongMessage = { type: 'pong'; data: Uint8Array };
type RawMessage = TextMessage | FileDataMessage | PingMessage | PongMessage;

export type ClientMessage = RawMessage | Tagged<typeof clientBodies>;
export type ServerMessage = RawMessage | Tagged<typeof serverBodies>;
export type AnyMessage = ClientMessage | ServerMessage;
export type ClientMessageOf<T extends ClientMessage['type']> = Extract<ClientMessage, { type: T }>;
export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** The type byte of each message type. */
export const messageTypeCode = {
  text: FrameType.Text,
  'file-data': FrameType.FileData,
  hello: FrameType.Hello,
  welcome: FrameType.Welcome,
  message: FrameType.Message,
  private: FrameType.Private,
  presence: FrameType.Presence,
  roster: FrameType.Roster,
  notice: FrameType.Notice,
  error: FrameType.Error,
  ping: FrameType.Ping,
  pong: FrameType.Pong,
  join: FrameType.Join,
  leave: FrameType.Leave,
  rooms: FrameType.Rooms,
  nick: FrameType.Nick,
  history: FrameType.History,
  'file-offer': FrameType.FileOffer,
  'file-end': FrameType.FileEnd,
  'file-abort': FrameType.FileAbort,
} as const satisfies Record<AnyMessage['type'], number>;

export type MessageType = keyof typeof messageTypeCode;

const typeByCode: (MessageType | undefined)[] = [];
for (const [name, code] of Object.entries(messageTypeCode)) typeByCode[code] = name as MessageType;

// ---------------------------------------------------------------------------------------
// Encoding: one path. Every frame is built by encodeFrame().
// ---------------------------------------------------------------------------------------

const utf8 = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF as text: stripping it would change what the sender said.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Builds `u32be N | type | payload` where N = 1 + payload length. A type that is not a
 * byte, or a frame too long for the length prefix, is a RangeError: those are bugs in the
 * caller, and writing them would corrupt the stream.
 */
export function encodeFrame(type: number, payload: Uint8Array, payloadPrefix?: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new RangeError(`Frame type must be an integer from 0 to 255, got ${String(type)}.`);
  }
  const prefixLength = payloadPrefix?.length ?? 0;
  const n = 1 + prefixLength + payload.length;
  if (n > 0xffffffff) throw new RangeError(`Frame length ${n} does not fit the 4-byte length prefix.`);
  const frame = new Uint8Array(4 + n);
  frame[0] = n >>> 24;
  frame[1] = (n >>> 16) & 0xff;
  frame[2] = (n >>> 8) & 0xff;
  frame[3] = n & 0xff;
  frame[4] = type;
  if (payloadPrefix) frame.set(payloadPrefix, 5);
  frame.set(payload, 5 + prefixLength);
  return frame;
}

/** Encodes a message as one whole frame, length prefix included. */
export function encodeMessage(message: AnyMessage): Uint8Array {
  switch (message.type) {
    case 'text':
      return encodeFrame(FrameType.Text, utf8.encode(message.text));
    case 'file-data':
      return encodeFrame(FrameType.FileData, message.data, u32be(message.transfer));
    case 'ping':
      return encodeFrame(FrameType.Ping, message.data);
    case 'pong':
      return encodeFrame(FrameType.Pong, message.data);
    default: {
      const { type, ...body } = message;
      return encodeFrame(messageTypeCode[type], utf8.encode(JSON.stringify(body)));
    }
  }
}

function u32be(value: number): Uint8Array {
  // Out-of-range ids would otherwise wrap silently and name another transfer.
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`Transfer id must be an integer from 0 to 4294967295, got ${value}.`);
  }
  return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}

// ---------------------------------------------------------------------------------------
// Decoding: a frame's type and payload (from FrameDecoder) into a checked message.
// Every failure is a ProtocolError with a stable code; nothing else is thrown.
// ---------------------------------------------------------------------------------------

/** Decodes a frame sent by a client. Throws ProtocolError on a bad frame. */
export function decodeClientMessage(type: number, payload: Uint8Array): ClientMessage {
  return decode(type, payload, clientBodies) as ClientMessage;
}

/** Decodes a frame sent by a server. Throws ProtocolError on a bad frame. */
export function decodeServerMessage(type: number, payload: Uint8Array): ServerMessage {
  return decode(type, payload, serverBodies) as ServerMessage;
}

function decode(type: number, payload: Uint8Array, bodies: Record<string, Check<object>>): AnyMessage {
  const name = typeByCode[type];
  if (name === undefined) {
    throw new ProtocolError('UNKNOWN_TYPE', `Type byte 0x${hex(type)} is not defined by this protocol.`);
  }
  switch (name) {
    case 'text':
      return { type: 'text', text: decodeUtf8(payload) };
    case 'file-data': {
      if (payload.length < 4) throw new ProtocolError('INVALID_MESSAGE', 'File data needs a 4-byte transfer id.');
      const transfer = ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0;
      return { type: 'file-data', transfer, data: payload.subarray(4) };
    }
    case 'ping':
    case 'pong':
      return { type: name, data: payload };
  }
  const check = bodies[name];
  if (check === undefined) {
    throw new ProtocolError('UNEXPECTED_TYPE', `A ${name} frame (0x${hex(type)}) is not sent in this direction.`);
  }
  const text = decodeUtf8(payload);
  let json: unknown;
  if (text.length === 0) json = {};
  else {
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new ProtocolError('INVALID_JSON', `The ${name} payload is not valid JSON.`, { cause });
    }
  }
  return { type: name, ...check(json, '') } as AnyMessage;
}

/** Strict UTF-8 decode: malformed bytes are an INVALID_UTF8 error, never U+FFFD. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch (cause) {
    throw new ProtocolError('INVALID_UTF8', 'Payload is not valid UTF-8.', { cause });
  }
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

// ---------------------------------------------------------------------------------------
// Names shared by every side, so a client can check before it asks.
// ---------------------------------------------------------------------------------------

const NAME_PATTERN = /^[\p{L}\p{N}_.-]{1,32}$/u;

/** Member and room names: 1-32 letters, digits, "_", "-" or ".". */
export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

export const DEFAULT_ROOM = 'lobby';
export { PROTOCOL_VERSION };
