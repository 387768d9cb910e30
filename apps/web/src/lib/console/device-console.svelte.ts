// One device's console: its traffic log, the view over it (text or hex, filter, pause), sending
// and timed repeats. The log is the gateway's, followed by sequence number (LogFollower): what
// the device sent, what it was sent (this page's sends through the raw pipe `/ws/devices/:id`,
// the room's words, auto-replies) and its connection's events, each once, in the order the
// gateway recorded them, so the live view is what a reload shows. The pipe writes; what it
// brings only tells the console to read the log now rather than at the next poll.
//
// Plain devices (members that speak Switchboard's frames without a hello) have no raw pipe: their
// console shows the gateway's log alone (whole frames as they crossed the socket, headers
// included), and sends text as a private notice (POST /api/clients/:id/messages), which the log
// then shows as the frame the device got.
import type { TrafficPage } from '@switchboard/gateway/api-types';
import { formatHex } from '../byte-text.js';
import type { DeviceRow } from './device-rows.js';
import type { DevicesState } from './devices.svelte.js';
import { LogFollower } from './log-follower.js';
import { Repeater, type RepeatEnd } from './repeater.js';
import { makeFilter, type FilterMode, type TrafficFilter } from './traffic-filter.js';
import { itemFromEntry, type TrafficItem } from './traffic-item.js';

/** What one entry keeps of its bytes, as the gateway does (`length` keeps the full count). */
export const ENTRY_BYTES = 4096;
/** Entries kept in the page; past this the oldest go, in steps. */
export const MAX_ITEMS = 50_000;
const POLL_MS = 1000;
/** After the pipe brought bytes or the page sent: the log is read this soon (a few reads become one). */
const SOON_MS = 30;
const POLL_LIMIT = 500;
const PIPE_RETRY_MS = 2000;

export type ViewMode = 'text' | 'hex';
export type PipeState = 'connecting' | 'open' | 'closed' | 'none';

export interface RepeatStatus {
  sent: number;
  times: number | null;
  everyMs: number;
  running: boolean;
  end: RepeatEnd | null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function pipeUrl(id: string, token: string | null): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  return `${scheme}//${location.host}/ws/devices/${encodeURIComponent(id)}${query}`;
}

export class DeviceConsole {
  readonly id: string;
  readonly #owner: DevicesState;
  readonly #initial: DeviceRow;
  #items: TrafficItem[] = [];
  #shown: TrafficItem[] = [];
  #pausedView: TrafficItem[] | null = null;
  #follower = new LogFollower();
  #soonTimer: ReturnType<typeof setTimeout> | null = null;
  #pollAgain = false;
  #overrides = new Map<number, ViewMode>();
  #pollTimer: ReturnType<typeof setInterval> | null = null;
  #pipeTimer: ReturnType<typeof setTimeout> | null = null;
  #seedTimer: ReturnType<typeof setTimeout> | null = null;
  #socket: WebSocket | null = null;
  #polling = false;
  #disposed = false;
  #repeater: Repeater | null = null;

  /** Bumps on every change of the entries or the view. */
  #version = $state(0);
  /** Bumps when the view changed other than by entries added at its end (a full re-layout). */
  #epoch = $state(0);
  #pipe = $state<PipeState>('connecting');
  #pipeNote = $state<string | null>(null);
  #loading = $state(true);
  #logError = $state<string | null>(null);
  #gone = $state(false);
  #mode = $state<ViewMode>('text');
  #paused = $state(false);
  #filterMode = $state<FilterMode>('text');
  #filterText = $state('');
  #filter = $state.raw<TrafficFilter>(makeFilter('text', ''));
  #repeat = $state.raw<RepeatStatus | null>(null);
  #sendError = $state<string | null>(null);

  constructor(owner: DevicesState, row: DeviceRow) {
    this.#owner = owner;
    this.#initial = row;
    this.id = row.id;
  }

