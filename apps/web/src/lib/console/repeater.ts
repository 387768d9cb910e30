// A timed send: the same bytes every `everyMs`, `times` times or until stopped. The first goes at
// once. Each next one is due at start + k·everyMs (not "everyMs after the last one ran"), so a
// slow tab does not stretch the period; a tick that comes late sends once, not a burst.

export interface RepeatOptions {
  everyMs: number;
  /** How many sends in all; null: until stopped. */
  times: number | null;
  /** One send; false when it could not go (the device went away): the repeat stops. */
  send: () => boolean;
  /** After every send and at the stop. */
  onChange?: (repeater: Repeater) => void;
  /** Defaults to globalThis timers (tests pass fakes). */
  timers?: { setTimeout: (fn: () => void, ms: number) => unknown; clearTimeout: (id: unknown) => void; now: () => number };
}

export type RepeatEnd = 'done' | 'stopped' | 'failed' | 'left';

export const MIN_REPEAT_MS = 10;

export class Repeater {
  readonly everyMs: number;
  readonly times: number | null;
  #sent = 0;
  #running = false;
  #end: RepeatEnd | null = null;
  #timer: unknown = null;
  #startedAt = 0;
  readonly #options: RepeatOptions;
  readonly #timers: NonNullable<RepeatOptions['timers']>;

  constructor(options: RepeatOptions) {
    this.everyMs = Math.max(MIN_REPEAT_MS, Math.floor(options.everyMs));
    this.times = options.times === null ? null : Math.max(1, Math.floor(options.times));
    this.#options = options;
    this.#timers = options.timers ?? {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (id) => globalThis.clearTimeout(id as ReturnType<typeof setTimeout>),
      now: () => performance.now(),
    };
  }

  get sent(): number {
    return this.#sent;
  }
  get running(): boolean {
    return this.#running;
  }
  /** Why it ended, once it has. */
  get end(): RepeatEnd | null {
    return this.#end;
  }

  start(): void {
    if (this.#running || this.#end !== null) return;
    this.#running = true;
    this.#startedAt = this.#timers.now();
    this.#tick();
  }

  stop(why: Exclude<RepeatEnd, 'done' | 'failed'> = 'stopped'): void {
    if (!this.#running) return;
    this.#finish(why);
  }

  #tick(): void {
    this.#timer = null;
    if (!this.#running) return;
    if (!this.#options.send()) return this.#finish('failed');
    this.#sent++;
    if (this.times !== null && this.#sent >= this.times) return this.#finish('done');
    this.#options.onChange?.(this);
    const now = this.#timers.now();
    let due = this.#startedAt + this.#sent * this.everyMs;
    if (due <= now) {
      // This tick came a whole period late (a throttled tab): keep the period from now on.
      this.#startedAt += now - due + this.everyMs;
      due = now + this.everyMs;
    }
    this.#timer = this.#timers.setTimeout(() => this.#tick(), due - now);
  }

  #finish(end: RepeatEnd): void {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#running = false;
    this.#end = end;
    this.#options.onChange?.(this);
  }

  /** `3 of 5 sent`, or `12 sent` when it runs until stopped. */
  describe(): string {
    return this.times === null ? `${this.#sent} sent` : `${this.#sent} of ${this.times} sent`;
  }
}
