import { sameName } from './arguments.js';
import type { PresenceMessage, WelcomeMessage } from './client-types.js';

/**
 * Who this client is on the server and where: its name, connection id and rooms, kept up to
 * date from welcome and from the presence frames about itself (join, leave, rename).
 */
export class Membership {
  name: string | null = null;
  id: string | null = null;
  welcome: WelcomeMessage | null = null;
  // The most recently joined last: the last is the current room.
  #rooms: string[] = [];

  /** The current room: where text and say() without a room go. */
  get room(): string | null {
    return this.#rooms.at(-1) ?? null;
  }

  /** The rooms this client is in, the current one last. */
  get rooms(): readonly string[] {
    return [...this.#rooms];
  }

  welcomed(welcome: WelcomeMessage): void {
    this.welcome = welcome;
    this.name = welcome.name;
    this.id = welcome.id;
    this.#rooms = welcome.rooms.filter((r) => !sameName(r, welcome.room));
    this.#rooms.push(welcome.room);
  }

  presence(presence: PresenceMessage): void {
    if (!this.isMe(presence)) return;
    if (presence.event === 'join') this.enter(presence.room);
    else if (presence.event === 'leave') this.#rooms = this.#rooms.filter((r) => !sameName(r, presence.room));
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a newer server may send events this client does not know
    else if (presence.event === 'rename') this.name = presence.member.name;
  }

  /** Makes `room` current (joined, or joined again). */
  enter(room: string): void {
    this.#rooms = this.#rooms.filter((r) => !sameName(r, room));
    this.#rooms.push(room);
  }

  isMe(presence: PresenceMessage): boolean {
    return this.id !== null && presence.member.id === this.id;
  }
}
