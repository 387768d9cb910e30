// The rooms on the server with their member counts (the rooms panel), from rooms frames. They
// change without presence reaching us (rooms we are not in), so the list is polled too.
import type { ServerMessageOf } from '@switchboard/protocol';
import type { ErrorReporter } from './error-notes.svelte.js';
import type { RequestTracker } from './requests.js';

/** A room on the server, from the last rooms frame. */
export type RoomSummary = ServerMessageOf<'rooms'>['rooms'][number];

const POLL_MS = 5000;
/** Presence comes in bursts (a restart brings everyone back); one rooms frame is enough. */
const BURST_MS = 300;

export class RoomDirectory {
  #requests: RequestTracker;
  #report: ErrorReporter;
  #rooms = $state.raw<RoomSummary[]>([]);
  #pollTimer: ReturnType<typeof setInterval> | null = null;
  #burstTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(requests: RequestTracker, report: ErrorReporter) {
    this.#requests = requests;
    this.#report = report;
  }

  /** Sorted by name. */
  get rooms(): readonly RoomSummary[] {
    return this.#rooms;
  }

  /** Asks for the list now. Nothing to say when the socket is down: it is asked again later. */
  refresh(): void {
    this.#requests.send({ type: 'rooms' }, { error: (error) => this.#report(error.code, error.message) });
  }

  /** Asks for the list shortly, once for a burst of changes. */
  refreshSoon(): void {
    if (this.#burstTimer !== null) return;
    this.#burstTimer = setTimeout(() => {
      this.#burstTimer = null;
      this.refresh();
    }, BURST_MS);
  }

  startPolling(): void {
    this.#pollTimer ??= setInterval(() => this.refresh(), POLL_MS);
  }

  onRooms(message: ServerMessageOf<'rooms'>): void {
    this.#rooms = [...message.rooms].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Stops polling; `forget` also empties the list (signed out). */
  stop(forget = false): void {
    if (this.#pollTimer !== null) clearInterval(this.#pollTimer);
    if (this.#burstTimer !== null) clearTimeout(this.#burstTimer);
    this.#pollTimer = this.#burstTimer = null;
    if (forget) this.#rooms = [];
  }
}
