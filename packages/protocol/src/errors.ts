/**
 * Every error code that can travel in an error frame (type 0x09), with what it means.
 * The same codes appear in the gateway's HTTP error bodies. PROTOCOL.md lists this table
 * and a test keeps the two in step.
 */
/** The rule for member and room names, in words: one copy for every message that states it. */
export const NAME_RULE = '1-32 letters, digits, "_", "-" or ".", none of them invisible';

export const ErrorCodes = {
  // Framing: the byte stream itself is wrong. After these the sender's stream cannot be
  // trusted, so the connection is closed.
  FRAME_EMPTY: 'Length prefix is 0; a frame needs at least its type byte.',
  FRAME_TOO_LARGE: 'Length prefix exceeds the maximum frame length.',
  // Content: the frame was read whole, but its body is wrong. The connection stays open.
  UNKNOWN_TYPE: 'The type byte is not one this protocol defines.',
  INVALID_UTF8: 'Text or JSON payload is not valid UTF-8.',
  INVALID_JSON: 'Payload is not valid JSON.',
  INVALID_MESSAGE: 'Payload is valid JSON but not the shape this frame type requires.',
  FRAME_BOUNDARY: 'A WebSocket message must carry exactly one whole frame.',
  UNEXPECTED_TYPE: 'That frame type is not accepted in this direction or at this point.',
  UNSUPPORTED_VERSION: 'The hello asked for a protocol version this server does not speak.',
  // Members and rooms.
  NAME_INVALID: `Names are ${NAME_RULE}.`,
  NAME_TAKEN: 'Another member already uses that name or one that looks like it (names are unique by look-alike key), or an account has registered it.',
  ROOM_INVALID: `Room names are ${NAME_RULE}.`,
  ROOM_NOT_FOUND: 'No such room.',
  NOT_IN_ROOM: 'The member is not in that room.',
  ROOM_FORBIDDEN: 'The room is restricted (accounts, operators or named accounts only): you may not join it, read it, speak in it or address its devices.',
  NO_SUCH_MEMBER: 'No member with that name or id is connected.',
  TEXT_TOO_LONG: 'Message text exceeds the maximum text length.',
  // Identity.
  AUTH_REQUIRED: 'That name is a registered account (or this gateway admits accounts only): sign in with its password or a token.',
  AUTH_FAILED: 'Wrong password, or a token that is unknown or expired.',
  AUTH_RATE_LIMITED: 'Too many failed sign-ins (or admin-token guesses) from this address or for this name; wait and try again.',
  BANNED: 'An administrator banned this address, name or account.',
  SESSION_REPLACED: 'The same identity signed in again elsewhere; this connection was closed.',
  SESSION_REVOKED: "The account's password was reset or the account deleted: its sessions and resume tokens ended; sign in again.",
  NAME_RECLAIMED: 'You held this name as a guest; its registered account signed in, so this connection was closed.',
  // Files.
  FILE_TOO_LARGE: 'The offered file exceeds the maximum file size.',
  FILE_UNKNOWN_TRANSFER: 'No open transfer has that id.',
  FILE_TRANSFER_EXISTS: 'A transfer with that id is already open on this connection.',
  FILE_SIZE_MISMATCH: 'More or fewer bytes arrived than the offer announced.',
  FILE_CHECKSUM_MISMATCH: 'The SHA-256 of the bytes received differs from the one announced.',
  FILE_ABORTED: 'The transfer was abandoned (sender left, receiver too slow, or aborted).',
  TOO_MANY_TRANSFERS: 'Too many open file transfers on this connection.',
  // Limits and liveness.
  RATE_LIMITED: 'Too many frames too fast; this one was dropped.',
  SEND_QUEUE_OVERFLOW: 'The member stopped reading and its send queue passed the limit; disconnected.',
  TOO_MANY_CONNECTIONS: 'The server is at its connection limit.',
  TOO_MANY_CONNECTIONS_FROM_ADDRESS: 'Too many connections from this IP address.',
  HEARTBEAT_TIMEOUT: 'Nothing was heard from the member within the heartbeat timeout.',
  IDLE_TIMEOUT: 'Nothing came from the device within its idle timeout.',
  LINE_TOO_LONG: 'A line was longer than the listener allows; it was cut at the limit.',
  FRAME_TIMEOUT: 'A frame stayed incomplete for longer than the frame timeout (slow sender).',
  KICKED: 'An administrator removed the member.',
  SERVER_SHUTTING_DOWN: 'The gateway is stopping or the listener was stopped.',
  // Several gateways on one Redis.
  CLUSTER_UNAVAILABLE:
    "The gateways cannot reach their shared Redis: the request was not taken (a message was not acknowledged, so send it again later), or a room's history could not be read whole (ask again later).",
  INTERNAL: 'The server failed to handle the request; it has been logged.',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** Codes after which the server closes the connection. */
export const FATAL_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'FRAME_EMPTY',
  'FRAME_TOO_LARGE',
  'UNSUPPORTED_VERSION',
  'SEND_QUEUE_OVERFLOW',
  'TOO_MANY_CONNECTIONS',
  'TOO_MANY_CONNECTIONS_FROM_ADDRESS',
  'HEARTBEAT_TIMEOUT',
  'IDLE_TIMEOUT',
  'FRAME_TIMEOUT',
  'KICKED',
  'BANNED',
  'SESSION_REPLACED',
  'SESSION_REVOKED',
  'NAME_RECLAIMED',
  'SERVER_SHUTTING_DOWN',
]);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCodes, value);
}

/** An error with a stable code, raised by the decoder and by anything that checks messages. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ErrorCode;
  /** The `ref` of the request that caused it, repeated in the error frame. */
  ref: string | undefined;

  constructor(code: ErrorCode, message: string = ErrorCodes[code], options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  get fatal(): boolean {
    return FATAL_ERROR_CODES.has(this.code);
  }
}
