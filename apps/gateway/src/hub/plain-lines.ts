import { DEFAULT_ROOM } from '@switchboard/protocol';

// The type-0 lines plain devices get instead of structured frames (PROTOCOL.md §2): one home
// for their wording. Lines of rooms other than lobby start with the room's name.

function inRoom(room: string, line: string): string {
  return room === DEFAULT_ROOM ? line : `[${room}] ${line}`;
}

export const plainLines = {
  chat: (room: string, from: string, text: string) => inRoom(room, `${from}: ${text}`),
  join: (room: string, name: string) => inRoom(room, `* ${name} joined`),
  leave: (room: string, name: string, reason: string) => inRoom(room, `* ${name} left (${reason})`),
  rename: (room: string, previousName: string, name: string) => inRoom(room, `* ${previousName} is now ${name}`),
  /** The line for one presence event. */
  presence: (room: string, event: 'join' | 'leave' | 'rename', name: string, extra: { reason?: string | undefined; previousName?: string | undefined }) =>
    event === 'join'
      ? plainLines.join(room, name)
      : event === 'leave'
        ? plainLines.leave(room, name, extra.reason ?? 'left')
        : plainLines.rename(room, extra.previousName ?? '?', name),
  private: (from: string, text: string) => `[private] ${from}: ${text}`,
  notice: (text: string) => `* server: ${text}`,
  file: (from: string, name: string, size: number) => `* ${from} sent a file: ${name} (${size} bytes)`,
};
