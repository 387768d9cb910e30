import { FrameType, PROTOCOL_VERSION } from './frame-types.js';
import { ProtocolError, isErrorCode, type ErrorCode } from './errors.js';
import { readU32BE, u32be, utf8Length, writeU32BE } from './bytes.js';
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
  /** True for a device on a `line` or `raw` listener or an outbound device link (its link speaks for it). */
  device: opt(bool),
});
export type MemberInfo = ReturnType<typeof memberInfo>;

/**
 * Bytes that are not text travel byte-exact as base64 in `data`; `text` is then their UTF-8
 * reading (U+FFFD where they are not UTF-8), for display only.
 */
const base64: Check<string> = (v, p) => {
  if (typeof v === 'string' && v.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(v)) return v;
  throw new ProtocolError('INVALID_MESSAGE', `${p} must be base64 (RFC 4648, with padding).`);
};

const chatFields = { id: uint, room: str, from: str, transport: oneOf(...transports), ts: uint, text: str, data: opt(base64) };
const privateFields = { id: uint, from: str, to: str, transport: oneOf(...transports), ts: uint, text: str, data: opt(base64) };
const chatEntry = obj(chatFields);
const privateEntry = obj(privateFields);
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
export type HistoryEntry = ({ kind: 'message' } & ChatEntry) | ({ kind: 'private' } & PrivateEntry) | ({ kind: 'file' } & FileEntry);
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

/** Longest `ref` a client may attach to a request. */
export const MAX_REF_LENGTH = 64;

/** A client's label for one request, repeated in every reply and error that request causes. */
const ref: Check<string> = (v, p) => {
  if (isRef(v)) return v;
  throw new ProtocolError('INVALID_MESSAGE', `${p} must be a string of 1 to ${MAX_REF_LENGTH} characters.`);
};

/** A client request: its fields, plus the optional `ref`. */
function request<F extends Parameters<typeof obj>[0]>(fields: F) {
  return obj({ ...fields, ref: opt(ref) });
}

/** A server frame that may answer a request: its fields, plus the `ref` it repeats. */
function reply<F extends Parameters<typeof obj>[0]>(fields: F) {
  return obj({ ...fields, ref: opt(str) });
}

/** Shapes a client sends. */
const clientBodies = {
  hello: request({ v: uint, name: opt(str), room: opt(str), since: opt(uint), password: opt(str), token: opt(str) }),
  message: request({ room: opt(str), text: str, data: opt(base64) }),
  private: request({ to: str, text: str, data: opt(base64) }),
  roster: request({ room: opt(str) }),
  join: request({ room: str }),
  leave: request({ room: str }),
  rooms: request({}),
  nick: request({ name: str }),
  history: request({ room: opt(str), with: opt(str), private: opt(bool), before: opt(uint), after: opt(uint), limit: opt(uint) }),
  'file-offer': request({ transfer: u32, name: str, size: uint, mime: opt(str), room: opt(str), to: opt(str) }),
  'file-end': request({ transfer: u32, sha256: str }),
  'file-abort': request({ transfer: u32, reason: opt(str) }),
  search: request({ q: str, room: opt(str), before: opt(uint), limit: opt(uint) }),
};

