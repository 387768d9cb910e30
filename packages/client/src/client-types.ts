import type tls from 'node:tls';
import type { ProtocolError, ServerMessage, ServerMessageOf } from '@switchboard/protocol';
import type { FileAborted, FileProgress, FileSaved } from './file-receiver.js';

// The public shapes of the client: options, replies, events. Their own module so the parts
// of the client (session, files, the client itself) share them without importing each other.

export type WelcomeMessage = ServerMessageOf<'welcome'>;
export type ChatMessage = ServerMessageOf<'message'>;
export type PrivateMessage = ServerMessageOf<'private'>;
export type PresenceMessage = ServerMessageOf<'presence'>;
export type RosterReply = ServerMessageOf<'roster'>;
export type NoticeMessage = ServerMessageOf<'notice'>;
export type ErrorMessage = ServerMessageOf<'error'>;
export type RoomsReply = ServerMessageOf<'rooms'>;
export type HistoryReply = ServerMessageOf<'history'>;
export type SearchReply = ServerMessageOf<'search'>;
export type FileOfferMessage = ServerMessageOf<'file-offer'>;
export type ServerMessageType = ServerMessage['type'];

export interface ConnectOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 9000. */
  port?: number;
  /** Name to ask for in hello; without it the server keeps the address name. */
  name?: string;
  /** First room (server default: lobby). */
  room?: string;
  /**
   * The last message id seen in the first room (`lastIds[room]` of an earlier client): its first
   * history is then what that room said since. It covers that room only: `catchUp()` the others.
   */
  since?: number;
  /** The password of a registered `name` (docs/identity-and-security.md, "Identity"). */
  password?: string;
  /**
   * A resume token from an earlier welcome (`client.token`): the same identity again. A token is
   * used once: the welcome brings its successor, which `client.token` then holds (PROTOCOL.md §3).
   */
  token?: string;
  /** Say hello (default). false: a plain device that sends type-0 text and gets text lines. */
  hello?: boolean;
  /** true, or node:tls options (ca, rejectUnauthorized, servername...), to connect over TLS. */
  tls?: boolean | tls.ConnectionOptions;
  /** Where received files are saved. Without it files are verified and dropped; events still fire. */
  downloadDir?: string;
  /** Limit for the TCP (and TLS) connection plus the welcome. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /**
   * How long rooms(), roster(), history(), search(), ping(), say()... wait for their reply, and sendFile()
   * for the server's echo of its offer and for its confirming file-end. Default 30 000 ms.
   */
  requestTimeoutMs?: number;
  /** Largest frame accepted from the server (N, as in PROTOCOL.md §1). Default 16 MiB. */
  maxFrameLength?: number;
}

export interface CloseInfo {
  /** The server's error or notice code (KICKED, HEARTBEAT_TIMEOUT...), a decoder code, or a socket errno. */
  code?: string;
  reason?: string;
  /** Set when the connection ended because of an error. */
  error?: Error;
}

export interface HistoryQuery {
  room?: string;
  /** Only the private conversation with this member. */
  with?: string;
  /** Only private messages and files, to or from you. */
  private?: boolean;
  before?: number;
  after?: number;
  limit?: number;
}

export interface SearchOptions {
  /** Only this room's entries. */
  room?: string;
  /** Hits with smaller ids: the next page (the smallest id of the last reply). */
  before?: number;
  /** Default 20 on the server; more than 100 is taken as 100. */
  limit?: number;
}

export interface SendFileOptions {
  /** Room to offer the file to (default: the current room, as the server sees it). */
  room?: string;
  /** Send to one member instead of a room. */
  to?: string;
  /** MIME type to announce; the server picks one when absent. */
  mime?: string;
  /** Name to announce instead of the file's own base name. */
  name?: string;
  onProgress?: (sent: number, size: number) => void;
  /** Aborting sends file-abort and rejects with FILE_CANCELLED. */
  signal?: AbortSignal;
}

export interface SentFile {
  /** Our transfer id, and the server's (from its file-offer echo and its confirming file-end). */
  transfer: number;
  serverTransfer: number;
  /** The history id of the file announcement. */
  id: number;
  name: string;
  size: number;
  sha256: string;
}

export interface JoinReply {
  roster: RosterReply;
  history: HistoryReply;
}

export interface SwitchboardClientEvents {
  welcome: [WelcomeMessage];
  message: [ChatMessage];
  private: [PrivateMessage];
  presence: [PresenceMessage];
  roster: [RosterReply];
  notice: [NoticeMessage];
  'server-error': [ErrorMessage];
  /** A type-0 text line, what plain devices receive. */
  text: [string];
  'file-offer': [FileOfferMessage];
  'file-progress': [FileProgress];
  'file-saved': [FileSaved];
  'file-aborted': [FileAborted];
  /** The server pinged; the pong has already been sent. */
  ping: [Uint8Array];
  /** A frame that could not be decoded (unknown type, bad JSON...); it was skipped. */
  'protocol-error': [ProtocolError];
  close: [CloseInfo];
  /** Every decoded server message, after its own event. */
  frame: [ServerMessage];
}