  /** The device's row as last polled (kept when it went away). */
  get row(): DeviceRow {
    return this.#owner.row(this.id) ?? this.#initial;
  }
  get name(): string {
    return this.row.name;
  }
  get plain(): boolean {
    return this.#initial.kind === 'plain';
  }
  get version(): number {
    return this.#version;
  }
  get epoch(): number {
    return this.#epoch;
  }
  get pipe(): PipeState {
    return this.#pipe;
  }
  /** Why the pipe is not open, or a remark about this kind of device. */
  get pipeNote(): string | null {
    return this.#pipeNote;
  }
  get loading(): boolean {
    return this.#loading;
  }
  get logError(): string | null {
    return this.#logError;
  }
  /** The member went away (a listener's device that disconnected: a new connection is a new member). */
  get gone(): boolean {
    return this.#gone;
  }
  /** Whether the page can write to the device now. */
  get canSend(): boolean {
    return this.plain ? !this.#gone && this.row.online : this.#pipe === 'open';
  }
  get mode(): ViewMode {
    return this.#mode;
  }
  set mode(mode: ViewMode) {
    if (mode === this.#mode) return;
    this.#mode = mode;
    this.#overrides.clear(); // The switch is for everything: entries toggled one by one follow it again.
    this.#changed(true);
  }
  get paused(): boolean {
    return this.#paused;
  }
  get filterMode(): FilterMode {
    return this.#filterMode;
  }
  get filterText(): string {
    return this.#filterText;
  }
  get filterError(): string | null {
    return this.#filter.ok ? null : this.#filter.error;
  }
  get filterActive(): boolean {
    return this.#filter.ok && this.#filter.active;
  }
  get repeat(): RepeatStatus | null {
    return this.#repeat;
  }
  get sendError(): string | null {
    return this.#sendError;
  }

  /** The entries the log shows now (filtered; frozen while paused). Read `version` to follow it. */
  get view(): readonly TrafficItem[] {
    void this.#version;
    return this.#pausedView ?? this.#shown;
  }
  /** Every entry, filtered or not. */
  get all(): readonly TrafficItem[] {
    void this.#version;
    return this.#items;
  }
  /** What an export holds: every entry, or those the filter lets through (paused or not). */
  get exportable(): readonly TrafficItem[] {
    void this.#version;
    return this.filterActive ? this.#shown : this.#items;
  }
  /** Entries that came in since the pause and are not shown yet. */
  get hiddenByPause(): number {
    void this.#version;
    return this.#pausedView === null ? 0 : this.#shown.length - this.#pausedView.length;
  }

  /** How one entry is shown: its own toggle, or the log's mode. */
  modeOf(item: TrafficItem): ViewMode {
    if (item.direction === 'event') return 'text'; // an event is words, never bytes to dump
    return this.#overrides.get(item.seq) ?? this.#mode;
  }

  toggleItem(item: TrafficItem): void {
    const next: ViewMode = this.modeOf(item) === 'hex' ? 'text' : 'hex';
    if (next === this.#mode) this.#overrides.delete(item.seq);
    else this.#overrides.set(item.seq, next);
    this.#changed(true);
  }

  setFilter(mode: FilterMode, text: string): void {
    this.#filterMode = mode;
    this.#filterText = text;
    const filter = makeFilter(mode, text);
    if (!filter.ok) {
      this.#filter = filter; // The error shows; the log keeps the last filter that worked.
      return;
    }
    this.#filter = filter;
    this.#shown = filter.active ? this.#items.filter(filter.test) : this.#items.slice();
    if (this.#paused) this.#freeze();
    this.#changed(true);
  }

  setPaused(paused: boolean): void {
    if (paused === this.#paused) return;
    this.#paused = paused;
    if (paused) this.#freeze();
    else this.#pausedView = null;
    this.#changed(true);
  }

  /** Forgets the entries in the page (the gateway's log keeps its own). */
  clear(): void {
    this.#items = [];
    this.#shown = [];
    if (this.#paused) this.#pausedView = [];
    this.#overrides.clear();
    this.#changed(true);
  }

  start(): void {
    if (this.plain) {
      this.#pipe = 'none';
      this.#pipeNote =
        'A plain device speaks Switchboard’s frames: it has no raw pipe. Its log is the gateway’s, polled each second: whole frames, 5-byte header included. What you send goes to it as a private notice (text).';
    } else this.#openPipe();
    void this.#seed();
  }

  /** Closes the pipe and stops everything; says how far a running repeat got (null: none was running). */
  dispose(): string | null {
    if (this.#disposed) return null;
    this.#disposed = true;
    const repeater = this.#repeater;
    const stopped = repeater?.running ? (repeater.stop('left'), repeater.describe()) : null;
    if (this.#pollTimer !== null) clearInterval(this.#pollTimer);
    if (this.#pipeTimer !== null) clearTimeout(this.#pipeTimer);
    if (this.#seedTimer !== null) clearTimeout(this.#seedTimer);
    if (this.#soonTimer !== null) clearTimeout(this.#soonTimer);
    const socket = this.#socket;
    this.#socket = null;
    socket?.close(1000, 'The console closed.');
    return stopped;
  }

  /**
   * Writes bytes to the device (through the pipe, or as a notice to a plain device); the log
   * shows them as the gateway wrote them, read at once. False, with `sendError` set, when they could not go.
   */
  send(bytes: Uint8Array): boolean {
    this.#sendError = null;
    if (this.plain) return this.#sendNotice(bytes);
    const socket = this.#socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) {
      this.#sendError = this.#gone ? 'The device is gone: nothing can be sent to it.' : 'The pipe to the device is not open: nothing was sent.';
      return false;
    }
    socket.send(bytes);
    this.#readSoon();
    return true;
  }

  /** Sends `bytes` every `everyMs`, `times` times (null: until stopped). The first goes at once. */
  startRepeat(bytes: Uint8Array, everyMs: number, times: number | null): void {
    this.stopRepeat();
    const copy = bytes.slice();
    const repeater = new Repeater({
      everyMs,
      times,
      send: () => this.send(copy),
      onChange: (r) => {
        this.#repeat = { sent: r.sent, times: r.times, everyMs: r.everyMs, running: r.running, end: r.end };
      },
    });
    this.#repeater = repeater;
    this.#repeat = { sent: 0, times: repeater.times, everyMs: repeater.everyMs, running: true, end: null };
    repeater.start();
  }

  stopRepeat(): void {
    this.#repeater?.stop('stopped');
  }

  dismissRepeat(): void {
    if (this.#repeat?.running) return;
    this.#repeat = null;
  }

  // ---- the log ----

  /** Adds entries (in sequence order; one older than the newest shown goes in its place). */
  #add(items: readonly TrafficItem[]): void {
    if (items.length === 0) return;
    let reordered = false;
    let trimmed = false;
    const filter = this.#filter.ok ? this.#filter : null;
    for (const item of items) {
      reordered = insertBySeq(this.#items, item) || reordered;
      if (filter === null || !filter.active || filter.test(item)) reordered = insertBySeq(this.#shown, item) || reordered;
    }
    if (this.#items.length > MAX_ITEMS * 1.1) {
      const dropped = new Set(this.#items.splice(0, this.#items.length - MAX_ITEMS));
      this.#shown = this.#shown.filter((i) => !dropped.has(i));
      if (this.#pausedView !== null) this.#pausedView = this.#pausedView.filter((i) => !dropped.has(i));
      trimmed = true;
    }
    // While paused the view does not move (unless its oldest entries went): no re-layout.
    this.#changed((reordered && !this.#paused) || trimmed);
  }

  #changed(relayout: boolean): void {
    if (relayout) this.#epoch++;
    this.#version++;
  }

  #freeze(): void {
    this.#pausedView = this.#shown.slice();
  }

  // ---- the gateway's log ----

  async #seed(): Promise<void> {
    this.#seedTimer = null;
    const path = `/api/clients/${encodeURIComponent(this.id)}/traffic`;
    const outcome = await this.#owner.request<TrafficPage>('Read the traffic log', 'GET', path);
    if (this.#disposed) return;
    this.#loading = false;
    if (!outcome.ok) {
      this.#logError = `${outcome.failure.code}: ${outcome.failure.message}`;
      if (outcome.failure.code === 'DEVICE_NOT_FOUND') this.#markGone();
      // The token was refused, the gateway was away: again, until the console closes.
      if (!this.#gone) this.#seedTimer = setTimeout(() => void this.#seed(), PIPE_RETRY_MS);
      return;
    }
    this.#logError = null;
    this.#take(outcome.value);
    this.#pollTimer = setInterval(() => void this.#poll(), POLL_MS);
    void this.#poll(); // what came while the first page was read
  }

  /** The log's entries after the newest shown, page by page, in the gateway's order. */
  async #poll(): Promise<void> {
    if (this.#disposed || this.#follower.last < -1) return;
    if (this.#polling) {
      this.#pollAgain = true; // asked while reading: read once more after
      return;
    }
    this.#polling = true;
    try {
      do {
        this.#pollAgain = false;
        for (;;) {
          const path = `/api/clients/${encodeURIComponent(this.id)}/traffic?after=${this.#follower.last}&limit=${POLL_LIMIT}`;
          const outcome = await this.#owner.request<TrafficPage>('Read the traffic log', 'GET', path);
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- disposed during the await
          if (this.#disposed) return;
          if (!outcome.ok) {
            if (outcome.failure.code === 'DEVICE_NOT_FOUND') this.#markGone();
            else this.#logError = `${outcome.failure.code}: ${outcome.failure.message}`;
            return;
          }
          this.#logError = null;
          this.#take(outcome.value);
          if (outcome.value.entries.length < POLL_LIMIT) break; // else more came than a page holds
        }
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by a notice during the awaits
      } while (this.#pollAgain);
    } finally {
      this.#polling = false;
    }
  }

  #take(page: TrafficPage): void {
    const { fresh, reset } = this.#follower.take(page.entries, page.next);
    if (reset) this.clear(); // a log that went backwards (the gateway lost it): start again from it
    this.#add(fresh.map((e) => itemFromEntry(e)));
  }

  /** Reads the log soon (the pipe brought bytes, the page sent): a burst of reasons is one read. */
  #readSoon(): void {
    if (this.#soonTimer !== null || this.#pollTimer === null) return;
    this.#soonTimer = setTimeout(() => {
      this.#soonTimer = null;
      void this.#poll();
    }, SOON_MS);
  }

  #markGone(): void {
    if (this.row.kind === 'link' && this.row.state !== 'gone') return; // A link's log and pipe come back with it.
    this.#gone = true;
    if (this.#pollTimer !== null) clearInterval(this.#pollTimer);
    this.#pollTimer = null;
    this.#pipeNote = 'The device disconnected. Its log stays here; a new connection from it is a new device in the list.';
  }

  // ---- the raw pipe ----

  #openPipe(): void {
    if (this.#disposed || this.#gone) return;
    this.#pipe = 'connecting';
    let socket: WebSocket;
    try {
      socket = new WebSocket(pipeUrl(this.id, this.#owner.token));
    } catch (error) {
      this.#pipe = 'closed';
      this.#pipeNote = `The pipe could not be opened: ${(error as Error).message}`;
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    socket.onopen = () => {
      if (this.#socket !== socket) return;
      this.#pipe = 'open';
      this.#pipeNote = null;
    };
    socket.onmessage = () => {
      // The gateway recorded these bytes before it sent them here: its log has them now.
      if (this.#socket === socket) this.#readSoon();
    };
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      const wasOpen = this.#pipe === 'open';
      this.#pipe = 'closed';
      if (this.#disposed) return;
      this.#pipeNote = wasOpen
        ? `The pipe closed${event.reason ? `: ${event.reason}` : '.'}`
        : 'The pipe could not be opened: the device is not connected, or the gateway refused the admin token.';
      this.#repeater?.stop('stopped');
      this.#pipeTimer = setTimeout(() => this.#retryPipe(), PIPE_RETRY_MS);
    };
  }

  /** A link redials under the same id; a listener's member that left does not come back. */
  #retryPipe(): void {
    this.#pipeTimer = null;
    if (this.#disposed || this.#gone) return;
    const row = this.row;
    if (row.online) this.#openPipe();
    else this.#pipeTimer = setTimeout(() => this.#retryPipe(), PIPE_RETRY_MS);
  }

  // ---- plain devices ----

  #sendNotice(bytes: Uint8Array): boolean {
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      this.#sendError = `A plain device is sent text: these bytes (${formatHex(bytes.subarray(0, 16))}${bytes.length > 16 ? ' …' : ''}) are not UTF-8.`;
      return false;
    }
    if (!this.canSend) {
      this.#sendError = 'The device is not connected: nothing was sent.';
      return false;
    }
    // Not listed here: the gateway's log shows the frame the device got, read at once.
    void this.#owner
      .request('Send to the device', 'POST', `/api/clients/${encodeURIComponent(this.row.memberId ?? this.id)}/messages`, { text })
      .then((outcome) => {
        if (!outcome.ok) {
          this.#sendError = `${outcome.failure.code}: ${outcome.failure.message}`;
          this.#repeater?.stop('stopped');
        } else this.#readSoon();
      });
    return true;
  }
}

/** Inserts by the gateway's sequence number; true when it did not go at the end. */
export function insertBySeq(list: TrafficItem[], item: TrafficItem): boolean {
  let at = list.length;
  while (at > 0 && list[at - 1]!.seq > item.seq) at--;
  list.splice(at, 0, item);
  return at !== list.length - 1;
}