/** Shapes a server sends. */
const serverBodies = {
  welcome: reply({
    v: uint,
    id: str,
    name: str,
    room: str,
    rooms: arr(str),
    server: str,
    maxFrameLength: uint,
    maxFileBytes: uint,
    heartbeatMs: uint,
    /** Resume token: `hello {token}` reclaims this name and its private history. */
    token: opt(str),
    /** The name is a registered account (signed in with its password or its token). */
    account: opt(bool),
    /** `admin` for an operator's account. */
    role: opt(oneOf('user', 'admin')),
  }),
  message: reply(chatFields),
  private: reply(privateFields),
  presence: reply({
    room: str,
    event: oneOf('join', 'leave', 'rename'),
    member: memberInfo,
    /** Why a member left: `left`, `quit`, `kicked`, `timeout`, `overflow`, `shutdown`. */
    reason: opt(str),
    previousName: opt(str),
    ts: uint,
  }),
  roster: reply({ room: str, members: arr(memberInfo) }),
  notice: reply({ text: str, ts: uint, room: opt(str), private: opt(bool), code: opt(errorCode) }),
  error: reply({ code: errorCode, message: str, fatal: opt(bool) }),
  rooms: reply({ rooms: arr(obj({ name: str, members: uint })) }),
  history: reply({ room: opt(str), with: opt(str), private: opt(bool), entries: arr(historyEntry), more: bool }),
  'file-offer': reply({
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
  'file-end': reply({ transfer: u32, sha256: str }),
  'file-abort': reply({ transfer: u32, code: errorCode, reason: str }),
  search: reply({ q: str, room: opt(str), entries: arr(historyEntry), more: bool }),
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
  search: FrameType.Search,
} as const satisfies Record<AnyMessage['type'], number>;

export type MessageType = keyof typeof messageTypeCode;

const typeByCode: (MessageType | undefined)[] = [];
for (const [name, code] of Object.entries(messageTypeCode)) typeByCode[code] = name as MessageType;

// ---------------------------------------------------------------------------------------
// Encoding: one path. Every frame's header is written by emptyFrame().
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
  const prefixLength = payloadPrefix?.length ?? 0;
  const frame = emptyFrame(type, prefixLength + payload.length);
  if (payloadPrefix) frame.set(payloadPrefix, 5);
  frame.set(payload, 5 + prefixLength);
  return frame;
}

/** A frame whose payload is `text` in UTF-8, encoded straight into it (no payload buffer to copy). */
function encodeTextFrame(type: number, text: string): Uint8Array {
  // Most JSON is ASCII: one UTF-8 byte per character, so the frame is sized by the length.
  const guess = emptyFrame(type, text.length);
  const { read, written } = utf8.encodeInto(text, guess.subarray(5));
  if (read === text.length) return guess;
  // Not all ASCII: the part encoded so far is kept and the rest is counted, for an exact frame.
  const frame = emptyFrame(type, written + utf8Length(text, read));
  frame.set(guess.subarray(5, 5 + written), 5);
  utf8.encodeInto(text.slice(read), frame.subarray(5 + written));
  return frame;
}

/** `u32be N | type` and room for the payload: the one place a frame's header is written. */
function emptyFrame(type: number, payloadLength: number): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new RangeError(`Frame type must be an integer from 0 to 255, got ${String(type)}.`);
  }
  const n = 1 + payloadLength;
  if (n > 0xffffffff) throw new RangeError(`Frame length ${n} does not fit the 4-byte length prefix.`);
  const frame = new Uint8Array(4 + n);
  writeU32BE(frame, 0, n);
  frame[4] = type;
  return frame;
}

/** Encodes a message as one whole frame, length prefix included. */
export function encodeMessage(message: AnyMessage): Uint8Array {
  switch (message.type) {
    case 'text':
      return encodeTextFrame(FrameType.Text, message.text);
    case 'file-data':
      return encodeFrame(FrameType.FileData, message.data, u32be(message.transfer));
    case 'ping':
      return encodeFrame(FrameType.Ping, message.data);
    case 'pong':
      return encodeFrame(FrameType.Pong, message.data);
    default: {
      const { type, ...body } = message;
      return encodeTextFrame(messageTypeCode[type], JSON.stringify(body));
    }
  }
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
      const transfer = readU32BE(payload, 0);
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
  try {
    return { type: name, ...check(json, '') } as AnyMessage;
  } catch (error) {
    // A request whose body is wrong still gets its ref back, when the ref itself is sound.
    if (error instanceof ProtocolError) error.ref ??= refOf(json);
    throw error;
  }
}

/** The `ref` of a JSON body, when it is a sound one. */
function refOf(json: unknown): string | undefined {
  const value = typeof json === 'object' && json !== null ? (json as { ref?: unknown }).ref : undefined;
  return isRef(value) ? value : undefined;
}

function isRef(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= MAX_REF_LENGTH;
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
/** Characters that draw nothing (U+3164 HANGUL FILLER is a letter, yet invisible): a name with one could pose as another. */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/** Member and room names: see NAME_RULE. */
export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && !INVISIBLE.test(name);
}

export const DEFAULT_ROOM = 'lobby';
export { PROTOCOL_VERSION };
