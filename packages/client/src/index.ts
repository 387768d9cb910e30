export { SwitchboardClient, connect } from './switchboard-client.js';
export type {
  ConnectOptions,
  CloseInfo,
  HistoryQuery,
  SearchOptions,
  SendFileOptions,
  SentFile,
  JoinReply,
  SwitchboardClientEvents,
  WelcomeMessage,
  ChatMessage,
  PrivateMessage,
  PresenceMessage,
  RosterReply,
  NoticeMessage,
  ErrorMessage,
  RoomsReply,
  HistoryReply,
  SearchReply,
  FileOfferMessage,
  ServerMessageType,
} from './client-types.js';
export { ClientError, ClientErrorCodes, type ClientErrorCode } from './client-errors.js';
export type { FileProgress, FileSaved, FileAborted } from './file-receiver.js';
export { sanitizeFileName, safeFileName, createUniqueFile, numberedName, MAX_FILE_NAME_BYTES, FALLBACK_FILE_NAME, type UniqueFile } from './safe-file-name.js';
