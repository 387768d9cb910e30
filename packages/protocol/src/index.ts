export {
  FrameType,
  frameTypeName,
  PROTOCOL_VERSION,
  LENGTH_PREFIX_BYTES,
  DEFAULT_MAX_FRAME_LENGTH,
  FILE_CHUNK_BYTES,
  type FrameTypeName,
  type FrameTypeCode,
} from './frame-types.js';
export { ErrorCodes, FATAL_ERROR_CODES, NAME_RULE, ProtocolError, isErrorCode, type ErrorCode } from './errors.js';
export { PendingRequests } from './pending-requests.js';
export { readU32BE, writeU32BE, u32be, utf8Length } from './bytes.js';
export { parseEscapes, formatEscapes } from './escapes.js';
export { FrameDecoder, type FrameDecoderOptions, type FrameHandler } from './frame-decoder.js';
export { sanitizeFileName, numberedName, MAX_FILE_NAME_BYTES, FALLBACK_FILE_NAME } from './safe-file-name.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { trafficCsv, TRAFFIC_CSV_HEADER, type TrafficCsvEntry } from './traffic-csv.js';
export {
  encodeFrame,
  encodeMessage,
  decodeClientMessage,
  decodeServerMessage,
  decodeUtf8,
  isValidName,
  MAX_REF_LENGTH,
  messageTypeCode,
  transports,
  DEFAULT_ROOM,
  type AnyMessage,
  type ClientMessage,
  type ClientMessageOf,
  type ServerMessage,
  type ServerMessageOf,
  type MessageType,
  type MemberInfo,
  type ChatEntry,
  type PrivateEntry,
  type FileEntry,
  type HistoryEntry,
  type Transport,
  type TextMessage,
  type FileDataMessage,
} from './messages.js';
