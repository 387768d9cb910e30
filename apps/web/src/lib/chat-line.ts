// One line in a conversation as the page keeps it: a stored message or file, or an event
// (presence, a notice). Plain types (no runes), so pure helpers and their tests can use them.
import type { Transport } from '@switchboard/protocol';

/** One line in a conversation. Lines with an `id` are stored messages; the rest are events. */
export type ChatLine =
  | {
      kind: 'message';
      key: string;
      id: number;
      from: string;
      transport: Transport;
      ts: number;
      /** With `bytes`: their UTF-8 reading, U+FFFD where they are not UTF-8 (display only). */
      text: string;
      /** The exact bytes, when they are not UTF-8 (the message's base64 `data`, PROTOCOL.md §4). */
      bytes?: Uint8Array;
    }
  | {
      kind: 'file';
      key: string;
      id: number;
      from: string;
      transport: Transport;
      ts: number;
      name: string;
      size: number;
      mime: string;
      /** From history: whether the transfer completed (the server stores its SHA-256 then). */
      completed?: boolean;
    }
  | {
      kind: 'presence';
      key: string;
      ts: number;
      event: 'join' | 'leave' | 'rename';
      name: string;
      transport: Transport;
      previousName?: string;
      reason?: string;
    }
  | { kind: 'notice'; key: string; ts: number; text: string; scope: 'room' | 'all' | 'private' | 'local'; code?: string };

export type StoredLine = Extract<ChatLine, { id: number }>;
export type MessageLine = Extract<ChatLine, { kind: 'message' }>;
