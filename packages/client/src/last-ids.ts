import type { HistoryEntry, ServerMessage } from '@switchboard/protocol';

/**
 * The highest message id seen in each room. Ids increase within one room only (PROTOCOL.md §6:
 * with rooms on several Redis shards, each room takes its own), so a client that reconnects
 * resumes each room from its own last id, never from one number across rooms.
 */
export class LastIds {
  readonly #byRoom = new Map<string, number>();

  /** Room → the highest id seen there. */
  get all(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.#byRoom);
  }

  /** Takes the ids of a server message: a room's message or file, or the entries of a room's history. */
  saw(message: ServerMessage): void {
    switch (message.type) {
      case 'message':
        this.#note(message.room, message.id);
        break;
      case 'file-offer':
        if (message.room !== undefined) this.#note(message.room, message.id);
        break;
      case 'history':
        for (const entry of message.entries) this.#entry(entry);
        break;
    }
  }

  #entry(entry: HistoryEntry): void {
    if (entry.kind === 'message') this.#note(entry.room, entry.id);
    else if (entry.kind === 'file' && entry.room !== undefined) this.#note(entry.room, entry.id);
  }

  #note(room: string, id: number): void {
    if (id > (this.#byRoom.get(room) ?? 0)) this.#byRoom.set(room, id);
  }
}
