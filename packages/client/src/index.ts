export {
  SwitchboardClient,
  connect,
  type ConnectOptions,
  type CloseInfo,
  type HistoryQuery,
  type SendFileOptions,
  type SentFile,
  type JoinReply,
  type SwitchboardClientEvents,
  type WelcomeMessage,
  type ChatMessage,
  type PrivateMessage,
  type PresenceMessage,
  type RosterReply,
  type NoticeMessage,
  type ErrorMessage,
  type RoomsReply,
  type HistoryReply,
  type FileOfferMessage,
  type ServerMessageType,
} from './switchboard-client.js';
export { ClientError, ClientErrorCodes, type ClientErrorCode } from './client-errors.js';
export type { FileProgress, FileSaved, FileAborted } from './file-receiver.js';
export {
  sanitizeFileName,
  safeFileName,
  createUniqueFile,
  numberedName,
  MAX_FILE_NAME_BYTES,
  FALLBACK_FILE_NAME,
  type UniqueFile,
} from './safe-file-name.js';
