import path from 'node:path';
import type { HistoryEntry, MemberInfo } from '@switchboard/protocol';
import type { FileSaved } from './file-receiver.js';
import type { ChatMessage, FileOfferMessage, NoticeMessage, PresenceMessage, PrivateMessage, RoomsReply, RosterReply } from './client-types.js';

// How the command line shows what the server says. Everything a peer wrote goes through
// printable() first: chat text must not be able to move the cursor, clear the screen or
// fake a line from someone else.

// Controls other than tab (ESC included, so no ANSI sequences) and bidi overrides.
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

export function printable(text: string): string {
  return text.replace(/\r\n|\r|\n|\u2028|\u2029/g, ' ↵ ').replace(UNPRINTABLE, '');
}

/** HH:MM:SS in local time. */
export function clock(ts: number): string {
  const d = new Date(ts);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** `[12:00:00] alice: hi`, with `[room] ` when the message is not from the current room. */
export function formatChat(message: Pick<ChatMessage, 'ts' | 'room' | 'from' | 'text'>, currentRoom: string | null): string {
  const where = currentRoom !== null && message.room.toLowerCase() === currentRoom.toLowerCase() ? '' : `[${printable(message.room)}] `;
  return `[${clock(message.ts)}] ${where}${printable(message.from)}: ${printable(message.text)}`;
}

/** `[12:00:00] [private] alice → bob: hi` */
export function formatPrivate(message: Pick<PrivateMessage, 'ts' | 'from' | 'to' | 'text'>): string {
  return `[${clock(message.ts)}] [private] ${printable(message.from)} → ${printable(message.to)}: ${printable(message.text)}`;
}

/** `* bob joined lobby`, `* bob left lobby (quit)`, `* bob is now alice`. */
export function formatPresence(presence: PresenceMessage): string {
  const who = printable(presence.member.name);
  const room = printable(presence.room);
  switch (presence.event) {
    case 'join':
      return `* ${who} joined ${room}`;
    case 'leave':
      return `* ${who} left ${room}${presence.reason && presence.reason !== 'left' ? ` (${printable(presence.reason)})` : ''}`;
    case 'rename':
      return `* ${printable(presence.previousName ?? '?')} is now ${who}`;
  }
}

export function formatNotice(notice: NoticeMessage): string {
  return `* server: ${printable(notice.text)}`;
}

export function formatMember(member: MemberInfo): string {
  const notes = [member.transport === 'ws' ? 'browser' : '', member.legacy ? 'plain' : ''].filter(Boolean);
  return printable(member.name) + (notes.length ? ` (${notes.join(', ')})` : '');
}

/** `* in lobby: alice, bob (browser)` */
export function formatRoster(roster: RosterReply): string {
  return `* in ${printable(roster.room)}: ${roster.members.map(formatMember).join(', ') || 'nobody'}`;
}

/** `* rooms: lobby (3), ops (1)` */
export function formatRooms(reply: RoomsReply): string {
  return `* rooms: ${reply.rooms.map((r) => `${printable(r.name)} (${r.members})`).join(', ') || 'none'}`;
}

export function formatFileOffer(offer: Pick<FileOfferMessage, 'from' | 'name' | 'size'>): string {
  return `* ${printable(offer.from)} sent a file: ${printable(offer.name)} (${offer.size} bytes)`;
}

export function formatHistoryEntry(entry: HistoryEntry, currentRoom: string | null): string {
  switch (entry.kind) {
    case 'message':
      return formatChat(entry, currentRoom);
    case 'private':
      return formatPrivate(entry);
    case 'file':
      return `[${clock(entry.ts)}] ${formatFileOffer(entry)}`;
  }
}

/** `* saved report.pdf (48213 bytes, sha256 ok) to downloads/report.pdf` */
export function formatSaved(saved: FileSaved, cwd: string): string {
  const where = saved.path === null ? 'nowhere (no download directory)' : displayPath(saved.path, cwd);
  return `* saved ${printable(saved.name)} (${saved.size} bytes, sha256 ok) to ${printable(where)}`;
}

/** Relative to the working directory when the file is below it. */
export function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

export function percent(done: number, total: number): string {
  return `${total === 0 ? 100 : Math.floor((done / total) * 100)}%`;
}
