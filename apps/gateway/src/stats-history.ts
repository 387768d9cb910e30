import type { Hub } from './hub/hub.js';

// The figures the admin page charts, read once a second into a short ring, so its charts open
// with the last minutes already drawn (GET /api/stats/history) instead of empty.

/** One reading of what the charts draw: connections and queued bytes now, running totals since the start. */
export interface StatsReading {
  /** When it was read (ms since the epoch). */
  at: number;
  connections: { tcp: number; ws: number };
  framesIn: { tcp: number; ws: number };
  deliveries: { tcp: number; ws: number };
  queuedBytes: number;
  errorsSent: number;
}

/** What the charts draw, read from the hub now. */
export function readStats(hub: Hub, at = Date.now()): StatsReading {
  let queuedBytes = 0;
  const connections = { tcp: 0, ws: 0 };
  for (const member of hub.members.values()) {
    queuedBytes += hub.delivery.queuedFor(member);
    connections[member.transport]++;
  }
  return {
    at,
    connections,
    framesIn: { ...hub.totals.framesIn },
    deliveries: { ...hub.totals.framesOut },
    queuedBytes,
    errorsSent: hub.totals.errorsSent,
  };
}

/** Readings every `everyMs`, the newest `keep` of them (10 minutes at one a second). */
export class StatsHistory {
  readonly #readings: StatsReading[] = [];
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly read: () => StatsReading,
    readonly everyMs = 1_000,
    readonly keep = 600,
  ) {}

  start(): void {
    if (this.#timer !== null) return;
    this.record();
    this.#timer = setInterval(() => this.record(), this.everyMs);
    this.#timer.unref(); // Never what keeps the process alive.
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Takes one reading now; the oldest falls out past `keep`. */
  record(): void {
    this.#readings.push(this.read());
    if (this.#readings.length > this.keep) this.#readings.splice(0, this.#readings.length - this.keep);
  }

  /** Oldest first. */
  readings(): readonly StatsReading[] {
    return this.#readings;
  }
}
