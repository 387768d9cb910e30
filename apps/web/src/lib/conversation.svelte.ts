// One conversation as the page shows it: a room you are in, or a private conversation with
// one member. Lines are kept in stored-id order, with events (presence, notices) where they
// happened.
import type { HistoryEntry, MemberInfo, Transport } from '@switchboard/protocol';
import type { ChatLine, MessageLine, StoredLine } from './chat-line.js';
import { bytesFromBase64 } from './byte-text.js';

export type { ChatLine, MessageLine, StoredLine } from './chat-line.js';

export type ConversationKind = 'room' | 'private';

let lineCounter = 0;
/** A key for a line that is not a stored message (presence, notices) or for an error note. */
export function eventKey(): string {
  return `e${++lineCounter}`;
}

/** A room you are in, or a private conversation with one member. */
export class Conversation {
  readonly kind: ConversationKind;
  readonly key: string;
  #name = $state('');
  #lines = $state.raw<ChatLine[]>([]);
  #ids = new Set<number>();
  #members = $state.raw<MemberInfo[]>([]);
  #unread = $state(0);
  #hasOlder = $state(false);
  #loadingOlder = $state(false);

  constructor(kind: ConversationKind, key: string, name: string) {
    this.kind = kind;
    this.key = key;
    this.#name = name;
  }

  /** Room name, or the other member's name. */
  get name(): string {
    return this.#name;
  }
  get lines(): readonly ChatLine[] {
    return this.#lines;
  }
  /** The room's members (rooms only), sorted by name. */
  get members(): readonly MemberInfo[] {
    return this.#members;
  }
  get unread(): number {
    return this.#unread;
  }
  /** True while the server says older messages exist than the oldest shown. */
  get hasOlder(): boolean {
    return this.#hasOlder;
  }
  get loadingOlder(): boolean {
    return this.#loadingOlder;
  }
  get oldestId(): number | undefined {
    for (const line of this.#lines) if ('id' in line) return line.id;
    return undefined;
  }

  rename(name: string): void {
    this.#name = name;
  }
  setMembers(members: readonly MemberInfo[]): void {
    this.#members = [...members].sort((a, b) => a.name.localeCompare(b.name));
  }
  upsertMember(member: MemberInfo): void {
    this.setMembers([...this.#members.filter((m) => m.id !== member.id), member]);
  }
  removeMember(id: string): void {
    this.#members = this.#members.filter((m) => m.id !== id);
  }
  setHasOlder(value: boolean): void {
    this.#hasOlder = value;
  }
  setLoadingOlder(value: boolean): void {
    this.#loadingOlder = value;
  }
  clearUnread(): void {
    this.#unread = 0;
  }
  addUnread(count: number): void {
    this.#unread += count;
  }

  /** Appends a live line. Returns false for a stored message already shown. */
  append(line: ChatLine): boolean {
    if ('id' in line) {
      if (this.#ids.has(line.id)) return false;
      this.#ids.add(line.id);
    }
    this.#lines = [...this.#lines, line];
    return true;
  }

  /**
   * Merges stored messages in id order, skipping ones already shown. Events without an id
   * (presence, notices) that happened after a merged message stay after it. Returns those added.
   */
  merge(incoming: StoredLine[]): StoredLine[] {
    const fresh: StoredLine[] = [];
    for (const line of incoming) {
      if (this.#ids.has(line.id)) continue;
      this.#ids.add(line.id);
      fresh.push(line);
    }
    if (fresh.length === 0) return fresh;
    fresh.sort((a, b) => a.id - b.id);
    const lines = [...this.#lines];
    let at = 0;
    for (const line of fresh) {
      // The first stored line with a larger id; ids only grow, so continue from the last spot.
      while (at < lines.length && !isLaterStored(lines[at]!, line.id)) at++;
      let position = at;
      while (position > 0 && !('id' in lines[position - 1]!) && lines[position - 1]!.ts > line.ts) position--;
      lines.splice(position, 0, line);
      at = position + 1;
    }
    this.#lines = lines;
    return fresh;
  }
}

function isLaterStored(line: ChatLine, id: number): boolean {
  return 'id' in line && line.id > id;
}

/** A stored message from a history page, as a line. */
export function lineFromEntry(entry: HistoryEntry): StoredLine {
  const key = `m${entry.id}`;
  if (entry.kind === 'file') {
    const { id, from, transport, ts, name, size, mime } = entry;
    return { kind: 'file', key, id, from, transport, ts, name, size, mime, completed: entry.sha256 !== undefined };
  }
  return messageLine(entry);
}

/** A room or private message (live or stored) as a line; `data` becomes its bytes. */
export function messageLine(message: { id: number; from: string; transport: Transport; ts: number; text: string; data?: string | undefined }): MessageLine {
  const { id, from, transport, ts, text, data } = message;
  const line: MessageLine = { kind: 'message', key: `m${id}`, id, from, transport, ts, text };
  if (data !== undefined) {
    try {
      line.bytes = bytesFromBase64(data);
    } catch {
      // The gateway checks `data` is base64; should it not be, the text reading is all there is.
    }
  }
  return line;
}
